"""Masking in index form: a (B, L) 0/1 mask with a fixed count per row -> gather indices.

Everything here uses static shapes (argsort + gather, no boolean indexing) and never
reads a device value on the host, so the masked forward compiles and needs no sync.
"""
from typing import Optional, Tuple

import torch


def check_mask_ratio(mask_ratio: float) -> None:
    """Raise, naming the fix, unless ``mask_ratio`` is a number in (0, 1)."""
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)):
        raise TypeError(f'mask_ratio must be a number in (0, 1), got {mask_ratio!r} '
                        f'({type(mask_ratio).__name__}); write e.g. mask_ratio=0.75 without quotes')
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f'mask_ratio must lie in (0, 1), got {mask_ratio}; the paper uses 0.75')


def num_masked_patches(num_patches: int, mask_ratio: float) -> int:
    """The fixed count of masked patches, that of the official code (and mmpretrain): it keeps
    ``int(L * (1 - mask_ratio))`` patches and masks the rest (196 patches at 0.9: 19 kept,
    177 masked), at least one masked and one visible."""
    check_mask_ratio(mask_ratio)
    num_masked = num_patches - int(num_patches * (1 - mask_ratio))
    if not 0 < num_masked < num_patches:
        raise ValueError(f'mask_ratio {mask_ratio} masks {num_masked} of {num_patches} patches; '
                         f'at least one must be masked and one visible: use a ratio of at most '
                         f'{1 - 1 / num_patches:.3g}')
    return num_masked


def random_mask(batch: int, num_patches: int, num_masked: int,
                device: Optional[torch.device] = None) -> torch.Tensor:
    """Per-sample uniform mask, (B, L) float, exactly ``num_masked`` ones (1 = masked) a row."""
    noise = torch.rand(batch, num_patches, device=device)
    ranks = noise.argsort(dim=1).argsort(dim=1)  # rank of each position in the noise
    return (ranks >= num_patches - num_masked).float()


def check_mask_counts(mask: torch.Tensor, num_masked: int) -> None:
    """Every row of the (B, L) mask must have ``num_masked`` ones: raise (asynchronously on
    GPUs, where reading the count would stall the host) naming the fix if not."""
    if mask.is_cuda:
        torch._assert_async(torch.all(mask.sum(dim=1) == num_masked))
    elif not torch.all(mask.sum(dim=1) == num_masked):
        raise ValueError(f'each mask row must have {num_masked} masked patches (the model\'s '
                         f'mask_ratio), got {mask.sum(dim=1).tolist()}; make the masking '
                         f'transform mask as many as the backbone\'s mask_ratio (its mask_ratio, '
                         f'or for GridMasking the backbone\'s mask_ratio=1 - 1 / cell**2)')


def mask_to_ids(mask: torch.Tensor, num_masked: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Indices that put visible patches first, and their inverse.

    Args:
        mask (Tensor): (B, L), 1 = masked, ``num_masked`` ones in every row.
        num_masked (int): The count every row has (see :func:`check_mask_counts`).

    Returns:
        tuple: ``ids_keep`` (B, L - num_masked), the visible positions in ascending order,
        and ``ids_restore`` (B, L): the place of each original position in the
        (visible first, then masked) order.
    """
    ids_shuffle = torch.argsort(mask, dim=1, stable=True)  # visible (0) first, then masked
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle[:, :mask.shape[1] - num_masked], ids_restore


def masked_ids(mask: torch.Tensor, num_masked: int) -> torch.Tensor:
    """The masked positions of each row of a (B, L) mask with ``num_masked`` ones, ascending:
    (B, num_masked)."""
    return torch.argsort(mask, dim=1, stable=True)[:, mask.shape[1] - num_masked:]


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Select tokens: x (B, L, D), ids (B, K) -> (B, K, D)."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
