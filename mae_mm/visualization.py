"""The paper's Figure 2 rows: masked input | reconstruction | reconstruction + visible | original."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from mae_mm.models.heads.mae_head import patchify, unpatchify


def preprocessor_mean_std(preprocessor: torch.nn.Module,
                          channels: int) -> Tuple[List[float], List[float]]:
    """The per-channel mean and std a data preprocessor normalises with (0 and 1 when it
    does not normalise: its images are pixels already)."""
    if not getattr(preprocessor, '_enable_normalize', False):
        return [0.0] * channels, [1.0] * channels
    return preprocessor.mean.flatten().tolist(), preprocessor.std.flatten().tolist()


@torch.no_grad()
def reconstruction_rows(model: torch.nn.Module, inputs: torch.Tensor,
                        data_samples: Optional[list] = None,
                        mean: Sequence[float] = (123.675, 116.28, 103.53),
                        std: Sequence[float] = (58.395, 57.12, 57.375)) -> np.ndarray:
    """Reconstruct a batch and lay it out as one RGB image, a row per sample.

    Args:
        model: An ``mae_mm.MAE`` (its ``reconstruct`` and ``head`` are used).
        inputs (Tensor): Normalised images (B, C, H, W), as the model sees them.
        data_samples (list, optional): Carrying masks; without them masks are drawn.
        mean, std: The data preprocessor's normalisation, to get back to pixels: one value
            per image channel.

    Returns:
        np.ndarray: (B * H, 4 * W, 3) uint8; single-channel images are shown in grey.
    """
    channels = inputs.shape[1]
    if channels not in (1, 3):
        raise ValueError(f'reconstructions are drawn for grey or RGB images, got {channels} '
                         f'channels')
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f'mean {list(mean)} and std {list(std)} must have one value per image '
                         f'channel ({channels}); pass the data preprocessor\'s mean and std')
    p = model.head.patch_size
    grid = (inputs.shape[-2] // p, inputs.shape[-1] // p)
    pred, mask = model.reconstruct(inputs, data_samples)  # (B, L, p*p*C), (B, L)
    if model.head.norm_pix:  # predictions are per-patch normalised: use the true patch stats
        target = patchify(inputs, p)
        pred = pred * (target.var(-1, keepdim=True) + model.head.eps)**0.5 + target.mean(-1, keepdim=True)
    recon = unpatchify(pred, p, grid, channels)
    pixel_mask = unpatchify(mask[..., None].expand(-1, -1, p * p * channels), p, grid, channels)
    masked = inputs * (1 - pixel_mask)  # masked patches show the mean colour
    pasted = inputs * (1 - pixel_mask) + recon * pixel_mask
    panels = torch.cat([masked, recon, pasted, inputs], dim=3)  # side by side: (B, C, H, 4W)
    mean_t = torch.tensor(mean, device=inputs.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=inputs.device).view(1, -1, 1, 1)
    pixels = (panels * std_t + mean_t).clamp(0, 255).round().byte()
    pixels = pixels.expand(-1, 3, -1, -1) if channels == 1 else pixels  # grey as RGB
    return pixels.permute(0, 2, 3, 1).reshape(-1, pixels.shape[-1], 3).cpu().numpy()
