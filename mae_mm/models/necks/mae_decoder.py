"""MAE's lightweight decoder: visible latents + mask tokens -> per-patch pixel predictions."""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mae_mm.registry import MODELS
from ..layers import Block, bf16_stream, gather_tokens, sincos_pos_embed_2d


@MODELS.register_module()
class MAEDecoder(BaseModule):
    """Decoder with the official parameter names (``decoder_embed``, ``mask_token``,
    ``decoder_pos_embed``, ``decoder_blocks``, ``decoder_norm``, ``decoder_pred``).

    Args:
        num_patches (int): Patches per image L.
        patch_size (int): Patch side p.
        in_channels (int): Image channels C; predictions have p * p * C values.
        embed_dims (int): Encoder width.
        decoder_embed_dims (int): Decoder width. Defaults to 512 (paper).
        decoder_depth (int): Decoder blocks, at least 1. Defaults to 8 (paper).
        decoder_num_heads (int): Decoder heads. Defaults to 16.
        mlp_ratio (float): MLP width / decoder width. Defaults to 4.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        fused_attn (bool): Fused attention kernels. Defaults to True.
        short_attn (bool): mae_mm's Triton kernel for sequences of at most 64 tokens; see
            :class:`MAEViT`. Defaults to True.
        grid_size (tuple[int, int], optional): The (h, w) patch grid, h * w = L, for the
            position embedding; :class:`MAE` passes the backbone's. Defaults to a square grid.
        low_precision_residual (bool): Under bf16 autocast, carry the token stream in bf16,
            not fp32; see :class:`MAEViT`. Defaults to False.
    """

    def __init__(self, num_patches: int, patch_size: int, in_channels: int = 3,
                 embed_dims: int = 768, decoder_embed_dims: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mlp_ratio: float = 4.0, norm_eps: float = 1e-6,
                 fused_attn: bool = True, short_attn: bool = True,
                 grid_size: Optional[Tuple[int, int]] = None, low_precision_residual: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if grid_size is None:
            side = math.isqrt(num_patches)
            if side * side != num_patches:
                raise ValueError(f'num_patches {num_patches} is not a square number; give the '
                                 f'patch grid as grid_size=(h, w)')
            grid_size = (side, side)
        if decoder_depth < 1:
            raise ValueError(f'decoder_depth must be at least 1, got {decoder_depth}; the '
                             f'paper\'s lightest decoder has 1 block')
        if grid_size[0] * grid_size[1] != num_patches:
            raise ValueError(f'grid_size {tuple(grid_size)} does not hold num_patches '
                             f'{num_patches} patches')
        self.low_precision_residual = low_precision_residual
        self.decoder_embed = nn.Linear(embed_dims, decoder_embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dims))
        self.decoder_pos_embed = nn.Parameter(
            sincos_pos_embed_2d(decoder_embed_dims, tuple(grid_size)).unsqueeze(0), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dims, decoder_num_heads, mlp_ratio, norm_eps=norm_eps,
                  fused_attn=fused_attn, short_attn=short_attn) for _ in range(decoder_depth)
        ])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dims, eps=norm_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dims, patch_size**2 * in_channels)
        self._init_random_weights()

    def _init_random_weights(self) -> None:
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """Weights are initialised at construction (MAE's scheme); nothing more to do."""
        self._is_init = True

    def unshuffle(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Put mask tokens at the masked positions and restore the original order.

        x (B, 1 + L_vis, W) -> (B, 1 + L, W); the class token stays in front.
        """
        b, n, w = x.shape
        num_masked = ids_restore.shape[1] + 1 - n
        tokens = torch.cat([x[:, 1:], self.mask_token.to(x.dtype).expand(b, num_masked, w)], dim=1)
        return torch.cat([x[:, :1], gather_tokens(tokens, ids_restore)], dim=1)

    def forward(self, x: torch.Tensor, ids_restore: Optional[torch.Tensor],
                ids_pred: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Latents (B, 1 + L_vis, D) -> predictions (B, L, p * p * C).

        ``ids_restore`` None means the encoder already saw every patch (mask tokens in the
        encoder): nothing is inserted. ``ids_pred`` (B, K) predicts only those patches
        -> (B, K, p * p * C): the last block, the norm and the prediction run on K tokens
        (every token still attends to all), the same numbers as the full output's rows.
        """
        x = self.decoder_embed(x)
        if ids_restore is not None:
            x = self.unshuffle(x, ids_restore)
        embedded_dtype = x.dtype  # bf16 under bf16 autocast
        x = x + self.decoder_pos_embed  # (B, 1 + L, W)
        if self.low_precision_residual:
            x = bf16_stream(x, embedded_dtype)
        for blk in self.decoder_blocks[:-1]:
            x = blk(x)
        last = self.decoder_blocks[-1]
        if ids_pred is None:
            x = last(x)[:, 1:]  # drop the class token
        else:
            x = last(x, keep=ids_pred + 1)  # (B, K, W); + 1 skips the class token
        return self.decoder_pred(self.decoder_norm(x))
