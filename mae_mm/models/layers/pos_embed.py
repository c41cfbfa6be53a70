"""Fixed 2-D sine-cosine position embeddings and their resizing."""
import math
from typing import Optional

import torch
import torch.nn.functional as F


def _sincos_1d(embed_dims: int, positions: torch.Tensor) -> torch.Tensor:
    """Sin-cos code of 1-D positions: (N,) -> (N, embed_dims); half sin, half cos."""
    omega = torch.arange(embed_dims // 2, dtype=torch.float64) / (embed_dims / 2.0)
    omega = 1.0 / 10000**omega  # (D/2,)
    angles = positions.double().reshape(-1)[:, None] * omega[None, :]  # (N, D/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_pos_embed_2d(embed_dims: int, grid_size: tuple, cls_token: bool = True) -> torch.Tensor:
    """The MAE position embedding of a (h, w) patch grid.

    The first half of the channels encodes the column (w) index and the second half
    the row (h) index, the channel order of the official MAE code, so that official
    checkpoints keep their meaning.

    Args:
        embed_dims (int): Channels; must be divisible by 4.
        grid_size (tuple): (h, w) patches.
        cls_token (bool): Prepend an all-zero row for the class token.

    Returns:
        Tensor: (1 + h * w, embed_dims) if ``cls_token`` else (h * w, embed_dims), float32.
    """
    if embed_dims % 4 != 0:
        raise ValueError(f'sin-cos position embedding needs embed_dims divisible by 4, got {embed_dims}')
    h, w = grid_size
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    emb = torch.cat([_sincos_1d(embed_dims // 2, cols), _sincos_1d(embed_dims // 2, rows)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, embed_dims, dtype=emb.dtype), emb], dim=0)
    return emb.float()


def resize_pos_embed(pos_embed: torch.Tensor, dst_grid: tuple, num_extra_tokens: int = 1,
                     mode: str = 'bicubic', src_grid: Optional[tuple] = None) -> torch.Tensor:
    """Resize a (1, extra + h * w, D) position embedding to a new patch grid.

    The extra (class) tokens are kept as they are; the grid part is interpolated
    (bicubic by default, as MAE fine-tuning and ViTDet do). ``src_grid`` (h, w) is the
    embedding's own grid; by default a square one, as every MAE checkpoint's is.
    """
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    if src_grid is None:
        side = math.isqrt(grid.shape[1])
        if side * side != grid.shape[1]:
            raise ValueError(f'position embedding has {grid.shape[1]} grid tokens, not a square '
                             f'grid; check num_extra_tokens ({num_extra_tokens}) or pass src_grid')
        src_grid = (side, side)
    src_grid = tuple(src_grid)
    if src_grid[0] * src_grid[1] != grid.shape[1]:
        raise ValueError(f'src_grid {src_grid} does not hold the {grid.shape[1]} grid tokens')
    if src_grid == tuple(dst_grid):
        return pos_embed
    dims = grid.shape[-1]
    grid = grid.reshape(1, *src_grid, dims).permute(0, 3, 1, 2)  # (1, D, h, w)
    grid = F.interpolate(grid.float(), size=tuple(dst_grid), mode=mode, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dims).to(pos_embed.dtype)
    return torch.cat([extra, grid], dim=1)
