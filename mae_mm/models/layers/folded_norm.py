"""A LayerNorm folded into the linear layer after it, so that backward keeps one tensor for both.

``linear(norm(x))`` equals ``F.linear(normalize(x, norm.eps), *fold(norm, linear))``: the
norm's scale and shift move into the layer's weight and bias. The linear layer keeps its input,
the normalized tokens, for its weight gradient; :func:`normalize`'s backward needs only that
same tensor and a per-token scale, so the norm's input is no longer kept for backward.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn


class _Normalize(torch.autograd.Function):
    """(x - mean) / std over the last dimension, in ``dtype``; keeps its output, not x."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float, dtype: torch.dtype) -> torch.Tensor:
        x32 = x.float()
        var, mean = torch.var_mean(x32, dim=-1, keepdim=True, correction=0)
        rstd = torch.rsqrt(var + eps)  # (..., 1)
        out = (x32 - mean) * rstd  # (..., D) fp32
        if dtype != out.dtype:  # not a no-op .to: torch 2.11's compile then zeroes x's gradient
            out = out.to(dtype)
        ctx.save_for_backward(out, rstd)
        ctx.in_dtype = x.dtype
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor, None, None]:
        out, rstd = ctx.saved_tensors
        y, g = out.float(), grad.float()
        # d/dx of (x - mean) * rstd, written with the output y in place of x
        dx = rstd * (g - g.mean(-1, keepdim=True) - y * (g * y).mean(-1, keepdim=True))
        return dx.to(ctx.in_dtype), None, None


def normalize(x: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm of ``x`` (..., D) without its scale and shift, computed in fp32.

    The output is in autocast's dtype when autocast is on (the dtype the next linear layer
    casts it to, so both keep the same tensor), else in ``x``'s.
    """
    device = x.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    return _Normalize.apply(x, eps, dtype)


def fold(norm: Optional[nn.LayerNorm], linear: nn.Linear
         ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``linear``'s weight (out, in) and bias (out,) with ``norm``'s scale and shift folded in;
    its own when ``norm`` is None."""
    if norm is None:
        return linear.weight, linear.bias
    weight = linear.weight * norm.weight  # input column j scaled by norm.weight[j]
    shift = (linear.weight * norm.bias).sum(-1)  # W @ shift, as fp32 elementwise ops
    return weight, shift if linear.bias is None else linear.bias + shift
