"""Shared helpers: classifiers built from the classification configs, real digit batches."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings
from mmpretrain.structures import DataSample
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FINETUNE_DEMO = osp.join(REPO, 'configs', 'demo', 'finetune_vit-tiny_digits_demo.py')
LINPROBE_DEMO = osp.join(REPO, 'configs', 'demo', 'linprobe_vit-tiny_digits_demo.py')


def config(name: str) -> Config:
    """A config by path or by its name under configs/ (e.g. 'finetune_vit-b_in1k')."""
    return Config.fromfile(name if osp.isabs(name) else osp.join(REPO, 'configs', name + '.py'))


def build_classifier(cfg: Config, **backbone) -> torch.nn.Module:
    """The config's ImageClassifier with a random encoder (and ``backbone`` overrides),
    its data preprocessor merged in as the Runner does."""
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, init_cfg=None, **backbone)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def digit_batch(n: int = 8, size: int = 32) -> dict:
    """``n`` real handwritten digits (uint8 RGB, ``size`` px) with their labels, as a data batch."""
    from mae_mm.datasets.digits import split_digits
    images, labels, _ = split_digits()['train']
    inputs = [torch.from_numpy(np.asarray(Image.fromarray(img).convert('RGB').resize(
        (size, size), Image.BICUBIC))).permute(2, 0, 1).contiguous() for img in images[:n]]
    samples = [DataSample().set_gt_label(int(label)) for label in labels[:n]]
    return dict(inputs=inputs, data_samples=samples)
