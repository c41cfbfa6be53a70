"""Multi-head self-attention with a fused (SDPA) path and optional relative positions."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .folded_norm import fold
from .rel_pos import RelativePositionBias, decomposed_rel_pos
from .short_attention import short_attention, short_attention_supported


class Attention(nn.Module):
    """Self-attention over (B, N, D) tokens; parameters ``qkv`` and ``proj`` as in MAE/timm.

    Args:
        embed_dims (int): Token width D.
        num_heads (int): Heads; D must be divisible by it.
        qkv_bias (bool): Bias on the qkv projection. Defaults to True.
        fused_attn (bool): Use ``F.scaled_dot_product_attention`` (flash / memory-efficient
            kernels on GPUs); False computes softmax(q k^T) v explicitly. Defaults to True.
        rel_pos_size (tuple, optional): Token grid (H, W) for ViTDet's decomposed relative
            positions ``rel_pos_h`` / ``rel_pos_w`` (zero-initialised). Inputs then carry no
            class token.
        rel_pos_bias_size (tuple, optional): Token grid (H, W) for BEiT's relative position
            bias table (zero-initialised). Inputs then carry a class token.
        short_attn (bool): With ``fused_attn``, attend over sequences of at most 64 tokens
            (MAE's visible patches) with mae_mm's Triton kernel when the tokens are bf16 / fp16
            on CUDA (:mod:`.short_attention`); SDPA otherwise. Defaults to True.
        fuse_bias_grad (bool): Where the short kernel attends, hand it qkv's bias apart: it
            adds the bias and sums its gradient as it writes the qkv gradient, which autograd
            would read again for that sum. Elsewhere no effect. Defaults to False.
    """

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool = True,
                 fused_attn: bool = True, rel_pos_size: Optional[Tuple[int, int]] = None,
                 rel_pos_bias_size: Optional[Tuple[int, int]] = None,
                 short_attn: bool = True, fuse_bias_grad: bool = False) -> None:
        super().__init__()
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = self.head_dims**-0.5
        self.fused_attn = fused_attn
        self.short_attn = short_attn
        self.fuse_bias_grad = fuse_bias_grad
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.rel_pos_size = rel_pos_size
        if rel_pos_size is not None:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_pos_size[0] - 1, self.head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_pos_size[1] - 1, self.head_dims))
        self.rel_pos_bias = (RelativePositionBias(rel_pos_bias_size, num_heads)
                             if rel_pos_bias_size is not None else None)

    def _bias(self, q: torch.Tensor, grid: Optional[Tuple[int, int]]) -> Optional[torch.Tensor]:
        """Additive logits bias (B or 1, heads, N, N), or None without relative positions."""
        bias = None
        if self.rel_pos_size is not None:
            # through the unscaled queries, as ViTDet / SAM: the tables' learned scale
            bias = decomposed_rel_pos(q, self.rel_pos_h, self.rel_pos_w, grid)
        if self.rel_pos_bias is not None:
            rpb = self.rel_pos_bias(grid)
            bias = rpb if bias is None else bias + rpb
        return bias

    def _qkv(self, x: torch.Tensor, queries: torch.Tensor, norm: Optional[nn.LayerNorm]
             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, heads, M, head_dims) of the queries, k and v (B, heads, N, head_dims) of every
        token."""
        b, n, d = x.shape
        heads = (self.num_heads, self.head_dims)
        # rows: q, then k, then v
        weight, bias = fold(norm, self.qkv)
        q = F.linear(queries, weight[:d], None if bias is None else bias[:d])
        kv = F.linear(x, weight[d:], None if bias is None else bias[d:])
        k, v = kv.reshape(b, n, 2, *heads).permute(2, 0, 3, 1, 4).unbind(0)
        return q.reshape(b, -1, *heads).transpose(1, 2), k, v

    def _short_kernel(self, x: torch.Tensor) -> bool:
        """Whether mae_mm's short-sequence kernel attends over the qkv projection of x."""
        kind = x.device.type  # the projection's dtype: autocast's where it casts x (not fp64)
        autocast = torch.is_autocast_enabled(kind) and x.dtype != torch.float64
        dtype = torch.get_autocast_dtype(kind) if autocast else x.dtype
        return (self.fused_attn and self.short_attn and self.rel_pos_size is None
                and self.rel_pos_bias is None
                and short_attention_supported(x, self.head_dims, dtype=dtype))

    def _short_attend(self, x: torch.Tensor, norm: Optional[nn.LayerNorm]) -> torch.Tensor:
        """(B, N, D) -> (B, N, D) through mae_mm's kernel, handing it qkv's bias with
        ``fuse_bias_grad``."""
        weight, bias = fold(norm, self.qkv)
        if self.fuse_bias_grad and bias is not None:
            out = short_attention(F.linear(x, weight), self.num_heads, self.head_dims, bias)
        else:
            out = short_attention(F.linear(x, weight, bias), self.num_heads, self.head_dims)
        return self.proj(out)

    def forward(self, x: torch.Tensor, grid: Optional[Tuple[int, int]] = None,
                queries: Optional[torch.Tensor] = None,
                norm: Optional[nn.LayerNorm] = None) -> torch.Tensor:
        """x: (B, N, D) -> (B, N, D). ``grid`` is the (H, W) token grid for decomposed rel-pos.

        ``queries`` (B, M, D), a subset of x's tokens, computes only their outputs -> (B, M, D);
        every token of x is still attended to. Not with relative positions.

        ``norm``: x is ``normalize(t, norm.eps)`` of tokens t whose LayerNorm is ``norm``;
        its scale and shift are applied here, folded into qkv (:mod:`.folded_norm`).
        """
        if queries is not None and (self.rel_pos_size is not None or self.rel_pos_bias is not None):
            raise ValueError('attention over a subset of queries does not support relative '
                             'positions; pass queries=None')
        if queries is None:
            if self._short_kernel(x):
                return self._short_attend(x, norm)
            qkv = self.qkv(x) if norm is None else F.linear(x, *fold(norm, self.qkv))  # (B, N, 3D)
            b, n, _ = x.shape
            q, k, v = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            q, k, v = self._qkv(x, queries, norm)
        # q (B, heads, M, head_dims), k and v (B, heads, N, head_dims)
        bias = self._bias(q, grid)
        if bias is not None:
            bias = bias.to(q.dtype)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)  # (B, heads, M, N)
            if bias is not None:
                attn = attn + bias
            x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).flatten(2))
