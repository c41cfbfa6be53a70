"""A Linear layer whose bias gradient is summed over each sample's tokens first.

Autograd sums a Linear's bias gradient over all B x N rows of its output gradient in one go.
Inductor splits a column sum that long into partial sums of its own kernel, a second pass over
a gradient another kernel has just written. Summed over the N tokens of each sample first (B
partial sums kept in fp32), then over the batch, the first sum is short enough that Inductor
computes it in the kernel that writes the gradient: for fc1, GELU's backward. Counted as an
H100 would run it, that removes one read of each MLP's hidden gradient, 4 units of tokens x
width a block (``tools/analysis_tools/kernel_traffic.py``, docs/benchmarks.md).
"""
from typing import Optional

import torch
import torch.nn.functional as F


class _BiasSummedPerSample(torch.autograd.Function):
    """x + bias, with the bias gradient summed over dims 1..-2 (tokens), then over dim 0."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.bias_dtype = bias.dtype
        return x + bias.to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # grad (B, N, C) -> per sample (B, C) in fp32 -> (C,)
        per_sample = grad.sum(dim=tuple(range(1, grad.dim() - 1)), dtype=torch.float32)
        return grad, per_sample.sum(0).to(ctx.bias_dtype)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
           bias_grad_per_sample: bool = False) -> torch.Tensor:
    """``F.linear(x, weight, bias)``; with ``bias_grad_per_sample``, under torch.compile and
    for x of shape (B, N, ..., in), the bias gradient is summed per sample first (see the
    module's docstring). The values are the same either way; eager runs are unaffected."""
    if bias is None or not bias_grad_per_sample or x.dim() < 3 \
            or not torch.compiler.is_compiling():
        return F.linear(x, weight, bias)
    return _BiasSummedPerSample.apply(F.linear(x, weight), bias)
