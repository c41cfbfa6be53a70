"""Small synthetic scenes written in ADE20K's on-disk format (ADEChallengeData2016).

No ADE20K data can be downloaded in tests and demos, so this draws outdoor scenes of a
few real ADE20K classes, each with its own colour and texture, and writes them exactly
as the real set is laid out::

    root/images/training/ADE_train_00000001.jpg       RGB image
    root/annotations/training/ADE_train_00000001.png  uint8, 0 = unlabelled (ignored),
                                                      k = ADE20K class k (1..150)
    root/images/validation/ADE_val_00000001.jpg       (same for the validation split)

mmseg's ``ADE20KDataset`` (``reduce_zero_label=True``: 0 -> 255 ignored, k -> k - 1),
its pipelines and ``IoUMetric`` read it unchanged. As in ADE20K, thin unlabelled seams
separate objects. The scenes are learnable from colour and texture alone, so a tiny model
trained for minutes reaches an mIoU clearly above chance.
"""
import os
import os.path as osp
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

# ADE20K label values (1-based, as stored in the annotation PNGs) of the classes drawn here
ADE_LABELS: Dict[str, int] = {
    'building': 2, 'sky': 3, 'tree': 5, 'road': 7, 'grass': 10, 'car': 21, 'water': 22,
}
SPLITS = {'training': 'ADE_train', 'validation': 'ADE_val'}


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] of shape (h, w): a ``cells``-wide random grid, upsampled."""
    h, w = shape
    coarse = rng.uniform(-1, 1, (max(2, cells * h // w), cells)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _colour(base, variation: np.ndarray) -> np.ndarray:
    """(h, w) variation in about [-1, 1] -> (h, w, 3) float image around the RGB ``base``."""
    return np.asarray(base, np.float32)[None, None] * (1.0 + 0.25 * variation[..., None])


def _sky(rng, h, w):
    rows = np.linspace(-1, 1, h, dtype=np.float32)[:, None].repeat(w, 1)  # gradient to horizon
    return _colour((110, 160, 230), 0.6 * rows + 0.1 * _smooth_noise(rng, (h, w), 3))


def _building(rng, h, w):
    yy, xx = np.mgrid[:h, :w]
    windows = ((yy % 8 < 4) & (xx % 6 < 3)).astype(np.float32)  # a grid of dark windows
    return _colour((170, 140, 115), -1.2 * windows + 0.2 * _smooth_noise(rng, (h, w), 8))


def _tree(rng, h, w):
    return _colour((45, 110, 40), _smooth_noise(rng, (h, w), 16) + 0.3 * rng.normal(size=(h, w)))


def _road(rng, h, w):
    return _colour((95, 95, 100), 0.3 * rng.normal(size=(h, w)))


def _grass(rng, h, w):
    streaks = _smooth_noise(rng, (h, w), w // 2)  # fine, mostly vertical blades
    return _colour((110, 190, 60), 0.8 * streaks + 0.4 * rng.normal(size=(h, w)))


def _water(rng, h, w):
    yy = np.arange(h, dtype=np.float32)[:, None].repeat(w, 1)
    ripples = np.sin(yy * 1.3 + 2.0 * _smooth_noise(rng, (h, w), 4))  # horizontal waves
    return _colour((40, 110, 150), 0.6 * ripples)


def _car(rng, h, w):
    return _colour((200, 30, 35), 0.15 * rng.normal(size=(h, w)))


TEXTURES: Dict[str, Callable] = {
    'sky': _sky, 'building': _building, 'tree': _tree, 'road': _road, 'grass': _grass,
    'water': _water, 'car': _car,
}


def _layout(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A scene's class-name index map (h, w) into ``list(TEXTURES)``: sky over ground,
    buildings and trees on the horizon, a road or water band, maybe a car."""
    names = list(TEXTURES)
    idx = {n: i for i, n in enumerate(names)}
    labels = np.full((h, w), idx['sky'], np.int32)
    horizon = int(h * rng.uniform(0.35, 0.55))
    labels[horizon:] = idx['grass']
    band = idx['road'] if rng.random() < 0.5 else idx['water']
    top = int(horizon + (h - horizon) * rng.uniform(0.2, 0.5))
    labels[top:top + int((h - top) * rng.uniform(0.4, 0.8))] = band
    for _ in range(rng.integers(1, 4)):  # buildings standing on the horizon
        x0, bw = rng.integers(0, w), int(w * rng.uniform(0.1, 0.3))
        bh = int(h * rng.uniform(0.15, 0.35))
        labels[max(0, horizon - bh):horizon, x0:x0 + bw] = idx['building']
    for _ in range(rng.integers(1, 4)):  # tree crowns on the horizon
        centre = (int(rng.integers(0, w)), int(horizon - h * rng.uniform(0.0, 0.1)))
        axes = (int(w * rng.uniform(0.06, 0.15)), int(h * rng.uniform(0.08, 0.18)))
        cv2.ellipse(labels, centre, axes, 0, 0, 360, idx['tree'], -1)
    if band == idx['road'] and rng.random() < 0.7:
        cw, ch = int(w * rng.uniform(0.15, 0.3)), int(h * rng.uniform(0.08, 0.15))
        x0, y0 = int(rng.integers(0, max(1, w - cw))), top + int(rng.integers(0, 3))
        labels[y0:y0 + ch, x0:x0 + cw] = idx['car']
    return labels


def _seams(labels: np.ndarray) -> np.ndarray:
    """(h, w) bool: pixels that touch another class (ADE20K leaves such seams unlabelled)."""
    seam = np.zeros(labels.shape, bool)
    seam[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    seam[1:, :] |= labels[1:, :] != labels[:-1, :]
    return seam


def make_scene(rng: np.random.Generator, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """One scene.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (tuple): (width, height) in pixels.

    Returns:
        tuple: ``image`` (h, w, 3) uint8 RGB and ``annotation`` (h, w) uint8 with ADE20K
        label values (0 = unlabelled).
    """
    w, h = size
    names = list(TEXTURES)
    labels = _layout(rng, h, w)
    image = np.zeros((h, w, 3), np.float32)
    for i, name in enumerate(names):
        region = labels == i
        if region.any():
            image[region] = TEXTURES[name](rng, h, w)[region]
    image = (image + rng.normal(0, 4, image.shape)).clip(0, 255).astype(np.uint8)
    lut = np.array([ADE_LABELS[n] for n in names], np.uint8)
    annotation = np.where(_seams(labels), 0, lut[labels]).astype(np.uint8)
    return image, annotation


def make_ade20k_demo(root: str, num_train: int = 16, num_val: int = 4,
                     size: Tuple[int, int] = (128, 96), seed: int = 0) -> str:
    """Write a small ADE20K-format data set under ``root`` (see the module docstring).

    Args:
        root (str): Output folder; becomes the config's ``data_root``.
        num_train (int): Training images. Defaults to 16.
        num_val (int): Validation images. Defaults to 4.
        size (tuple): (width, height) of every image. Defaults to (128, 96).
        seed (int): Random seed; the same seed writes the same files.

    Returns:
        str: ``root``.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train ({num_train}) and num_val ({num_val}) must be >= 1')
    if min(size) < 16:
        raise ValueError(f'size {size} is too small to draw a scene; use at least (16, 16)')
    rng = np.random.default_rng(seed)
    for split, count in (('training', num_train), ('validation', num_val)):
        img_dir, ann_dir = osp.join(root, 'images', split), osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(1, count + 1):
            image, annotation = make_scene(rng, size)
            stem = f'{SPLITS[split]}_{i:08d}'
            cv2.imwrite(osp.join(img_dir, stem + '.jpg'), image[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, stem + '.png'), annotation)
    return root
