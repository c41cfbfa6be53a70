"""The ADE20K configs carry the paper's transfer recipe (Table 5, Appendix A.4 / BEiT)."""
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, name))


def values(cfg, key: str):
    """Every value stored under ``key`` anywhere in a nested config."""
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k == key:
                yield v
            yield from values(v, key)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            yield from values(v, key)


@pytest.mark.parametrize('size,dims,indices', [('b', 768, (3, 5, 7, 11)),
                                               ('l', 1024, (7, 11, 15, 23))])
def test_full_configs_follow_the_paper(size, dims, indices):
    cfg = load(f'upernet_vit-{size}_ade20k.py')
    assert cfg.default_scope == 'mmseg' and cfg.custom_imports.imports == ['mae_mm']
    model = cfg.model
    assert model.type == 'EncoderDecoder'
    vit = model.backbone
    assert (vit.type, vit.arch, vit.img_size, vit.out_type, vit.out_indices) == \
        ('mae_mm.MAEViT', size, 512, 'featmap', indices)
    assert vit.use_rel_pos_bias and vit.layer_scale_init > 0 and vit.pos_embed_trainable
    assert not vit.final_norm and vit.init_cfg.type == 'Pretrained'
    assert (model.neck.type, model.neck.embed_dim, model.neck.rescales) == \
        ('Feature2Pyramid', dims, [4, 2, 1, 0.5])
    head, aux = model.decode_head, model.auxiliary_head
    assert (head.type, head.in_channels, head.num_classes) == ('UPerHead', [dims] * 4, 150)
    assert (aux.type, aux.in_channels, aux.num_classes) == ('FCNHead', dims, 150)
    assert aux.loss_decode.loss_weight == 0.4 and head.loss_decode.loss_weight == 1.0
    assert model.test_cfg.mode == 'slide' and model.test_cfg.crop_size == (512, 512)
    assert model.data_preprocessor.size == (512, 512)
    crop = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert crop and crop[0].crop_size == (512, 512)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert all(v is True for v in values(cfg.train_dataloader, 'reduce_zero_label'))
    assert cfg.train_dataloader.batch_size * 8 == 16  # 8 GPUs (tools/dist_train.sh ... 8)
    assert cfg.val_evaluator.type == 'IoUMetric'

    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.constructor == 'mae_mm.LayerDecayOptimWrapperConstructor'
    assert wrapper.paramwise_cfg.layer_decay_rate == 0.65
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.05)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 1500)
    assert (poly.type, poly.begin, poly.end, poly.power, poly.eta_min) == \
        ('PolyLR', 1500, 160000, 1.0, 0.0)
    assert cfg.train_cfg.max_iters == 160000


def test_tiny_config_is_the_same_model_for_one_cpu():
    full, tiny = load('upernet_vit-b_ade20k.py'), load('demo/upernet_vit-tiny_ade20k_demo.py')
    assert tiny.model.backbone.arch == 'demo' and tiny.model.test_cfg.mode == 'slide'
    for key in ('use_rel_pos_bias', 'layer_scale_init', 'out_type', 'final_norm'):
        assert tiny.model.backbone[key] == full.model.backbone[key]
    assert {n.type for n in values(tiny.model, 'norm_cfg')} == {'BN'}  # no SyncBN, one process
    assert tiny.optim_wrapper.type == 'OptimWrapper'  # fp32: bf16 / fp16 crawl on this CPU
    assert tiny.optim_wrapper.constructor == full.optim_wrapper.constructor
    assert tiny.train_dataloader.num_workers == 0
    assert tiny.param_scheduler[-1].end == tiny.train_cfg.max_iters
