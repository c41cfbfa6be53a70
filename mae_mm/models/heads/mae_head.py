"""MAE's reconstruction target and loss: MSE on (per-patch normalised) pixels of masked patches."""
from typing import Optional

import torch
from mmengine.model import BaseModule

from mae_mm.registry import MODELS
from ..layers import gather_tokens


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C), patches row-major, pixels (row, col, channel)."""
    b, c, h, w = imgs.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f'image size {(h, w)} is not divisible by patch_size {p}')
    x = imgs.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, patch_size: int, grid: tuple, channels: int = 3) -> torch.Tensor:
    """Inverse of :func:`patchify`: (B, L, p * p * C) -> (B, C, h * p, w * p)."""
    b = x.shape[0]
    h, w = grid
    p = patch_size
    x = x.reshape(b, h, w, p, p, channels).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, channels, h * p, w * p)


@MODELS.register_module()
class MAEHead(BaseModule):
    """Pixel reconstruction target and masked MSE.

    Args:
        patch_size (int): Patch side p.
        norm_pix (bool): Normalise each target patch by its own mean and variance (the
            paper's default for its best results). Defaults to True.
        eps (float): Added to the variance before the square root. Defaults to 1e-6.
    """

    def __init__(self, patch_size: int = 16, norm_pix: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.norm_pix = norm_pix
        self.eps = eps

    def target(self, imgs: torch.Tensor, ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The prediction target (B, K, p * p * C) of the patches ``ids`` (B, K) (default:
        all L) of normalised images (B, C, H, W)."""
        target = patchify(imgs, self.patch_size)
        if ids is not None:
            target = gather_tokens(target, ids)
        if self.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased, as the official code
            target = (target - mean) / (var + self.eps)**0.5
        return target

    def loss(self, pred: torch.Tensor, imgs: torch.Tensor,
             ids_masked: torch.Tensor) -> torch.Tensor:
        """Mean over masked patches of the per-patch MSE.

        Args:
            pred (Tensor): (B, K, p * p * C) predictions of the masked patches.
            imgs (Tensor): (B, C, H, W) the model's input images.
            ids_masked (Tensor): (B, K) the masked patches' positions, in ``pred``'s order.
        """
        return (pred.float() - self.target(imgs.float(), ids_masked)).pow(2).mean()
