"""A small built-in image set made from real photographs that ship inside installed packages.

No download: scikit-image's sample photographs and scikit-learn's two sample images are
cut into square tiles and written as an image folder that mmpretrain's ``CustomDataset``
reads unchanged (the same loader a user's own folder of images goes through).
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Iterator, List

import numpy as np
from PIL import Image

# scikit-image photographs stored in the package itself (no fetching)
SKIMAGE_PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field', 'retina',
                  'immunohistochemistry', 'camera', 'coins', 'moon', 'grass', 'gravel', 'brick',
                  'cell', 'clock')


def _photos() -> Iterator[np.ndarray]:
    """Real photographs as (H, W, 3) uint8 arrays."""
    from skimage import data
    from sklearn.datasets import load_sample_images
    for name in SKIMAGE_PHOTOS:
        img = np.asarray(getattr(data, name)())
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        yield img[..., :3].astype(np.uint8)
    yield from data.stereo_motorcycle()[:2]
    yield from load_sample_images().images


def _tiles(img: np.ndarray, tile: int) -> List[np.ndarray]:
    """Non-overlapping square tiles of side ``tile`` after scaling the short side to 2 * tile."""
    h, w = img.shape[:2]
    scale = 2 * tile / min(h, w)
    img = np.asarray(Image.fromarray(img).resize((max(2 * tile, round(w * scale)),
                                                  max(2 * tile, round(h * scale))),
                                                 Image.BICUBIC))
    h, w = img.shape[:2]
    return [img[y:y + tile, x:x + tile] for y in range(0, h - tile + 1, tile)
            for x in range(0, w - tile + 1, tile)]


def _png_count(folder: str) -> int:
    return len([f for f in os.listdir(folder) if f.endswith('.png')]) if osp.isdir(folder) else 0


def make_demo_images(dst: str, tile: int = 96) -> int:
    """Write the built-in image set into ``dst`` (one folder of PNGs); return the count.

    Idempotent: an existing folder with images is left as it is. The set is written into a
    temporary folder next to ``dst`` and renamed into place when complete, so an interrupted
    first run, or processes writing it at once, never leave a partial set behind.
    """
    if _png_count(dst):
        return _png_count(dst)
    parent = osp.dirname(osp.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(osp.abspath(dst))}.partial.', dir=parent)
    try:
        for i, photo in enumerate(_photos()):
            for j, t in enumerate(_tiles(photo, tile)):
                Image.fromarray(t).save(osp.join(tmp, f'photo{i:02d}_tile{j:02d}.png'))
        try:
            os.rename(tmp, dst)  # replaces a missing or empty dst at once
        except OSError:  # dst holds files: another process's set, or the user's other files
            if not _png_count(dst):
                for f in sorted(os.listdir(tmp)):
                    os.replace(osp.join(tmp, f), osp.join(dst, f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _png_count(dst)


if __name__ == '__main__':
    import sys
    path = sys.argv[1] if len(sys.argv) > 1 else 'data/demo_images'
    print(f'{make_demo_images(path)} images in {path}')
