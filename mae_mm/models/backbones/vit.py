"""The one Vision Transformer of mae_mm: MAE pretraining and every downstream use."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.utils.checkpoint import checkpoint

from mae_mm.registry import MODELS
from ..layers import (Block, PatchEmbed, bf16_stream, check_mask_counts, gather_tokens,
                      mask_to_ids, num_masked_patches, random_mask, resize_pos_embed,
                      sincos_pos_embed_2d)

# name -> (embed_dims, num_layers, num_heads, patch_size)
ARCHS = {
    'demo': (192, 6, 3, 8),  # the built-in demo / test size: 6 blocks, patch 8
    'tiny': (192, 12, 3, 16),
    'small': (384, 12, 6, 16),
    'b': (768, 12, 12, 16),
    'l': (1024, 24, 16, 16),
    'h': (1280, 32, 16, 14),
}
OUT_TYPES = ('raw', 'cls', 'avg', 'featmap')


def parse_arch(arch: Union[str, dict]) -> Tuple[int, int, int, int]:
    """(embed_dims, num_layers, num_heads, patch_size) of an ``arch`` name of ``ARCHS`` or dict.

    Raises:
        ValueError: If the name is unknown or the dict lacks a size.
    """
    if isinstance(arch, str):
        if arch.lower() not in ARCHS:
            raise ValueError(f'unknown arch {arch!r}; choose one of {sorted(ARCHS)} or pass '
                             f'dict(embed_dims=..., num_layers=..., num_heads=...)')
        return ARCHS[arch.lower()]
    missing = {'embed_dims', 'num_layers', 'num_heads'} - set(arch)
    if missing:
        raise ValueError(f'arch dict {arch} lacks {sorted(missing)}')
    return arch['embed_dims'], arch['num_layers'], arch['num_heads'], arch.get('patch_size', 16)


@MODELS.register_module()
class MAEViT(BaseModule):
    """Vision Transformer with MAE's masked forward and dense / pooled downstream outputs.

    Parameter names are the official MAE / timm ones (``patch_embed.proj``, ``cls_token``,
    ``pos_embed``, ``blocks.N.*``, ``norm``, ``fc_norm``), so official checkpoints load
    strictly. ``forward(x, mask)`` with a mask (or ``mask=True`` to draw one) runs the
    encoder on the visible patches only; ``forward(x)`` runs it on the whole image and
    returns the outputs of ``out_indices``.

    Args:
        arch (str | dict): 'demo', 'tiny', 'small', 'b', 'l', 'h', or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and optionally ``patch_size``.
        img_size (int | tuple): Input size; sets the position-embedding grid. Defaults to 224.
        patch_size (int, optional): Patch side; defaults to the arch's (16; 14 for 'h', 8 for
            'demo').
        in_channels (int): Image channels. Defaults to 3.
        mlp_ratio (float): MLP width / embed_dims. Defaults to 4.
        qkv_bias (bool): Bias on qkv. Defaults to True.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6.
        drop_path_rate (float): Stochastic depth, growing linearly to this over the blocks.
        mask_ratio (float): Fraction of patches masked in the masked forward. Defaults to 0.75.
        mask_tokens_in_encoder (bool): Ablation of the paper's Table 1c / Table 2: the encoder
            sees every patch, masked ones replaced by a learned ``encoder_mask_token``.
        out_type (str): Downstream output of each selected block: 'raw' (B, N, D) tokens,
            'cls' (B, D) class token, 'avg' (B, D) mean of patch tokens through ``fc_norm``
            (the official global pool), 'featmap' (B, D, h, w) patch-token maps.
        out_indices (int | Sequence[int]): Blocks whose outputs are returned, in block order.
            Defaults to -1.
        final_norm (bool, optional): LayerNorm ``norm`` after the last block. None (default)
            has one unless ``out_type='avg'`` (the official global pool, whose ``fc_norm``
            replaces it); True with 'avg' has both, ``norm`` before the pooling (mmpretrain's
            ``out_type='avg_featmap'`` with its default ``final_norm=True``).
        with_cls_token (bool): Keep a class token; dense tasks may drop it. Defaults to True.
        pos_embed_trainable (bool): Learn the position embedding (fine-tuning) instead of
            keeping the fixed sin-cos one (pretraining). Defaults to False.
        window_size (int): > 0 uses window attention of this size in the blocks not listed
            in ``global_attn_indexes`` (ViTDet). Defaults to 0.
        global_attn_indexes (Sequence[int]): Blocks with global attention when windowed.
        use_rel_pos (bool): ViTDet's decomposed relative positions (zero init).
        use_rel_pos_bias (bool): BEiT's relative position bias table per block (zero init).
        layer_scale_init (float): > 0 adds LayerScale with this initial value.
        fused_attn (bool): ``F.scaled_dot_product_attention`` (True) or plain math.
        short_attn (bool): With ``fused_attn``, mae_mm's Triton kernel for sequences of at most
            64 tokens (the visible patches) in bf16 / fp16 on CUDA; see :class:`Attention`.
            Defaults to True.
        with_cp (bool): Activation checkpointing per block (saves memory, costs a re-forward).
        low_precision_residual (bool): In the masked forward under autocast, carry the token
            stream between blocks in the autocast dtype (that of the patch embedding's output)
            instead of the fp32 that the position embedding promotes it to: half the residual
            stream's memory traffic and saved activations, one bf16 rounding per residual add.
            Under bf16 autocast only: under fp16 (which could overflow) and without autocast
            the stream stays fp32. Defaults to False (autocast's numerics, as the official
            code); the pretraining configs turn it on.
        frozen_stages (int): Freeze the patch embedding (>= 0) and the first N blocks;
            ``num_layers`` freezes the whole encoder with its final norm (linear probing).
        init_cfg (dict | list, optional): ``dict(type='Pretrained', checkpoint=PATH)`` loads any
            checkpoint format mae_mm reads, strictly (see ``mae_mm.checkpoint``); other types
            raise.
    """

    def __init__(self, arch: Union[str, dict] = 'b',
                 img_size: Union[int, Tuple[int, int]] = 224, patch_size: Optional[int] = None,
                 in_channels: int = 3, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 norm_eps: float = 1e-6, drop_path_rate: float = 0.0, mask_ratio: float = 0.75,
                 mask_tokens_in_encoder: bool = False, out_type: str = 'cls',
                 out_indices: Union[int, Sequence[int]] = -1, final_norm: Optional[bool] = None,
                 with_cls_token: bool = True, pos_embed_trainable: bool = False,
                 window_size: int = 0, global_attn_indexes: Sequence[int] = (),
                 use_rel_pos: bool = False, use_rel_pos_bias: bool = False,
                 layer_scale_init: float = 0.0, fused_attn: bool = True, short_attn: bool = True,
                 with_cp: bool = False, low_precision_residual: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims, self.num_layers, num_heads, default_patch = parse_arch(arch)
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type must be one of {OUT_TYPES}, got {out_type!r}')
        if out_type == 'cls' and not with_cls_token:
            raise ValueError("out_type='cls' needs with_cls_token=True")
        if (window_size > 0 or use_rel_pos) and with_cls_token:
            raise ValueError(f'window_size={window_size} / use_rel_pos={use_rel_pos} work on the '
                             f'patch grid alone (ViTDet): set with_cls_token=False')
        if use_rel_pos_bias and not with_cls_token:
            raise ValueError('use_rel_pos_bias (BEiT) has a class token\'s rows and needs '
                             'global attention: set with_cls_token=True and window_size=0, or '
                             'use use_rel_pos (ViTDet) without a class token')
        self.out_type = out_type
        self.out_indices = self._parse_out_indices(out_indices)
        self.with_cls_token = with_cls_token
        self.with_cp = with_cp
        self.low_precision_residual = low_precision_residual
        if not -1 <= frozen_stages <= self.num_layers:
            raise ValueError(f'frozen_stages must lie in [-1, {self.num_layers}] (-1: nothing '
                             f'frozen, {self.num_layers}: the whole encoder), got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.mask_tokens_in_encoder = mask_tokens_in_encoder
        self.dense_only = window_size > 0 or use_rel_pos or use_rel_pos_bias
        self.patch_embed = PatchEmbed(img_size, patch_size or default_patch, in_channels,
                                      self.embed_dims)
        self.num_patches = self.patch_embed.num_patches
        self.num_masked = num_masked_patches(self.num_patches, mask_ratio)
        grid = self.patch_embed.grid_size

        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims)) if with_cls_token else None
        # (1, 1 + L, D): row 0 belongs to the class token (zeros in the sin-cos code)
        self.pos_embed = nn.Parameter(
            sincos_pos_embed_2d(self.embed_dims, grid).unsqueeze(0),
            requires_grad=pos_embed_trainable)
        if mask_tokens_in_encoder:
            self.encoder_mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.blocks = nn.ModuleList([
            Block(self.embed_dims, num_heads, mlp_ratio, qkv_bias, dpr[i], norm_eps,
                  layer_scale_init, fused_attn,
                  window_size if window_size > 0 and i not in global_attn_indexes else 0,
                  grid if use_rel_pos else None,
                  grid if use_rel_pos_bias else None, short_attn) for i in range(self.num_layers)
        ])
        if final_norm or (final_norm is None and out_type != 'avg'):
            self.norm = nn.LayerNorm(self.embed_dims, eps=norm_eps)
        if out_type == 'avg':
            self.fc_norm = nn.LayerNorm(self.embed_dims, eps=norm_eps)
        self._init_random_weights()
        self._freeze_stages()

    def _parse_out_indices(self, out_indices) -> Tuple[int, ...]:
        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        if any(not -self.num_layers <= i < self.num_layers for i in out_indices):
            raise ValueError(f'out_indices {out_indices} out of range for {self.num_layers} blocks')
        parsed = tuple(i % self.num_layers for i in out_indices)
        if len(set(parsed)) != len(parsed):
            raise ValueError(f'out_indices {out_indices} name a block twice (blocks {parsed} of '
                             f'{self.num_layers}); list each once')
        return parsed

    def _init_random_weights(self) -> None:
        """MAE's initialisation: xavier-uniform linears and patch projection, tokens N(0, .02)."""
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.proj.bias)
        for token in (self.cls_token, getattr(self, 'encoder_mask_token', None)):
            if token is not None:
                nn.init.normal_(token, std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        """Partial fine-tuning: no gradients into the embedding and the first blocks."""
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, *self.blocks[:self.frozen_stages]]
        if self.frozen_stages >= self.num_layers:  # linear probing: the final norm is frozen too
            frozen += [getattr(self, n) for n in ('norm', 'fc_norm') if hasattr(self, n)]
        for p in [p for m in frozen for p in m.parameters()] + [self.pos_embed, self.cls_token]:
            if p is not None:
                p.requires_grad = False
        for m in frozen:
            m.eval()

    def train(self, mode: bool = True) -> 'MAEViT':
        super().train(mode)
        self._freeze_stages()
        return self

    def init_weights(self) -> None:
        """Random weights are set at construction (MAE's scheme); this loads the checkpoint of
        a ``Pretrained`` ``init_cfg`` (a dict or, as MMEngine allows, a list of dicts).

        Raises:
            ValueError: An ``init_cfg`` of another type: it would be ignored.
        """
        from mae_mm.checkpoint import load_backbone_checkpoint
        cfgs = self.init_cfg if isinstance(self.init_cfg, (list, tuple)) else [self.init_cfg]
        for cfg in filter(None, cfgs):
            if cfg.get('type') != 'Pretrained':
                raise ValueError(
                    f'MAEViT init_cfg of type {cfg.get("type")!r}: MAEViT sets its own random '
                    "weights (MAE's initialisation) and only loads dict(type='Pretrained', "
                    'checkpoint=PATH); remove that init_cfg entry')
            load_backbone_checkpoint(self, cfg['checkpoint'])  # the format, prefix too, detected
        self._is_init = True

    def _run_blocks(self, x: torch.Tensor, grid: Optional[Tuple[int, int]], out=None) -> torch.Tensor:
        """Apply every block; ``out(i, x)`` is called after block i when given."""
        for i, blk in enumerate(self.blocks):
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(blk, x, grid, use_reentrant=False)
            else:
                x = blk(x, grid)
            if out is not None:
                out(i, x)
        return x

    def _add_cls_token(self, x: torch.Tensor, pos_cls: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, 1 + N, D) with the class token (plus its position) in front."""
        if not self.with_cls_token:
            return x
        cls = (self.cls_token + pos_cls).to(x.dtype)
        return torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)

    def forward_masked(self, x: torch.Tensor, mask: Union[torch.Tensor, bool] = True
                       ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """The MAE encoder on the visible patches.

        Args:
            x (Tensor): Images (B, C, H, W) at ``img_size``.
            mask (Tensor | bool): (B, L) with 1 = masked, ``L - int(L * (1 - mask_ratio))``
                ones a row; True draws a uniform random mask.

        Returns:
            tuple: ``latent`` (B, 1 + L_vis, D) (or (B, 1 + L, D) with mask tokens in the
            encoder), ``mask`` (B, L) float, ``ids_restore`` (B, L) (None with mask tokens
            in the encoder: nothing to restore).
        """
        b = x.shape[0]
        if self.dense_only:
            raise RuntimeError('the masked forward needs plain global attention; this backbone '
                               'has window attention or relative positions (downstream only)')
        if tuple(x.shape[-2:]) != self.patch_embed.img_size:
            raise ValueError(f'the masked forward needs images of img_size '
                             f'{self.patch_embed.img_size}, got {tuple(x.shape[-2:])}; crop or '
                             f'resize them to it (RandomResizedCrop scale) or set img_size')
        if mask is True:
            mask = random_mask(b, self.num_patches, self.num_masked, x.device)
        elif mask.shape != (b, self.num_patches):
            raise ValueError(f'mask has shape {tuple(mask.shape)} but the model needs '
                             f'({b}, {self.num_patches}) for {tuple(x.shape[-2:])} images with '
                             f'patch {self.patch_embed.patch_size}; set the masking transform\'s '
                             f'input_size / patch_size to the model\'s')
        elif not torch.compiler.is_compiling():  # compiled callers check before (MAE.loss)
            check_mask_counts(mask, self.num_masked)
        mask = mask.to(x.dtype)
        pos = self.pos_embed[:, 1:].expand(b, -1, -1)  # (B, L, D)
        if self.mask_tokens_in_encoder:  # every patch, masked ones replaced by the token
            embedded = self.patch_embed.embed_patches(x)
            masked = mask.bool()[..., None]
            tokens = torch.where(masked, self.encoder_mask_token.to(embedded.dtype), embedded) + pos
            ids_restore = None
        else:  # only the visible patches are embedded at all: (B, L_vis, D)
            ids_keep, ids_restore = mask_to_ids(mask, self.num_masked)
            embedded = self.patch_embed.embed_patches(x, ids_keep)
            tokens = embedded + gather_tokens(pos, ids_keep)
        if self.low_precision_residual:
            tokens = bf16_stream(tokens, embedded.dtype)
        x = self._run_blocks(self._add_cls_token(tokens, self.pos_embed[:, :1]), None)
        if hasattr(self, 'norm'):
            x = self.norm(x)
        return x, mask, ids_restore

    def _pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        """Position embedding (1, 1 + h * w, D) for a grid, resized when it is not the native one."""
        if grid == self.patch_embed.grid_size:
            return self.pos_embed
        return resize_pos_embed(self.pos_embed, grid, src_grid=self.patch_embed.grid_size)

    def _format(self, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """One block's tokens (B, [1 +] h * w, D) -> the configured ``out_type``."""
        patches = x[:, 1:] if self.with_cls_token else x
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls':
            return x[:, 0]
        if self.out_type == 'avg':
            return self.fc_norm(patches.mean(dim=1))
        return patches.transpose(1, 2).reshape(x.shape[0], -1, *grid)  # (B, D, h, w)

    def forward_features(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The whole image through the encoder; outputs of ``out_indices`` as ``out_type``."""
        grid = (x.shape[-2] // self.patch_embed.patch_size, x.shape[-1] // self.patch_embed.patch_size)
        pos = self._pos_embed_for(grid)
        x = self._add_cls_token(self.patch_embed(x) + pos[:, 1:], pos[:, :1])
        outs = []
        last = self.num_layers - 1

        def collect(i: int, tokens: torch.Tensor) -> None:
            if i in self.out_indices:
                if i == last and hasattr(self, 'norm'):
                    tokens = self.norm(tokens)
                outs.append(self._format(tokens, grid))

        self._run_blocks(x, grid, collect)
        return tuple(outs)

    def forward(self, x: torch.Tensor, mask: Union[torch.Tensor, bool, None] = None
                ) -> Tuple[Optional[torch.Tensor], ...]:
        """``forward(x)``: downstream features; ``forward(x, mask)``: MAE's masked encoder."""
        if mask is None or mask is False:
            return self.forward_features(x)
        return self.forward_masked(x, mask)
