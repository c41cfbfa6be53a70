"""Image -> non-overlapping patch tokens (a strided convolution named ``proj``)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .masking import gather_tokens


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_size(name: str, value: object, allow_pair: bool) -> None:
    """A config size must be an int (or, where allowed, an (h, w) pair of ints)."""
    if _is_int(value) or (allow_pair and isinstance(value, (tuple, list)) and len(value) == 2
                          and all(_is_int(v) for v in value)):
        return
    kinds = 'an int or an (h, w) pair of ints' if allow_pair else 'an int'
    raise TypeError(f'{name} must be {kinds}, got {value!r} ({type(value).__name__}); '
                    f'write e.g. {name}={224 if allow_pair else 16}')


class PatchEmbed(nn.Module):
    """(B, C, H, W) -> (B, H/p * W/p, D), patches in row-major order.

    Args:
        img_size (int | tuple): Expected input size (H, W); must be divisible by ``patch_size``.
        patch_size (int): Patch side p.
        in_channels (int): Image channels C.
        embed_dims (int): Token width D.
    """

    def __init__(self, img_size: Union[int, Tuple[int, int]], patch_size: int, in_channels: int,
                 embed_dims: int) -> None:
        super().__init__()
        check_size('img_size', img_size, allow_pair=True)
        check_size('patch_size', patch_size, allow_pair=False)
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(f'img_size {img_size} is not divisible by patch_size {patch_size}; '
                             f'use a multiple of {patch_size} (e.g. 224 for patch 16)')
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid_size: Tuple[int, int] = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)

    def embed_patches(self, x: torch.Tensor, ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The same embedding as one matrix multiply over (a selection of) patches.

        (B, C, H, W) at ``img_size`` -> (B, L, D), or (B, K, D) for the patches ``ids``
        (B, K): masked patches are never embedded. Faster than the strided convolution on
        GPUs, with the same weights.
        """
        b, c = x.shape[:2]
        (h, w), p = self.grid_size, self.patch_size
        patches = x.reshape(b, c, h, p, w, p).permute(0, 2, 4, 1, 3, 5).reshape(b, h * w, c * p * p)
        if ids is not None:
            patches = gather_tokens(patches, ids)
        return F.linear(patches, self.proj.weight.flatten(1), self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.patch_size or x.shape[-1] % self.patch_size:
            raise ValueError(f'input of size {tuple(x.shape[-2:])} is not divisible by the patch '
                             f'size {self.patch_size}; resize or pad it to a multiple')
        return self.proj(x).flatten(2).transpose(1, 2)
