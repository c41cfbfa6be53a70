"""scikit-learn's handwritten digits written out as a small ImageNet-layout image folder.

The 1,797 real 8x8 digits ship inside scikit-learn, so tests, demos and the built-in
linear-probe benchmark get a real classification set without a download. The folder has
the layout mmpretrain's ``ImageNet`` / ``CustomDataset`` read unchanged::

    root/
      train/<digit>/<index>.png     RGB, upscaled to ``img_size`` (bicubic)
      val/<digit>/<index>.png
      meta/train.txt, meta/val.txt  "<digit>/<index>.png <label>" per line
      meta/classes.txt              one class name per line ('0' ... '9')
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image

DIGIT_CLASSES: Tuple[str, ...] = tuple(str(d) for d in range(10))


def split_digits(val_fraction: float = 0.2,
                 seed: int = 0) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stratified train / val split of the digits.

    Returns:
        dict: split name -> (images (N, 8, 8) uint8 in 0-255, labels (N,), original indices).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}')
    from sklearn.datasets import load_digits
    digits = load_digits()
    # 16 grey levels -> 0-255, ink bright on a dark background
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        val_idx.extend(members[:round(len(members) * val_fraction)])
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val_idx] = True
    return {split: (images[keep], labels[keep], np.flatnonzero(keep))
            for split, keep in (('train', ~is_val), ('val', is_val))}


def make_digits_imagenet(root: str, img_size: int = 32, val_fraction: float = 0.2,
                         seed: int = 0, max_per_split: Optional[int] = None) -> Dict[str, int]:
    """Write the digits as an ImageNet-layout folder under ``root``.

    Args:
        root (str): Output folder (created; existing files of the same names are replaced).
        img_size (int): Side of the written images (the 8x8 digits are upscaled bicubically).
        val_fraction (float): Share of each class that goes to ``val``. Defaults to 0.2.
        seed (int): Seed of the split. Defaults to 0.
        max_per_split (int, optional): Keep only the first N images of each split (class
            balanced order), for quick tests.

    Returns:
        dict: number of images written per split.
    """
    if img_size < 8:
        raise ValueError(f'img_size must be >= 8 (the digits are 8x8), got {img_size}')
    counts = {}
    for split, (images, labels, indices) in split_digits(val_fraction, seed).items():
        rank = np.zeros(len(labels), dtype=np.int64)  # position of each image within its class
        for c in np.unique(labels):
            rank[labels == c] = np.arange(np.count_nonzero(labels == c))
        order = np.lexsort((labels, rank))[:max_per_split]  # classes interleaved: 0, 1, ..., 9, 0, ...
        lines = []
        for i in order:
            rel = f'{labels[i]}/{indices[i]:04d}.png'
            path = osp.join(root, split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            img = Image.fromarray(images[i]).resize((img_size, img_size), Image.BICUBIC)
            img.convert('RGB').save(path)
            lines.append(f'{rel} {labels[i]}\n')
        os.makedirs(osp.join(root, 'meta'), exist_ok=True)
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
        counts[split] = len(lines)
    with open(osp.join(root, 'meta', 'classes.txt'), 'w') as f:
        f.writelines(c + '\n' for c in DIGIT_CLASSES)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=make_digits_imagenet.__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?', default='data/digits', help='output folder')
    parser.add_argument('--img-size', type=int, default=32)
    parser.add_argument('--val-fraction', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = make_digits_imagenet(args.root, args.img_size, args.val_fraction, args.seed)
    print(f'wrote {counts} images of {args.img_size}x{args.img_size} px to {args.root}')


if __name__ == '__main__':
    main()
