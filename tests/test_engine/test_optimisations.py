"""Speed options leave the numerics unchanged: compiled vs eager, bf16 wrapper semantics."""
import pytest
import torch
from mmpretrain.structures import DataSample

from mae_mm.models import MAE

TINY = dict(embed_dims=32, num_layers=2, num_heads=4)


def tiny_mae() -> MAE:
    torch.manual_seed(0)
    return MAE(backbone=dict(type='MAEViT', arch=TINY, img_size=32, patch_size=8),
               neck=dict(type='MAEDecoder', decoder_embed_dims=16, decoder_depth=1,
                         decoder_num_heads=2),
               head=dict(type='MAEHead', norm_pix=True))


def fixed_batch():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 16)
    mask[0, 4:] = 1
    mask[1, :12] = 1
    return x, [DataSample().set_mask(m) for m in mask]


@pytest.mark.slow
def test_compiled_model_matches_eager():
    model = tiny_mae()
    x, samples = fixed_batch()
    eager = model.loss(x, samples)['loss']
    grads = torch.autograd.grad(eager, model.backbone.blocks[0].attn.qkv.weight)
    model.backbone = torch.compile(model.backbone)
    model.neck = torch.compile(model.neck)
    compiled = model.loss(x, samples)['loss']
    grads_c = torch.autograd.grad(compiled, model.backbone._orig_mod.blocks[0].attn.qkv.weight)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads_c, grads, rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='AmpOptimWrapper needs a GPU')
def test_bf16_wrapper_has_no_scaler_and_fp16_keeps_it():
    from mmengine.optim import build_optim_wrapper
    model = tiny_mae().cuda()
    for dtype, scales in (('bfloat16', False), ('float16', True)):
        wrapper = build_optim_wrapper(model, dict(type='mae_mm.AmpOptimWrapper', dtype=dtype,
                                                  optimizer=dict(type='AdamW', lr=1e-3)))
        assert wrapper.scales_loss is scales
        x, samples = fixed_batch()
        with wrapper.optim_context(model):
            loss = model.loss(x.cuda(), [s.to('cuda') for s in samples])['loss']
        wrapper.update_params(loss)
        assert all(torch.isfinite(p).all() for p in model.parameters())
