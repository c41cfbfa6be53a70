"""LayerDecayOptimWrapperConstructor: lr and weight decay of every parameter against the
formula, in mmdet, mmseg and mmpretrain scopes, and its errors."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mae_mm.engine.optimizers import LayerDecayOptimWrapperConstructor
from mae_mm.models import MAEViT
from mae_mm.models.necks import MAEDecoder

LR, WD, RATE = 1e-3, 0.05, 0.7
NUM_LAYERS = 4
TINY = dict(embed_dims=32, num_layers=NUM_LAYERS, num_heads=2, patch_size=8)


class Detector(nn.Module):
    """A ViT at ``backbone.`` (ViTDet-style: rel-pos, no cls token) plus a neck and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MAEViT(arch=TINY, img_size=32, with_cls_token=False, out_type='featmap',
                               use_rel_pos=True, window_size=2, global_attn_indexes=(1, 3),
                               layer_scale_init=0.1, pos_embed_trainable=True)
        self.neck = nn.Sequential(nn.Conv2d(32, 16, 3), nn.GroupNorm(4, 16))
        self.head = nn.Linear(16, 3)


def expected_layer(name: str) -> int:
    """The layer id written out by hand for the names of :class:`Detector`."""
    if name in ('backbone.pos_embed', 'backbone.cls_token') or name.startswith(
            'backbone.patch_embed.'):
        return 0
    if name.startswith('backbone.blocks.'):
        return int(name.split('.')[2]) + 1
    return NUM_LAYERS + 1


def expected_decay(name: str) -> float:
    """Weight decay only on weight matrices / kernels of linears and convolutions."""
    matrix = name.endswith(('qkv.weight', 'proj.weight', 'fc1.weight', 'fc2.weight')) or name in (
        'neck.0.weight', 'head.weight')
    return WD if matrix else 0.0


def build(model: nn.Module, scope: str = 'mmdet', **paramwise):
    cfg = dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
               constructor='mae_mm.LayerDecayOptimWrapperConstructor',
               paramwise_cfg=dict(layer_decay_rate=RATE, **paramwise))
    with DefaultScope.overwrite_default_scope(scope):
        return build_optim_wrapper(model, cfg).optimizer


def settings(optimizer) -> dict:
    """Parameter (by id) -> (lr, weight decay), checking that none is in two groups."""
    out = {}
    for group in optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in out, 'a parameter is in two groups'
            out[id(p)] = (group['lr'], group['weight_decay'])
    return out


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_every_parameter_follows_the_formula(scope):
    model = Detector()
    got = settings(build(model, scope))
    names = dict(model.named_parameters())
    assert len(got) == len(names)
    for name, p in names.items():
        lr = LR * RATE**(NUM_LAYERS + 1 - expected_layer(name))
        assert got[id(p)][0] == pytest.approx(lr), name
        assert got[id(p)][1] == expected_decay(name), name
    # spot checks of the formula's ends: embeddings at the deepest decay, heads at the full lr
    assert got[id(model.backbone.pos_embed)] == (pytest.approx(LR * RATE**5), 0.0)
    assert got[id(model.backbone.blocks[3].attn.rel_pos_h)] == (pytest.approx(LR * RATE), 0.0)
    assert got[id(model.head.weight)] == (pytest.approx(LR), WD)


def test_groups_are_few_and_num_layers_can_be_given():
    model = Detector()
    optimizer = build(model)
    # (embeddings, 4 blocks, rest) x (decay, no decay)
    assert len(optimizer.param_groups) == 2 * (NUM_LAYERS + 2)
    # a larger num_layers (e.g. to share a schedule with a deeper model) shifts every layer
    got = settings(build(model, num_layers=6))
    assert got[id(model.backbone.blocks[0].attn.qkv.weight)][0] == pytest.approx(LR * RATE**6)
    assert got[id(model.head.weight)][0] == pytest.approx(LR)


def test_mae_pretraining_model_decoder_blocks_are_not_the_vit():
    model = nn.Module()
    model.backbone = MAEViT(arch=TINY, img_size=32)
    model.neck = MAEDecoder(num_patches=16, patch_size=8, embed_dims=32, decoder_embed_dims=16,
                            decoder_depth=2, decoder_num_heads=2)
    got = settings(build(model))
    assert got[id(model.neck.decoder_blocks[0].attn.qkv.weight)][0] == pytest.approx(LR)
    assert got[id(model.backbone.blocks[0].attn.qkv.weight)][0] == pytest.approx(
        LR * RATE**NUM_LAYERS)


def test_errors_name_the_fix():
    two = nn.Module()
    two.student, two.teacher = MAEViT(arch=TINY, img_size=32), MAEViT(arch=TINY, img_size=32)
    with pytest.raises(ValueError,
                       match=r"found blocks under \['student.', 'teacher.'\].*vit_prefix"):
        build(two)
    got = settings(build(two, vit_prefix='teacher.'))
    assert got[id(two.student.blocks[0].attn.qkv.weight)][0] == pytest.approx(LR)
    with pytest.raises(ValueError, match='holds no blocks'):
        build(two, vit_prefix='backbone.')
    with pytest.raises(ValueError, match=r'found blocks under \[\]'):
        build(nn.Linear(2, 2))
    with pytest.raises(ValueError, match='num_layers=2 but .* has 4 blocks'):
        build(Detector(), num_layers=2)
    with pytest.raises(ValueError, match='layer_decay_rate must lie in'):
        LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=LR)),
                                          dict(layer_decay_rate=1.5))
    with pytest.raises(ValueError, match=r"unknown paramwise_cfg keys \['decay_rate'\]"):
        LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=LR)),
                                          dict(layer_decay_rate=0.7, decay_rate=0.7))


def test_a_step_moves_each_layer_by_its_lr():
    """SGD without momentum: the update of every parameter is its lr times its gradient."""
    torch.manual_seed(0)
    model = Detector()
    cfg = dict(optimizer=dict(type='SGD', lr=1.0),  # large: updates well above rounding
               constructor='mae_mm.LayerDecayOptimWrapperConstructor',
               paramwise_cfg=dict(layer_decay_rate=RATE))
    wrapper = build_optim_wrapper(model, cfg)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    feats = model.backbone(torch.randn(2, 3, 32, 32))[0]
    loss = model.head(model.neck(feats).mean((2, 3))).pow(2).sum()
    wrapper.backward(loss)
    wrapper.step()
    checked = 0
    for name, p in model.named_parameters():
        if p.grad is None or not p.grad.any():
            continue
        lr = RATE**(NUM_LAYERS + 1 - expected_layer(name))
        torch.testing.assert_close(before[name] - p.detach(), lr * p.grad, rtol=1e-3, atol=1e-6)
        checked += 1
    assert checked > 0.9 * len(before)
