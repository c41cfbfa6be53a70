"""``low_precision_residual``: under bf16 autocast the token stream between blocks stays bf16
(not promoted to fp32 by the position embeddings); without autocast nothing changes."""
from typing import List

import conftest
import pytest
import torch
from mmpretrain.structures import DataSample

from mae_mm.models import MAE, MAEViT
from mae_mm.models.layers import random_mask


def stream_mae(low_precision_residual: bool, mask_tokens_in_encoder: bool = False,
               compile: bool = False) -> MAE:
    return conftest.tiny_mae(decoder_depth=2, mask_tokens_in_encoder=mask_tokens_in_encoder,
                             low_precision_residual=low_precision_residual,
                             neck=dict(low_precision_residual=low_precision_residual),
                             compile=compile)


def trainable(model: MAE) -> List[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def loss_grads_and_stream_dtypes(model: MAE, autocast: bool):
    """The masked loss, the gradient of every trainable parameter, and the dtype of the token
    stream entering each encoder and decoder block."""
    dtypes: List[torch.dtype] = []
    blocks = [*model.backbone.blocks, *model.neck.decoder_blocks]
    handles = [b.register_forward_pre_hook(lambda m, args: dtypes.append(args[0].dtype))
               for b in blocks]
    torch.manual_seed(1)
    x, mask = torch.randn(4, 3, 32, 32), random_mask(4, 16, 12)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        loss = model.masked_loss(x, mask)
    grads = torch.autograd.grad(loss, trainable(model), allow_unused=True)
    for h in handles:
        h.remove()
    return loss, grads, dtypes


def with_and_without(mask_tokens_in_encoder: bool, autocast: bool):
    """:func:`loss_grads_and_stream_dtypes` of the same model with the option on, then off."""
    return tuple(loss_grads_and_stream_dtypes(stream_mae(on, mask_tokens_in_encoder), autocast)
                 for on in (True, False))


@pytest.mark.parametrize('mask_tokens_in_encoder', [False, True])
def test_without_autocast_nothing_changes(mask_tokens_in_encoder):
    (loss, grads, dtypes), (ref_loss, ref_grads, _) = with_and_without(mask_tokens_in_encoder,
                                                                       autocast=False)
    assert dtypes == [torch.float32] * 4
    assert torch.equal(loss, ref_loss)
    for got, want in zip(grads, ref_grads):
        assert (got is None) == (want is None)
        assert got is None or torch.equal(got, want)


@pytest.mark.parametrize('mask_tokens_in_encoder', [False, True])
def test_bf16_stream_under_autocast_close_to_the_fp32_stream(mask_tokens_in_encoder):
    (loss, grads, dtypes), (ref_loss, ref_grads, ref_dtypes) = with_and_without(
        mask_tokens_in_encoder, autocast=True)
    assert dtypes == [torch.bfloat16] * 4  # 2 encoder + 2 decoder blocks
    assert ref_dtypes == [torch.float32] * 4  # autocast's default: an fp32 residual stream
    assert loss.dtype == torch.float32 and not torch.equal(loss, ref_loss)
    torch.testing.assert_close(loss, ref_loss, rtol=2e-2, atol=0)
    assert sum(g is None for g in grads) == int(mask_tokens_in_encoder)  # neck.mask_token
    for got, want in zip(grads, ref_grads):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.dtype == torch.float32 and torch.isfinite(got).all()
            cos = torch.nn.functional.cosine_similarity(got.flatten(), want.flatten(), dim=0)
            assert cos > 0.99, cos


def test_fp16_autocast_keeps_the_fp32_stream():
    """Only bf16 is carried in low precision: an fp16 stream could overflow."""
    dtypes = []
    model = stream_mae(True)
    for b in [*model.backbone.blocks, *model.neck.decoder_blocks]:
        b.register_forward_pre_hook(lambda m, args: dtypes.append(args[0].dtype))
    x, mask = torch.randn(4, 3, 32, 32), random_mask(4, 16, 12)
    with torch.autocast('cpu', dtype=torch.float16):
        model.masked_loss(x, mask)
    assert dtypes == [torch.float32] * 4


def test_layer_scale_keeps_the_stream_bf16():
    """An fp32 LayerScale gamma would promote the stream back to fp32 after the first block."""
    vit = MAEViT(arch=dict(embed_dims=32, num_layers=3, num_heads=4), img_size=32, patch_size=8,
                 layer_scale_init=0.1, low_precision_residual=True)
    dtypes = []
    for blk in vit.blocks:
        blk.register_forward_hook(lambda m, args, out: dtypes.append((args[0].dtype, out.dtype)))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vit(torch.randn(2, 3, 32, 32), random_mask(2, 16, 12))
    assert dtypes == [(torch.bfloat16, torch.bfloat16)] * 3


@pytest.mark.slow
def test_compiled_bf16_stream_matches_eager():
    x, mask = torch.randn(2, 3, 32, 32), random_mask(2, 16, 12)
    samples = [DataSample().set_mask(m) for m in mask]
    eager, compiled = stream_mae(True), stream_mae(True, compile=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        want = eager.loss(x, samples)['loss']
        got = compiled.loss(x, samples)['loss']
    torch.testing.assert_close(got, want, rtol=1e-2, atol=0)
    want_grads = torch.autograd.grad(want, trainable(eager), allow_unused=True)
    got_grads = torch.autograd.grad(got, trainable(compiled), allow_unused=True)
    for g, w in zip(got_grads, want_grads):
        assert (g is None) == (w is None)
        if g is not None:
            cos = torch.nn.functional.cosine_similarity(g.flatten(), w.flatten(), dim=0)
            assert cos > 0.99, cos
