"""Checks run on a config before training starts, so bad input fails early and clearly."""
import os
import os.path as osp

from mmengine.config import Config
from mmengine.registry import DATASETS

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


def _has_image(root: str) -> bool:
    for _, _, files in os.walk(root, followlinks=True):
        if any(f.lower().endswith(IMG_EXTS) for f in files):
            return True
    return False


def _datasets(cfg: dict, key: str):
    """(config key, dataset config) of each dataset inside a (possibly wrapped or
    concatenated) dataset config at ``key``."""
    yield key, cfg
    for name in ('dataset', 'datasets'):
        inner = cfg.get(name)
        if isinstance(inner, (list, tuple)):
            for i, sub in enumerate(inner):
                yield from _datasets(sub, f'{key}.{name}.{i}')
        elif inner:
            yield from _datasets(inner, f'{key}.{name}')


def check_data_roots(cfg: Config, loader_key: str = 'train_dataloader') -> None:
    """Each ``data_root`` of the loader's datasets exists and holds images.

    Datasets that write their own data (``creates_data_root = True``, e.g. the built-in
    demo images) are skipped.
    """
    loader = cfg.get(loader_key)
    if not loader:
        return
    for key, ds in _datasets(loader.get('dataset', {}), f'{loader_key}.dataset'):
        root = ds.get('data_root')
        cls = DATASETS.get(ds.get('type', '')) if isinstance(ds.get('type'), str) else ds.get('type')
        if not root or getattr(cls, 'creates_data_root', False):
            continue
        fix = (f'set it to your data folder (--cfg-options {key}.data_root=PATH); '
               f'see the README for the expected layout')
        if not osp.isdir(root):
            raise FileNotFoundError(f'{key}.data_root {root!r} does not exist; {fix}')
        if not _has_image(root):
            raise FileNotFoundError(f'{key}.data_root {root!r} holds no image files '
                                    f'({", ".join(IMG_EXTS[:5])}, ...); {fix}')
