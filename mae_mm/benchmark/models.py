"""Train-step closures for mae_mm's MAE and its peer, mmpretrain's MAE, at the same size."""
import copy
from typing import Callable, List, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.utils import import_modules_from_strings
from mmpretrain.structures import DataSample

from mae_mm.models import MAE
from mae_mm.models.layers import random_mask


class PredictEveryPatchMAE(MAE):
    """:class:`MAE` with the official formulation of its loss: the decoder predicts all L
    patches and the MSE is averaged over the masked ones. The same loss and gradients for
    more work: the baseline of ``benchmark.py --predict-all`` and the tests' reference."""

    def masked_loss(self, inputs: torch.Tensor, mask: Union[torch.Tensor, bool]) -> torch.Tensor:
        pred, mask = self._predict(inputs, mask)  # (B, L, p * p * C), (B, L)
        per_patch = (pred.float() - self.head.target(inputs.float())).pow(2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()


def size_of(model_cfg: ConfigDict, mae: torch.nn.Module) -> dict:
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


# mmpretrain's MAE recipe (configs/mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py)
PEER_OPTIM_WRAPPER = dict(
    type='AmpOptimWrapper', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=2.4e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'ln': dict(decay_mult=0.0), 'bias': dict(decay_mult=0.0), 'pos_embed': dict(decay_mult=0.),
        'mask_token': dict(decay_mult=0.), 'cls_token': dict(decay_mult=0.)}))


def optim_wrapper_cfg(config_wrapper: dict, precision: str, ours: bool,
                      fused_adamw: bool = True) -> dict:
    """The optimizer wrapper each implementation trains with, at ``precision``.

    mae_mm: the config's (``mae_mm.AmpOptimWrapper``: no loss scaler for bf16; fused AdamW
    on parameter groups merged by setting; every step updates, whatever the config's
    gradient accumulation). mmpretrain: its MAE recipe (MMEngine's ``AmpOptimWrapper`` with a
    dynamic loss scaler, AdamW with one group per tensor).
    """
    cfg = copy.deepcopy(dict(config_wrapper) if ours else PEER_OPTIM_WRAPPER)
    if ours:
        cfg['optimizer']['fused'] = fused_adamw
        # a timed step updates the weights, as the peer's does (ViT-L/H accumulate 2 / 4)
        cfg.pop('accumulative_counts', None)
    if precision == 'fp32':
        cfg['type'] = 'OptimWrapper'
        cfg.pop('dtype', None)
        cfg.pop('loss_scale', None)
        return cfg
    cfg.update(type='mae_mm.AmpOptimWrapper' if ours else 'AmpOptimWrapper',
               dtype={'bf16': 'bfloat16', 'fp16': 'float16'}[precision])
    return cfg


def load_config(path: str, cfg_options: dict) -> Config:
    """The config at ``path`` with ``cfg_options`` merged in, its custom modules imported and
    its default scope (mmpretrain's unless it names one) made current, as the tools use it."""
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(cfg_options)
    import_modules_from_strings(**cfg.get('custom_imports', {}))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def batch_samples(model: torch.nn.Module, batch: int, device: Union[str, torch.device],
                  with_masks: bool) -> List[DataSample]:
    """A batch's data samples; ``with_masks`` (mae_mm): each carries a random mask of the
    model's size, as the data pipeline delivers it (mmpretrain's MAE masks in the model)."""
    if not with_masks:
        return [DataSample() for _ in range(batch)]
    bb = model.backbone
    return [DataSample().set_mask(m)
            for m in random_mask(batch, bb.num_patches, bb.num_masked, device)]


def with_compile_options(model_cfg: dict, option: str) -> dict:
    """``model_cfg`` with each of the '+'-joined ``model.compile`` options in ``option`` on,
    e.g. ``'fold_norm+recompute_gelu'``.

    Raises:
        ValueError: If ``model_cfg`` is not compiled.
    """
    if not model_cfg.get('compile'):
        raise ValueError(f'--options {option} needs a compiled model; the config has '
                         f'model.compile={model_cfg.get("compile")!r}; add --cfg-options '
                         f'model.compile=True')
    cfg = copy.deepcopy(model_cfg)
    cfg['compile'] = {**(cfg['compile'] if isinstance(cfg['compile'], dict) else {}),
                      **{name: True for name in option.split('+')}}
    return cfg


def make_step(model: torch.nn.Module, inputs: torch.Tensor, wrapper_cfg: dict,
              with_masks: bool) -> Callable[[], torch.Tensor]:
    """One full training step (forward, backward, update) on a device-resident batch,
    through an MMEngine optimizer wrapper as the Runner does it."""
    from mmengine.optim import build_optim_wrapper
    optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
    samples = batch_samples(model, inputs.shape[0], inputs.device, with_masks)

    def step() -> torch.Tensor:
        with optim_wrapper.optim_context(model):
            loss = model.loss(inputs, samples)['loss']
        optim_wrapper.update_params(loss)
        return loss

    return step


def warm_up_libraries(device: torch.device, wrapper_cfg: dict) -> None:
    """One throwaway training step of a tiny MAE on ``device`` through ``wrapper_cfg`` (and
    so at its precision). CUDA libraries allocate some workspaces on their first call and keep
    them: cuBLAS's on any matrix multiply, cuBLASLt's only on one like a Linear layer's with
    its bias fused in. After this step both are resident, so neither counts in the peak of
    the first model measured."""
    model = MAE(backbone=dict(type='MAEViT', img_size=32, patch_size=8,
                              arch=dict(embed_dims=64, num_layers=1, num_heads=2)),
                neck=dict(type='MAEDecoder', decoder_embed_dims=32, decoder_depth=1,
                          decoder_num_heads=2),
                head=dict(type='MAEHead', norm_pix=True)).to(device).train()
    make_step(model, torch.randn(2, 3, 32, 32, device=device), wrapper_cfg, with_masks=True)()
