"""Detection necks: SimpleFPN (ViTDet), ViTPyramid + mmdet's FPN (the MAE paper), LN2d."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from conftest import run_with_block_outputs
from mae_mm.models import MAEViT
from mae_mm.models.necks import LayerNorm2d, SimpleFPN, ViTPyramid


def build_in_mmdet(cfg):
    """Build as a detector config does: by mmdet's registry, our modules by scope prefix."""
    import mmdet.models  # noqa: F401  (registers mmdet's FPN)
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def sizes(outs):
    return [tuple(o.shape) for o in outs]


def test_ln2d_normalises_channels_like_layernorm():
    ln2d, ln = LayerNorm2d(8), nn.LayerNorm(8, eps=1e-6)
    for p, q in zip(ln2d.parameters(), ln.parameters()):
        nn.init.normal_(p)
        q.data.copy_(p.data)
    x = torch.randn(2, 8, 5, 7)
    torch.testing.assert_close(ln2d(x), ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
    # NCHW memory: mmcv's CPU RoIAlign reads raw memory and silently misreads other layouts
    assert ln2d(x).is_contiguous()


def test_necks_default_to_vitdets_norm_eps():
    """mmcv's build_norm_layer would give 1e-5 to a norm_cfg without eps."""
    for neck in (build_in_mmdet(dict(type='mae_mm.SimpleFPN', in_channels=32, out_channels=16)),
                 build_in_mmdet(dict(type='mae_mm.ViTPyramid', in_channels=32))):
        eps = {m.eps for m in neck.modules() if isinstance(m, LayerNorm2d)}
        assert eps == {1e-6}, (type(neck).__name__, eps)


def test_simple_fpn_gives_strides_4_to_64_from_one_map():
    neck = build_in_mmdet(dict(type='mae_mm.SimpleFPN', in_channels=32, out_channels=16))
    assert isinstance(neck, SimpleFPN) and isinstance(neck.lateral_convs[0][1], LayerNorm2d)
    feat = torch.randn(2, 32, 8, 8, requires_grad=True)  # stride 16 of a 128 px image
    outs = neck((torch.randn(2, 32, 8, 8), feat))  # only the last map is used
    assert sizes(outs) == [(2, 16, 32, 32), (2, 16, 16, 16), (2, 16, 8, 8), (2, 16, 4, 4),
                           (2, 16, 2, 2)]
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in neck.parameters())
    # ViTDet halves the channels at each 2x upsampling
    assert neck.rescales[0].out_channels == 8 and neck.rescales[1].out_channels == 16
    # patch 8: the map is at stride 8, rescaled by 2 ... 1/4 to the same strides
    neck8 = SimpleFPN(32, 16, scales=(2, 1, 0.5, 0.25), num_outs=5)
    assert sizes(neck8((torch.randn(1, 32, 16, 16),))) == [(1, 16, 32, 32), (1, 16, 16, 16),
                                                           (1, 16, 8, 8), (1, 16, 4, 4),
                                                           (1, 16, 2, 2)]


def test_paper_pyramid_feeds_mmdets_fpn():
    """The 4-group variant: each group's last block rescaled by 4, 2, 1, 1/2, then FPN."""
    vit = MAEViT(arch=dict(embed_dims=32, num_layers=8, num_heads=2), img_size=64, patch_size=16,
                 out_type='featmap', out_indices=(1, 3, 5, 7), with_cls_token=False,
                 final_norm=False)
    neck = build_in_mmdet([
        dict(type='mae_mm.ViTPyramid', in_channels=32),
        dict(type='FPN', in_channels=[32] * 4, out_channels=16, num_outs=5,
             norm_cfg=dict(type='mae_mm.LN2d')),
    ])
    assert isinstance(neck[0], ViTPyramid) and type(neck[1]).__module__.startswith('mmdet.')
    # each group's last block's output, (B, L, D)
    feats, tokens = run_with_block_outputs(vit, (1, 3, 5, 7), torch.randn(2, 3, 64, 64))
    assert sizes(feats) == [(2, 32, 4, 4)] * 4  # all at stride 16
    for feat, block_out in zip(feats, tokens):
        torch.testing.assert_close(feat.flatten(2).transpose(1, 2), block_out)
    assert sizes(neck[0](feats)) == [(2, 32, 16, 16), (2, 32, 8, 8), (2, 32, 4, 4), (2, 32, 2, 2)]
    outs = neck(feats)
    assert sizes(outs) == [(2, 16, 16, 16), (2, 16, 8, 8), (2, 16, 4, 4), (2, 16, 2, 2),
                           (2, 16, 1, 1)]
    sum(o.sum() for o in outs).backward()
    # every block up to the last group's end receives gradient
    assert all(vit.blocks[i].mlp.fc2.weight.grad.abs().sum() > 0 for i in range(8))


def test_bad_neck_arguments_fail_clearly():
    with pytest.raises(ValueError, match=r'scale must be one of .* got 3'):
        ViTPyramid(32, scales=(4, 3, 1, 0.5))
    with pytest.raises(ValueError, match=r'num_outs \(3\) must be >= the number of scales'):
        SimpleFPN(32, num_outs=3)
    with pytest.raises(ValueError, match="got 1 feature maps; set the backbone's out_indices"):
        ViTPyramid(32)((torch.randn(1, 32, 4, 4),))
