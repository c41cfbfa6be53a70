"""Relative position terms for attention logits (both zero-initialised at transfer time).

- Decomposed (ViTDet / MViTv2): separate height and width tables ``rel_pos_h``,
  ``rel_pos_w`` of shape (2 * size - 1, head_dims), applied through the query.
- Bias table (BEiT): one learned scalar per head and relative offset,
  ``relative_position_bias_table``, with three extra entries for the class token.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def resize_rel_pos(table: torch.Tensor, length: int) -> torch.Tensor:
    """A decomposed relative-position table (2S - 1, C) interpolated linearly to (length, C)."""
    if table.shape[0] == length:
        return table
    return F.interpolate(table.t()[None], size=length, mode='linear')[0].t()


def resize_rel_pos_bias_table(table: torch.Tensor, src_grid: Tuple[int, int],
                              dst_grid: Tuple[int, int]) -> torch.Tensor:
    """A :class:`RelativePositionBias` table learned on ``src_grid`` for ``dst_grid``: the
    (2H - 1, 2W - 1) offsets interpolated bicubically per head, the 3 class-token rows kept."""
    (sh, sw), (dh, dw) = src_grid, dst_grid
    offsets, extra = table[:-3], table[-3:]
    if offsets.shape[0] != (2 * sh - 1) * (2 * sw - 1):
        raise ValueError(f'relative_position_bias_table of {tuple(table.shape)} rows is not '
                         f'that of a {tuple(src_grid)} grid ({(2 * sh - 1) * (2 * sw - 1)} + 3)')
    if tuple(src_grid) == tuple(dst_grid):
        return table
    grid = offsets.t().reshape(1, -1, 2 * sh - 1, 2 * sw - 1).float()  # (1, heads, 2H-1, 2W-1)
    grid = F.interpolate(grid, size=(2 * dh - 1, 2 * dw - 1), mode='bicubic', align_corners=False)
    return torch.cat([grid.reshape(table.shape[1], -1).t().to(table.dtype), extra], dim=0)


def _table_for(q_size: int, k_size: int, table: torch.Tensor) -> torch.Tensor:
    """Entries of ``table`` for every (query, key) pair along one axis: (q, k, C)."""
    table = resize_rel_pos(table, 2 * max(q_size, k_size) - 1)  # trained at another resolution
    q_scale, k_scale = max(k_size / q_size, 1.0), max(q_size / k_size, 1.0)
    offsets = (torch.arange(q_size, device=table.device)[:, None] * q_scale
               - torch.arange(k_size, device=table.device)[None, :] * k_scale
               + (k_size - 1) * k_scale)
    return table[offsets.long()]


def decomposed_rel_pos(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                       size: Tuple[int, int]) -> torch.Tensor:
    """Additive attention bias from decomposed relative positions.

    Args:
        q (Tensor): Queries (B, heads, H * W, C), unscaled.
        rel_pos_h, rel_pos_w (Tensor): Tables (2H - 1, C) and (2W - 1, C).
        size (tuple): The token grid (H, W).

    Returns:
        Tensor: (B, heads, H * W, H * W) to add to the attention logits.
    """
    h, w = size
    b, heads, _, c = q.shape
    r_q = q.reshape(b, heads, h, w, c)
    bias_h = torch.einsum('bnhwc,hkc->bnhwk', r_q, _table_for(h, h, rel_pos_h))  # (.., h, w, kh)
    bias_w = torch.einsum('bnhwc,wkc->bnhwk', r_q, _table_for(w, w, rel_pos_w))  # (.., h, w, kw)
    bias = bias_h[..., :, None] + bias_w[..., None, :]  # (b, n, h, w, kh, kw)
    return bias.reshape(b, heads, h * w, h * w)


class RelativePositionBias(nn.Module):
    """BEiT's per-head bias for every pair of tokens of a (H, W) grid plus a class token.

    On another grid (whole-image inference on a larger image) each pair keeps its learned
    offset's bias; offsets beyond the trained span take the bias of the span's edge.

    Args:
        grid_size (tuple): The token grid (H, W) the table is learned for.
        num_heads (int): Attention heads.
    """

    def __init__(self, grid_size: Tuple[int, int], num_heads: int) -> None:
        super().__init__()
        self.grid_size = tuple(grid_size)
        h, w = grid_size
        num_offsets = (2 * h - 1) * (2 * w - 1)
        # 3 more entries: cls -> token, token -> cls, cls -> cls
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_offsets + 3, num_heads))
        self.register_buffer('relative_position_index', self._index(self.grid_size),
                             persistent=False)

    def _index(self, grid: Tuple[int, int]) -> torch.Tensor:
        """Table row of every (query, key) pair of a ``grid`` plus class token: (N, N), long."""
        h, w = self.grid_size
        num_offsets = (2 * h - 1) * (2 * w - 1)
        coords = torch.stack(torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]),
                                            indexing='ij')).flatten(1)  # (2, n)
        rel = coords[:, :, None] - coords[:, None, :]  # (2, n, n)
        dy, dx = rel[0].clamp(-(h - 1), h - 1), rel[1].clamp(-(w - 1), w - 1)
        n = coords.shape[1]
        index = torch.full((n + 1, n + 1), num_offsets + 2, dtype=torch.long)
        index[1:, 1:] = (dy + h - 1) * (2 * w - 1) + (dx + w - 1)
        index[0, 1:] = num_offsets
        index[1:, 0] = num_offsets + 1
        return index

    def forward(self, grid: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """The bias for a (H, W) ``grid`` (default: the trained one), (1, heads, 1 + HW, 1 + HW)."""
        index = self.relative_position_index
        if grid is not None and tuple(grid) != self.grid_size:
            index = self._index(tuple(grid)).to(index.device)
        bias = self.relative_position_bias_table[index]  # (N, N, heads)
        return bias.permute(2, 0, 1).unsqueeze(0)
