"""A LayerNorm folded into the next linear layer computes the same, and backward keeps only the
normalized tokens (fold_norm)."""
import copy

import pytest
import torch
import torch.nn as nn
from conftest import with_moved_norms

from mae_mm.benchmark.saved import saved_activations
from mae_mm.models.layers import Block
from mae_mm.models.layers.folded_norm import fold, normalize


def norm_and_linear() -> nn.Module:
    """LayerNorm(32) -> Linear(32, 48) with a scale and shift far from 1 and 0."""
    torch.manual_seed(0)
    return with_moved_norms(nn.Sequential(nn.LayerNorm(32, eps=1e-6), nn.Linear(32, 48)))


def folded(layers: nn.Module, x: torch.Tensor) -> torch.Tensor:
    norm, linear = layers
    return nn.functional.linear(normalize(x, norm.eps), *fold(norm, linear))


def grads(layers: nn.Module, forward, x: torch.Tensor) -> list:
    x = x.clone().requires_grad_()
    out = forward(layers, x)
    return [out, *torch.autograd.grad((out.float() * torch.linspace(-1, 1, 48)).sum(),
                                      [x, *layers.parameters()])]


@pytest.mark.parametrize('x_scale, x_shift', [(1.0, 0.0), (3.0, 5.0)])
def test_fold_matches_layer_norm_then_linear(x_scale, x_shift):
    """Output, input gradient and every parameter's gradient, fp32."""
    layers = norm_and_linear()
    x = torch.randn(2, 7, 32) * x_scale + x_shift
    for got, want in zip(grads(layers, folded, x), grads(layers, lambda m, t: m(t), x)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_compiled_fold_matches_eager_in_fp32():
    """Compiled in fp32, the input gradient too. torch 2.11's compile returned a zero input
    gradient from an autograd.Function whose forward casts to the dtype it already has
    (``normalize``'s did, before it cast only when needed)."""
    layers = norm_and_linear()
    x = torch.randn(2, 7, 32)
    torch._dynamo.reset()
    compiled = torch.compile(folded, backend='aot_eager')
    for got, want in zip(grads(layers, compiled, x), grads(layers, folded, x)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_fold_under_bf16_autocast_keeps_one_token_tensor():
    """Under autocast the normalized tokens are bf16, kept once for the norm's backward and the
    linear layer's weight gradient alike (LayerNorm -> Linear keeps the norm's input as
    well); the results agree with LayerNorm -> Linear to bf16 precision."""
    layers = norm_and_linear()
    x = torch.randn(2, 7, 32, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert normalize(x, 1e-6).dtype == torch.bfloat16
        tokens = {}
        for name, forward in (('folded', folded), ('plain', lambda m, t: m(t))):
            # the norm's input is an activation (freed unless kept), as in a network
            kept = saved_activations(lambda: forward(layers, x * 2).float().sum(),
                                     [*layers.parameters(), x])
            tokens[name] = [(g.dtype, g.count) for g in kept if g.shape[-1] == 32 and
                            g.shape[:-1] in ((2, 7), (14,))]
        assert tokens['folded'] == [(torch.bfloat16, 1)]
        assert sorted(tokens['plain'], key=str) == [(torch.bfloat16, 1), (torch.float32, 1)]
        for got, want in zip(grads(layers, folded, x), grads(layers, lambda m, t: m(t), x)):
            torch.testing.assert_close(got.float(), want.float(), rtol=2e-2, atol=2e-2)


def test_block_with_fold_norm_matches_block():
    """Both norms of a block folded, on the whole-sequence and the kept-queries paths."""
    torch.manual_seed(0)
    plain = with_moved_norms(Block(32, 4))
    fold_block = copy.deepcopy(plain)
    fold_block.fold_norm = True
    x = torch.randn(2, 9, 32)
    keep = torch.tensor([[0, 3, 4], [8, 1, 2]])
    for kept in (None, keep):
        outs = []
        for block in (fold_block, plain):
            t = x.clone().requires_grad_()
            out = block(t, keep=kept)
            outs.append([out, *torch.autograd.grad(out.pow(2).sum(), [t, *block.parameters()])])
        for got, want in zip(*outs):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_block_with_fold_norm_refuses_windows():
    """Padded windows would see the folded shift where LayerNorm -> pad sees zeros."""
    block = Block(32, 4, window_size=4, fold_norm=True)
    with pytest.raises(ValueError, match='fold_norm does not support window attention'):
        block(torch.randn(2, 25, 32), (5, 5))
