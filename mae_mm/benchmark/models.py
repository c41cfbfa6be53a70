"""Train-step closures for mae_mm's MAE and its peer, mmpretrain's MAE, at the same size."""
from typing import Callable, Tuple

import torch
from mmengine.config import ConfigDict
from mmpretrain.structures import DataSample

from mae_mm.models.layers import random_mask


def size_of(model_cfg: ConfigDict, mae) -> dict:
    """The numbers both implementations are built from, read off a built mae_mm MAE."""
    bb, neck = mae.backbone, mae.neck
    return dict(
        embed_dims=bb.embed_dims, num_layers=bb.num_layers,
        num_heads=bb.blocks[0].attn.num_heads, img_size=bb.patch_embed.img_size[0],
        patch_size=bb.patch_embed.patch_size, num_patches=bb.num_patches,
        num_masked=bb.num_masked, mask_ratio=model_cfg.backbone.get('mask_ratio', 0.75),
        decoder_dims=neck.decoder_embed.out_features, decoder_depth=len(neck.decoder_blocks),
        decoder_heads=neck.decoder_blocks[0].attn.num_heads, norm_pix=mae.head.norm_pix,
        mask_tokens_in_encoder=bb.mask_tokens_in_encoder)


def build_mmpretrain_mae(size: dict) -> torch.nn.Module:
    """mmpretrain 1.2's MAE (MAEViT + MAEPretrainDecoder + MAEPretrainHead) of ``size``."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    d, p = size['embed_dims'], size['patch_size']
    return MODELS.build(dict(
        type='MAE',
        backbone=dict(type='MAEViT', arch=dict(embed_dims=d, num_layers=size['num_layers'],
                                               num_heads=size['num_heads'],
                                               feedforward_channels=4 * d),
                      img_size=size['img_size'], patch_size=p, mask_ratio=size['mask_ratio']),
        neck=dict(type='MAEPretrainDecoder', num_patches=size['num_patches'], patch_size=p,
                  in_chans=3, embed_dim=d, decoder_embed_dim=size['decoder_dims'],
                  decoder_depth=size['decoder_depth'], decoder_num_heads=size['decoder_heads'],
                  mlp_ratio=4.0),
        head=dict(type='MAEPretrainHead', norm_pix=size['norm_pix'], patch_size=p,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2'))))


def make_step(model: torch.nn.Module, inputs: torch.Tensor, precision: str, fused_adamw: bool,
              with_masks: bool) -> Tuple[Callable[[], torch.Tensor], torch.optim.Optimizer]:
    """One full training step (forward, backward, AdamW update) on a device-resident batch.

    bf16 runs under autocast without a gradient scaler; fp16 keeps a scaler.
    """
    device = inputs.device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05,
                            fused=fused_adamw or None)
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == 'fp16' else None
    samples = None
    if with_masks:  # mae_mm: masks as the data pipeline delivers them
        masks = random_mask(inputs.shape[0], model.backbone.num_patches, model.backbone.num_masked,
                            device)
        samples = [DataSample().set_mask(m) for m in masks]
    else:
        samples = [DataSample() for _ in range(inputs.shape[0])]

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model.loss(inputs, samples)['loss']
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return step, opt
