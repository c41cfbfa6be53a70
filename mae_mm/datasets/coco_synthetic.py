"""A small instance-segmentation set written in COCO's on-disk format.

No COCO data can be downloaded in tests and demos, so this draws filled shapes of four
classes (ellipse, triangle, rectangle, star; random size, rotation and colour) on crops of
real photographs that ship with scikit-image, and writes them as COCO 2017 is laid out::

    root/train2017/000000000001.jpg ...
    root/val2017/000000000001.jpg ...
    root/annotations/instances_train2017.json   images, annotations (polygons), categories
    root/annotations/instances_val2017.json

mmdet's ``CocoDataset`` (with ``metainfo=dict(classes=CLASSES)``), its pipelines and
``CocoMetric`` (pycocotools) read it unchanged. Objects never overlap, so each polygon is
exactly the object's visible region; the class is given by the shape alone.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

CLASSES = ('ellipse', 'triangle', 'rectangle', 'star')
SPLITS = ('train2017', 'val2017')
# scikit-image photographs used as backgrounds (stored inside the package, no fetching)
BACKGROUNDS = ('astronaut', 'coffee', 'chelsea', 'rocket', 'grass', 'gravel', 'brick', 'camera',
               'hubble_deep_field', 'immunohistochemistry', 'moon', 'cell')


def _backgrounds() -> List[np.ndarray]:
    """The background photographs as (H, W, 3) uint8 RGB arrays."""
    from skimage import data
    photos = [np.asarray(getattr(data, name)()) for name in BACKGROUNDS]
    return [np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p[..., :3] for p in photos]


def _background(rng: np.random.Generator, photos: List[np.ndarray], size: int) -> np.ndarray:
    """A random square crop of a random photograph, resized to (size, size, 3), muted."""
    photo = photos[rng.integers(len(photos))]
    side = int(min(photo.shape[:2]) * rng.uniform(0.3, 1.0))
    y, x = (int(rng.integers(0, photo.shape[i] - side + 1)) for i in (0, 1))
    crop = cv2.resize(photo[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
    return (0.6 * crop + 0.4 * 128).astype(np.float32)  # lower contrast than the objects


def _shape(cls: str, rng: np.random.Generator, radius: float) -> np.ndarray:
    """Vertices (K, 2) of a shape of class ``cls`` centred at 0 with about this radius."""
    if cls == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        pts = np.stack([np.cos(t), rng.uniform(0.5, 1.0) * np.sin(t)], 1)
    elif cls == 'triangle':
        t = np.pi / 2 + np.array([0, 2, 4]) * np.pi / 3 + rng.uniform(-0.3, 0.3, 3)
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif cls == 'rectangle':
        a = rng.uniform(0.45, 0.9)
        pts = np.array([[-1, -a], [1, -a], [1, a], [-1, a]]) / np.hypot(1, a)
    else:  # a five-pointed star: 10 vertices alternating outer / inner radius
        t = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return radius * pts @ rot.T


def _place(rng: np.random.Generator, size: int, num: int) -> List[Tuple[str, np.ndarray]]:
    """Up to ``num`` non-overlapping shapes (class, vertices (K, 2) in pixels) in the image."""
    placed: List[Tuple[str, np.ndarray]] = []
    boxes: List[np.ndarray] = []
    for _ in range(20 * num):
        if len(placed) == num:
            break
        cls = CLASSES[rng.integers(len(CLASSES))]
        pts = _shape(cls, rng, radius=size * rng.uniform(0.08, 0.22))
        pts = pts + rng.uniform(-pts.min(0), size - pts.max(0))  # keep it inside the image
        box = np.concatenate([pts.min(0) - 2, pts.max(0) + 2])  # x0, y0, x1, y1 with a margin
        if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in boxes):
            placed.append((cls, pts))
            boxes.append(box)
    return placed


def _polygon_mask(pts: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8 mask of a polygon, rasterised by pycocotools as COCO's tools read it."""
    rle = mask_utils.frPyObjects([pts.reshape(-1).tolist()], size, size)
    return mask_utils.decode(rle)[..., 0]


def _draw(img: np.ndarray, pts: np.ndarray, rng: np.random.Generator) -> None:
    """Fill the polygon in place with a random colour, shaded along a random direction."""
    yy, xx = np.nonzero(_polygon_mask(pts, img.shape[0]))
    d = rng.normal(size=2)
    shade = 1.0 + 0.25 * np.tanh(((xx - xx.mean()) * d[0] + (yy - yy.mean()) * d[1]) / 20.0)
    colour = rng.uniform(30, 255, 3)
    img[yy, xx] = (colour[None] * shade[:, None]).clip(0, 255)


def _annotation(pts: np.ndarray, cls: str, ann_id: int, img_id: int, size: int) -> Dict:
    """A COCO annotation dict for one polygon."""
    poly = pts.reshape(-1).tolist()
    rle = mask_utils.encode(np.asfortranarray(_polygon_mask(pts, size)))
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    return dict(id=ann_id, image_id=img_id, category_id=CLASSES.index(cls) + 1,
                segmentation=[poly], area=float(mask_utils.area(rle)),
                bbox=[round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2),
                      round(float(y1 - y0), 2)], iscrowd=0)


def make_coco_split(root: str, split: str, num_images: int, size: int,
                    rng: np.random.Generator, photos: List[np.ndarray]) -> Dict:
    """Write one split's images and return its COCO dict (also written to annotations/)."""
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = _background(rng, photos, size)
        for cls, pts in _place(rng, size, int(rng.integers(1, 5))):
            _draw(img, pts, rng)
            annotations.append(_annotation(pts, cls, len(annotations) + 1, img_id, size))
        img = (img + rng.normal(0, 3, img.shape)).clip(0, 255).astype(np.uint8)
        file_name = f'{img_id:012d}.jpg'
        cv2.imwrite(osp.join(root, split, file_name), img[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append(dict(id=img_id, file_name=file_name, width=size, height=size))
    coco = dict(info=dict(description=f'mae_mm synthetic shapes, {split}', version='1.0'),
                licenses=[], images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=c, supercategory='shape')
                            for i, c in enumerate(CLASSES)])
    with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(coco, f)
    return coco


def make_coco_demo(root: str, num_train: int = 64, num_val: int = 16, size: int = 128,
                   seed: int = 0) -> str:
    """Write the small COCO-format set under ``root`` (see the module docstring).

    Args:
        root (str): Output folder; becomes the config's ``data_root``.
        num_train (int): Training images. Defaults to 64.
        num_val (int): Validation images. Defaults to 16.
        size (int): Side of the square images in pixels. Defaults to 128.
        seed (int): Random seed; the same seed writes the same files.

    Returns:
        str: ``root``.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train ({num_train}) and num_val ({num_val}) must be >= 1')
    if size < 32:
        raise ValueError(f'size {size} is too small for objects mmdet keeps; use >= 32')
    rng = np.random.default_rng(seed)
    photos = _backgrounds()
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split, count in zip(SPLITS, (num_train, num_val)):
        make_coco_split(root, split, count, size, rng, photos)
    return root
