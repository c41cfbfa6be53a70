"""The detection configs carry the ViTDet recipe (and the demo only its CPU deviations)."""
import os.path as osp

import pytest

from det_helpers import CONFIGS, DEMO, load_config

SIZES = {'b': dict(arch='b', globals_=(2, 5, 8, 11), dp=0.1, ld=0.7, dims=768),
         'l': dict(arch='l', globals_=(5, 11, 17, 23), dp=0.4, ld=0.8, dims=1024)}


def walk(node):
    """Every dict inside a config value, depth first."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)


@pytest.mark.parametrize('size', ['b', 'l'])
@pytest.mark.parametrize('pyramid', ['', '_fpn'])
def test_full_configs_follow_the_vitdet_recipe(size, pyramid):
    cfg = load_config(osp.join(CONFIGS, f'maskrcnn_vit-{size}{pyramid}_coco.py'))
    s = SIZES[size]
    assert cfg.default_scope == 'mmdet' and cfg.custom_imports.imports == ['mae_mm']
    bb = cfg.model.backbone
    assert bb.type == 'mae_mm.MAEViT' and bb.arch == s['arch']
    assert tuple(bb.img_size) == (1024, 1024)
    assert (bb.window_size, tuple(bb.global_attn_indexes)) == (14, s['globals_'])
    assert bb.use_rel_pos and bb.pos_embed_trainable and not bb.with_cls_token
    assert bb.out_type == 'featmap' and not bb.final_norm and bb.drop_path_rate == s['dp']
    assert bb.init_cfg.type == 'Pretrained'
    if pyramid:
        assert tuple(bb.out_indices) == s['globals_']  # the last block of each quarter
        assert [n.type for n in cfg.model.neck] == ['mae_mm.ViTPyramid', 'FPN']
        assert cfg.model.neck[1].in_channels == [s['dims']] * 4
    else:
        assert bb.out_indices == -1 and cfg.model.neck.type == 'mae_mm.SimpleFPN'
        assert cfg.model.neck.in_channels == s['dims']
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper'
    assert ow.constructor == 'mae_mm.LayerDecayOptimWrapperConstructor'
    assert ow.paramwise_cfg.layer_decay_rate == s['ld']
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == ('AdamW', 1e-4, 0.1)
    # total batch 64; 100 epochs of COCO's ~118k images
    assert cfg.train_dataloader.batch_size * cfg.num_gpus == cfg.total_batch == 64
    assert cfg.train_cfg.max_iters * 64 / 118_000 == pytest.approx(100, abs=0.01)
    assert cfg.param_scheduler[1].milestones == [163_889, 177_546]
    resize = [t for t in cfg.train_pipeline if t.type == 'RandomResize'][0]
    assert tuple(resize.scale) == (1024, 1024) and tuple(resize.ratio_range) == (0.1, 2.0)
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    assert cfg.val_evaluator.metric == ['bbox', 'segm'] and cfg.val_evaluator.type == 'CocoMetric'


def test_demo_deviates_only_for_the_cpu():
    cfg = load_config(DEMO)
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # fp32: no autocast on the CPU
    assert cfg.optim_wrapper.constructor == 'mae_mm.LayerDecayOptimWrapperConstructor'
    assert cfg.model.backbone.arch == 'demo' and cfg.model.backbone.use_rel_pos
    norms = {d['norm_cfg']['type'] for d in walk(cfg.to_dict()) if 'norm_cfg' in d}
    assert norms == {'mae_mm.LN2d'}  # no SyncBN in a single CPU process
    assert cfg.train_dataloader.num_workers == 0 and cfg.train_dataloader.batch_size == 2
