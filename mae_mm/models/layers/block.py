"""Pre-norm Transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .attention import Attention
from .bias_grad import linear
from .drop_path import DropPath
from .folded_norm import fold, normalize
from .masking import gather_tokens


def bf16_stream(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The token stream ``x`` cast to ``dtype`` (autocast's, read off a layer's output) when
    that is bf16; otherwise unchanged: fp32 without autocast, and under fp16 autocast too,
    where a half-precision stream could overflow."""
    return x.to(dtype) if dtype == torch.bfloat16 else x


def recomputed(fn: nn.Module, x: torch.Tensor, enabled: bool) -> torch.Tensor:
    """``fn(x)``; when ``enabled`` and under torch.compile, the compiled backward recomputes
    the output from ``x`` instead of keeping it. Eager runs are unaffected."""
    if enabled and torch.compiler.is_compiling():
        return checkpoint(fn, x, use_reentrant=False)
    return fn(x)


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2, the official parameter names.

    Args:
        embed_dims (int): Input and output width.
        hidden_dims (int): Width of the hidden layer.
        recompute_act (bool): Under torch.compile, keep only fc1's output for the backward
            pass and recompute GELU there. The compiled graph otherwise keeps GELU's output
            too (fc2's weight gradient reads it), two hidden-width tensors a block. Eager
            runs are unaffected. Defaults to False.
        fuse_bias_grad (bool): Under torch.compile, sum fc1's bias gradient per sample
            first, so that GELU's backward kernel computes it (:mod:`.bias_grad`). Eager runs
            are unaffected. Defaults to False.
    """

    def __init__(self, embed_dims: int, hidden_dims: int, recompute_act: bool = False,
                 fuse_bias_grad: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.recompute_act = recompute_act
        self.fuse_bias_grad = fuse_bias_grad

    def forward(self, x: torch.Tensor, norm: Optional[nn.LayerNorm] = None) -> torch.Tensor:
        """x (..., embed_dims) -> (..., embed_dims); with ``norm``, x is ``normalize(t,
        norm.eps)`` and fc1 applies ``norm``'s scale and shift (:mod:`.folded_norm`)."""
        weight, bias = fold(norm, self.fc1)
        h = linear(x, weight, bias, self.fuse_bias_grad)  # (..., hidden)
        return self.fc2(recomputed(self.act, h, self.recompute_act))


class LayerScale(nn.Module):
    """Per-channel residual scale (CaiT / BEiT), parameter ``gamma``."""

    def __init__(self, embed_dims: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((embed_dims,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


def window_partition(x: torch.Tensor, window: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """(B, H, W, C) -> (B * nW, window * window, C), padding H, W up to multiples of window."""
    b, h, w, c = x.shape
    pad_h, pad_w = (window - h % window) % window, (window - w % window) % window
    x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.reshape(b, hp // window, window, wp // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c), (hp, wp)


def window_unpartition(x: torch.Tensor, window: int, padded: Tuple[int, int],
                       size: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: -> (B, H, W, C) with the padding removed."""
    hp, wp = padded
    b = x.shape[0] // ((hp // window) * (wp // window))
    x = x.reshape(b, hp // window, wp // window, window, window, -1).transpose(2, 3)
    return x.reshape(b, hp, wp, -1)[:, :size[0], :size[1]]


class Block(nn.Module):
    """Transformer block with official parameter names (norm1, attn, norm2, mlp).

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden width / embed_dims. Defaults to 4.
        qkv_bias (bool): Bias on qkv. Defaults to True.
        drop_path (float): Stochastic depth rate of this block. Defaults to 0.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6 (MAE).
        layer_scale_init (float): > 0 adds LayerScale ``ls1`` / ``ls2``. Defaults to 0 (off).
        fused_attn (bool): See :class:`Attention`.
        window_size (int): > 0 attends within non-overlapping windows of this size
            (ViTDet); the input must then be a (B, H * W, D) grid with no class token.
        rel_pos_size (tuple, optional): Grid for decomposed relative positions.
        rel_pos_bias_size (tuple, optional): Grid for BEiT's relative position bias.
        short_attn (bool): See :class:`Attention`.
        recompute_norm (bool): Under torch.compile, keep only the inputs of ``norm1`` and
            ``norm2`` for the backward pass and recompute their outputs there. The compiled
            graph otherwise keeps both outputs too (the weight gradients of ``qkv`` and
            ``fc1`` read them), two token-width tensors a block. Eager runs are unaffected.
            Defaults to False.
        fold_norm (bool): Fold ``norm1`` / ``norm2``'s scale and shift into ``attn.qkv`` /
            ``mlp.fc1`` (:mod:`.folded_norm`), so that each norm's backward reads the
            normalized tokens those layers keep anyway, and its input (two token-width tensors
            a block) is not kept. No recomputation; the same parameters. Not with window
            attention. Defaults to False.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_path: float = 0.0, norm_eps: float = 1e-6,
                 layer_scale_init: float = 0.0, fused_attn: bool = True, window_size: int = 0,
                 rel_pos_size: Optional[Tuple[int, int]] = None,
                 rel_pos_bias_size: Optional[Tuple[int, int]] = None,
                 short_attn: bool = True, recompute_norm: bool = False,
                 fold_norm: bool = False) -> None:
        super().__init__()
        self.window_size = window_size
        self.recompute_norm = recompute_norm
        self.fold_norm = fold_norm
        if window_size > 0 and rel_pos_size is not None:
            rel_pos_size = (window_size, window_size)
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = Attention(embed_dims, num_heads, qkv_bias, fused_attn, rel_pos_size,
                              rel_pos_bias_size, short_attn)
        self.ls1 = LayerScale(embed_dims, layer_scale_init) if layer_scale_init > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio))
        self.ls2 = LayerScale(embed_dims, layer_scale_init) if layer_scale_init > 0 else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _normed(self, norm: nn.LayerNorm, x: torch.Tensor
                ) -> Tuple[torch.Tensor, Optional[nn.LayerNorm]]:
        """``norm(x)`` and None; with ``fold_norm``, x normalized without the scale and shift
        and ``norm``, which the next layer applies."""
        if self.fold_norm:
            return normalize(x, norm.eps), norm
        return recomputed(norm, x, self.recompute_norm), None

    def _attend(self, x: torch.Tensor, grid: Optional[Tuple[int, int]],
                norm: Optional[nn.LayerNorm]) -> torch.Tensor:
        if self.window_size <= 0:
            return self.attn(x, grid, norm=norm)
        b, _, d = x.shape
        windows, padded = window_partition(x.reshape(b, grid[0], grid[1], d), self.window_size)
        windows = self.attn(windows, (self.window_size, self.window_size), norm=norm)
        return window_unpartition(windows, self.window_size, padded, grid).reshape(b, -1, d)

    def forward(self, x: torch.Tensor, grid: Optional[Tuple[int, int]] = None,
                keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, N, D) -> (B, N, D); ``grid`` (H, W) is needed for windows / rel-pos only.

        ``keep`` (B, K) token indices computes only those tokens' outputs -> (B, K, D), with
        every token as key and value: the same numbers as ``gather_tokens(forward(x), keep)``
        for about K / N of the work. Global attention only.
        """
        dtype = x.dtype  # kept: a bf16 stream stays bf16 through an fp32 LayerScale
        if keep is not None and self.window_size > 0:
            raise ValueError('a block with window attention computes every token; pass '
                             'keep=None')
        if self.fold_norm and self.window_size > 0:
            raise ValueError('fold_norm does not support window attention: the zero padding of '
                             'windows would pass through the folded LayerNorm shift; set '
                             'fold_norm=False (recompute_norm works with windows)')
        h, folded = self._normed(self.norm1, x)
        if keep is None:
            x = x + self.drop_path(self.ls1(self._attend(h, grid, folded)))
        else:
            x = gather_tokens(x, keep) + self.drop_path(
                self.ls1(self.attn(h, grid, queries=gather_tokens(h, keep), norm=folded)))
        h, folded = self._normed(self.norm2, x)
        return (x + self.drop_path(self.ls2(self.mlp(h, folded)))).to(dtype)
