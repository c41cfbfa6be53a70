"""Every config loads and builds; the pretraining configs follow the paper's recipe."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def build(cfg: Config):
    import_modules_from_strings(**cfg.get('custom_imports', {}))
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.get('custom_imports', {}).get('imports') == ['mae_mm']
    model = build(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('size,batch,accum', [('b', 512, 1), ('l', 256, 2), ('h', 128, 4)])
def test_pretrain_recipe(size, batch, accum):
    cfg = Config.fromfile(osp.join(REPO, 'configs', f'mae_vit-{size}_pretrain.py'))
    total = 8 * cfg.train_dataloader.batch_size * cfg.optim_wrapper.get('accumulative_counts', 1)
    assert (cfg.train_dataloader.batch_size, total) == (batch, 4096)
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.betas == (0.9, 0.95) and opt.weight_decay == 0.05
    assert opt.lr == pytest.approx(1.5e-4 * 4096 / 256)
    assert cfg.optim_wrapper.type == 'mae_mm.AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 40)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max) == ('CosineAnnealingLR', 40, 800, 760)
    assert cfg.train_cfg.max_epochs == 800
    steps = {t.type.split('.')[-1]: t for t in cfg.train_pipeline}
    crop, flip, mask = steps['RandomResizedCrop'], steps['RandomFlip'], steps['RandomMasking']
    assert cfg.train_pipeline[0].type == 'mae_mm.SeedSample'
    assert cfg.train_dataloader.sampler.type == 'mae_mm.SeededSampler'
    assert crop.scale == 224 and crop.crop_ratio_range == (0.2, 1.0) and flip.prob == 0.5
    assert crop.type == 'mae_mm.RandomResizedCrop' and crop.interpolation == 'bicubic'
    patch = 14 if size == 'h' else 16
    assert mask.patch_size == cfg.model.backbone.patch_size == patch
    assert mask.mask_ratio == cfg.model.backbone.mask_ratio == 0.75
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    wd = cfg.optim_wrapper.paramwise_cfg
    assert wd.norm_decay_mult == 0 and wd.bias_decay_mult == 0
    assert {'pos_embed', 'cls_token', 'mask_token'} <= set(wd.custom_keys)
    # the speed settings measured in docs/benchmarks.md
    assert opt.fused and cfg.optim_wrapper.constructor == 'mae_mm.GroupedOptimWrapperConstructor'
    assert cfg.model.compile == dict(mode='default') and cfg.train_dataloader.drop_last
    assert cfg.model.backbone.low_precision_residual and cfg.model.neck.low_precision_residual
    assert cfg.model.data_preprocessor.type == 'mae_mm.MAEDataPreprocessor'
    assert cfg.default_hooks.runtime_info.type == 'mae_mm.DeferredRuntimeInfoHook'


def test_1600_epoch_variant():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mae_vit-l_pretrain_1600e.py'))
    assert cfg.train_cfg.max_epochs == 1600
    assert cfg.param_scheduler[1].T_max == 1560 and cfg.param_scheduler[1].end == 1600
