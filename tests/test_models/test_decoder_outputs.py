"""The decoder predicts only the masked patches the loss reads: the same loss and gradients
as predicting every patch and weighting by the mask."""
from functools import partial

import conftest
import pytest
import torch
from mmpretrain.structures import DataSample

from mae_mm.benchmark.models import PredictEveryPatchMAE
from mae_mm.models import MAE, MAEDecoder
from mae_mm.models.algorithms.mae import _COMPILED
from mae_mm.models.layers import Block, masked_ids, random_mask


tiny_mae = partial(conftest.tiny_mae, decoder_depth=2)  # a last decoder block and one before


@pytest.mark.parametrize('fused_attn', [True, False])
@pytest.mark.parametrize('qkv_bias', [True, False])
def test_block_on_kept_tokens_equals_the_full_blocks_rows(fused_attn, qkv_bias):
    torch.manual_seed(0)
    block = Block(16, 2, qkv_bias=qkv_bias, fused_attn=fused_attn)
    x = torch.randn(3, 9, 16, requires_grad=True)
    keep = torch.stack([torch.randperm(9)[:5] for _ in range(3)])  # any order, per sample
    full = block(x).gather(1, keep[..., None].expand(-1, -1, 16))
    kept = block(x, keep=keep)
    assert kept.shape == (3, 5, 16)
    torch.testing.assert_close(kept, full)
    weights = torch.randn_like(full)
    grads = torch.autograd.grad((full * weights).sum(), [x, *block.parameters()])
    kept_grads = torch.autograd.grad((kept * weights).sum(), [x, *block.parameters()])
    for got, want in zip(kept_grads, grads):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize('mask_tokens_in_encoder', [False, True])
def test_loss_and_gradients_equal_predicting_every_patch(mask_tokens_in_encoder):
    model = tiny_mae(mask_tokens_in_encoder=mask_tokens_in_encoder)
    every = tiny_mae(PredictEveryPatchMAE, mask_tokens_in_encoder=mask_tokens_in_encoder)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), every.parameters()))
    x, mask = torch.randn(4, 3, 32, 32), random_mask(4, 16, 12)
    loss, want = model.masked_loss(x, mask), every.masked_loss(x, mask)
    torch.testing.assert_close(loss, want)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)  # the ablation has no
    wanted = torch.autograd.grad(want, [p for p in every.parameters() if p.requires_grad],
                                 allow_unused=True)  # use for neck.mask_token
    assert [g is None for g in grads] == [g is None for g in wanted]
    assert sum(g is None for g in grads) == int(mask_tokens_in_encoder)
    for got, ref in zip(grads, wanted):
        if ref is not None:
            torch.testing.assert_close(got, ref)


@pytest.mark.slow
def test_compiled_loss_is_the_models_own():
    """A subclass's masked_loss is what gets compiled for it (the benchmark's baseline)."""
    x, mask = torch.randn(2, 3, 32, 32), random_mask(2, 16, 12)
    samples = [DataSample().set_mask(m) for m in mask]
    for cls in (MAE, PredictEveryPatchMAE):
        eager = cls.masked_loss(tiny_mae(cls), x, mask)
        compiled = tiny_mae(cls, compile=True).loss(x, samples)['loss']
        torch.testing.assert_close(compiled, eager)
        assert (cls.masked_loss, repr([])) in _COMPILED


def test_decoder_predicts_the_requested_patches_in_their_order():
    model = tiny_mae().eval()
    x, mask = torch.randn(2, 3, 32, 32), random_mask(2, 16, 12)
    latent, mask, ids_restore = model.backbone(x, mask)
    ids = masked_ids(mask, 12)
    assert torch.equal(mask.gather(1, ids), torch.ones(2, 12))  # exactly the masked ones
    assert (ids.diff(dim=1) > 0).all()  # ascending
    every = model.neck(latent, ids_restore)
    some = model.neck(latent, ids_restore, ids.flip(1))
    torch.testing.assert_close(some, every.gather(1, ids.flip(1)[..., None].expand(-1, -1, 192)))


def test_kept_tokens_need_global_attention_and_the_decoder_a_block():
    window = Block(16, 2, window_size=2)
    with pytest.raises(ValueError, match='window attention.*keep=None'):
        window(torch.randn(1, 16, 16), (4, 4), keep=torch.zeros(1, 2, dtype=torch.long))
    rel_pos = Block(16, 2, rel_pos_size=(4, 4))
    with pytest.raises(ValueError, match='relative positions.*queries=None'):
        rel_pos(torch.randn(1, 16, 16), (4, 4), keep=torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match='decoder_depth must be at least 1, got 0'):
        MAEDecoder(num_patches=16, patch_size=8, decoder_depth=0)


def test_mask_token_encoder_checks_the_mask_count_too():
    model = tiny_mae(mask_tokens_in_encoder=True)
    mask = torch.zeros(2, 16)
    mask[:, 5:] = 1  # 11 masked, the model masks 12
    with pytest.raises(ValueError, match='must have 12 masked patches'):
        model.masked_loss(torch.randn(2, 3, 32, 32), mask)
