"""Throughput of a config's training data pipeline in one worker, and the masking share."""
import tempfile
import time

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose
from PIL import Image

from mae_mm.datasets.builtin import _photos


def imagenet_like_jpegs(dst: str, count: int = 64) -> list:
    """JPEGs of ImageNet's typical size (500 x 375, quality 90) cut from the built-in photos."""
    files, photos = [], [p for p in _photos() if min(p.shape[:2]) >= 375]
    for i in range(count):
        photo = photos[i % len(photos)]
        y = np.random.randint(0, photo.shape[0] - 375 + 1)
        x = np.random.randint(0, max(photo.shape[1] - 500, 0) + 1)
        path = f'{dst}/img{i:04d}.jpg'
        Image.fromarray(photo[y:y + 375, x:x + 500]).resize((500, 375)).save(path, quality=90)
        files.append(path)
    return files


def pipeline_throughput(cfg: Config, count: int = 64, repeat: int = 3) -> dict:
    """Images per second of ``cfg.train_pipeline`` in this process, and the time share of its
    masking step (every transform timed separately over the same images)."""
    transforms = Compose(cfg.train_pipeline).transforms
    with tempfile.TemporaryDirectory() as tmp:
        files = imagenet_like_jpegs(tmp, count)
        spent = np.zeros(len(transforms))
        for _ in range(repeat):
            for f in files:
                results = dict(img_path=f)
                for i, t in enumerate(transforms):
                    t0 = time.perf_counter()
                    results = t(results)
                    spent[i] += time.perf_counter() - t0
    mask_idx = [i for i, t in enumerate(transforms) if 'Masking' in type(t).__name__]
    return dict(img_s=count * repeat / spent.sum(),
                mask_share=float(spent[mask_idx].sum() / spent.sum()),
                per_transform_ms={type(t).__name__: 1e3 * s / (count * repeat)
                                  for t, s in zip(transforms, spent)})
