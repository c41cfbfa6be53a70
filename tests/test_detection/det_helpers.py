"""Shared by the detection tests: the synthetic COCO set and detectors built from the configs.

Test modules import from here by name (pytest puts this folder on sys.path); not a
conftest.py, which would shadow the top-level one that tests import ``run_tool`` from.
"""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from mae_mm.datasets.coco_synthetic import make_coco_demo

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')
DEMO = osp.join(CONFIGS, 'demo', 'maskrcnn_vit-tiny_coco_demo.py')


def load_config(path: str, data_root: str = None, **cfg_options) -> Config:
    """A config with ``cfg_options`` merged and, if given, its data paths moved to ``data_root``."""
    cfg = Config.fromfile(path)
    if data_root is not None:
        root = data_root.rstrip('/') + '/'
        ann = root + 'annotations/instances_val2017.json'
        cfg.merge_from_dict({f'{split}_dataloader.dataset.data_root': root
                             for split in ('train', 'val', 'test')})
        cfg.merge_from_dict({'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann})
    cfg.merge_from_dict(cfg_options)
    return cfg


def build_detector(cfg: Config):
    """The config's model, built by mmdet's registry as tools/train.py would."""
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    from mmdet.registry import MODELS
    return MODELS.build(cfg.model)


@pytest.fixture(scope='session')
def coco_demo(tmp_path_factory) -> str:
    """A small synthetic COCO-format set (8 train, 4 val images of 128 px)."""
    return make_coco_demo(str(tmp_path_factory.mktemp('coco_demo')), num_train=8, num_val=4)
