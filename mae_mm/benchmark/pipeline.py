"""Throughput of a config's training data pipeline in one worker, and the masking share."""
import tempfile
import time

import numpy as np
import torch
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


def peer_pipeline(pipeline: list) -> list:
    """``pipeline`` with mmpretrain's crop, resized by PIL, as mmpretrain's MAE configs have it."""
    return [dict(t, type='mmpretrain.RandomResizedCrop', backend='pillow')
            if t['type'] == 'mae_mm.RandomResizedCrop' else t for t in pipeline]


def pipeline_throughput(cfg: Config, count: int = 64, repeat: int = 3) -> dict:
    """Images per second of ``cfg.train_pipeline`` in this process on one thread, as in a loader
    worker, and of the same pipeline with mmpretrain's crop (``peer_img_s``; the two alternate
    over the same images), and the time share of its masking step (every transform timed
    separately)."""
    ours = Compose(cfg.train_pipeline).transforms
    peer = Compose(peer_pipeline(cfg.train_pipeline)).transforms
    spent, peer_spent = np.zeros(len(ours)), np.zeros(len(peer))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a DataLoader worker runs torch on one thread
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = imagenet_like_jpegs(tmp, count)
            for _ in range(repeat):
                spent += _time_transforms(ours, files)
                peer_spent += _time_transforms(peer, files)
    finally:
        torch.set_num_threads(threads)
    mask_idx = [i for i, t in enumerate(ours) if 'Masking' in type(t).__name__]
    return dict(img_s=count * repeat / spent.sum(), peer_img_s=count * repeat / peer_spent.sum(),
                mask_share=float(spent[mask_idx].sum() / spent.sum()),
                per_transform_ms={type(t).__name__: 1e3 * s / (count * repeat)
                                  for t, s in zip(ours, spent)})


def _time_transforms(transforms: list, files: list) -> np.ndarray:
    """Seconds each transform spends in one pass over ``files``."""
    spent = np.zeros(len(transforms))
    for f in files:
        results = dict(img_path=f)
        for i, t in enumerate(transforms):
            t0 = time.perf_counter()
            results = t(results)
            spent[i] += time.perf_counter() - t0
    return spent
