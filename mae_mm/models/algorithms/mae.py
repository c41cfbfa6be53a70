"""MAE: backbone (masked encoder) -> neck (decoder) -> head (masked pixel MSE)."""
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel

from mae_mm.registry import MODELS, build_model
from ..layers import Attention, Block, Mlp, check_mask_counts, masked_ids
from .memory_budget import inductor_with_memory_budget


@MODELS.register_module()
class MAE(BaseModel):
    """Masked autoencoder pretraining.

    The per-sample masks come from the data pipeline (``data_samples[i].mask``, shape (L,),
    1 = masked); without them the backbone draws uniform random masks itself.

    Args:
        backbone (dict): An :class:`MAEViT` config.
        neck (dict): An :class:`MAEDecoder` config; ``num_patches``, ``grid_size``,
            ``patch_size``, ``in_channels`` and ``embed_dims`` default to the backbone's.
        head (dict): An :class:`MAEHead` config; ``patch_size`` defaults to the backbone's.
        data_preprocessor (dict, optional): Normalises and stacks the images.
        compile (bool | dict): ``torch.compile`` the whole masked forward and loss (encoder,
            decoder, head: one graph, fused kernels, the same numerics); a dict holds
            ``torch.compile``'s options, e.g. ``dict(mode='max-autotune-no-cudagraphs')``,
            and optionally ``activation_memory_budget`` (float in (0, 1]): the share of the
            default saved activations the compiled graph may keep for backward; below 1 it
            recomputes the cheapest of the rest (0.9: ViT-B/16 peak memory -33% for -5%
            speed on an H100); ``recompute_gelu`` (bool): every MLP keeps only its
            hidden layer's input to GELU for backward (see :class:`Mlp`; ViT-B/16 at batch
            512: -4.7 GiB saved, ``tools/analysis_tools/saved_activations.py``); and
            ``recompute_norm`` (bool): every block keeps only its LayerNorms' inputs (see
            :class:`Block`); or ``fold_norm`` (bool): every block keeps only its LayerNorms'
            normalized outputs, their scale and shift folded into the layers after them, with
            no recomputation (see :class:`Block`; ViT-B/16 at batch 512: -2.3 GiB saved);
            ``fuse_bias_grad`` (bool): every MLP sums fc1's bias gradient per sample first,
            so that GELU's backward kernel computes it (see :class:`Mlp`; ViT-B/16 at batch
            512: 4.9 GB less read, as scheduled for an H100), and where mae_mm's short
            attention kernel runs (the encoder on CUDA) it sums qkv's bias gradient too (see
            :class:`Attention`; 1.4 GB less read).
            The parameters and their names are untouched, so checkpoints stay the same.
            Defaults to False.
        init_cfg (dict, optional): Passed to :class:`BaseModel`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 data_preprocessor: Optional[dict] = None, compile: Union[bool, dict] = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(compile, (bool, dict)):
            raise TypeError(f'compile must be True, False or a dict of torch.compile options, '
                            f'got {compile!r}; e.g. '
                            f'compile=dict(mode="max-autotune-no-cudagraphs")')
        self.compile_cfg = ({} if compile is True else dict(compile)) if compile else None
        budget = (self.compile_cfg or {}).get('activation_memory_budget', 1.0)
        if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
            raise ValueError(f'compile.activation_memory_budget must be a number in (0, 1], got '
                             f'{budget!r}; e.g. 0.8 keeps 80% of the saved activations')
        self.backbone = build_model(backbone)
        if not self.backbone.with_cls_token:
            raise ValueError('MAE pretraining needs the backbone\'s class token (the decoder '
                             'keeps token 0 as it): set backbone.with_cls_token=True')
        patch_embed = self.backbone.patch_embed
        neck = dict(neck)
        neck.setdefault('num_patches', self.backbone.num_patches)
        neck.setdefault('grid_size', patch_embed.grid_size)
        neck.setdefault('patch_size', patch_embed.patch_size)
        neck.setdefault('in_channels', patch_embed.proj.in_channels)
        neck.setdefault('embed_dims', self.backbone.embed_dims)
        self.neck = build_model(neck)
        head = dict(head)
        head.setdefault('patch_size', patch_embed.patch_size)
        self.head = build_model(head)
        options = self.compile_cfg or {}
        if options.get('recompute_norm') and options.get('fold_norm'):
            raise ValueError('compile.recompute_norm and compile.fold_norm both drop a saved '
                             'tensor of each LayerNorm, in two ways; set only one of them')
        for module in self.modules():
            if isinstance(module, (Mlp, Attention)):
                module.fuse_bias_grad = bool(options.get('fuse_bias_grad'))
            if isinstance(module, Mlp):
                module.recompute_act = bool(options.get('recompute_gelu'))
            if isinstance(module, Block):
                module.recompute_norm = bool(options.get('recompute_norm'))
                module.fold_norm = bool(options.get('fold_norm'))

    def _masks(self, data_samples: Optional[list]) -> Union[torch.Tensor, bool]:
        """(B, L) masks carried by the data samples, or True to let the backbone draw them."""
        if not data_samples or not all('mask' in ds for ds in data_samples):
            return True
        return torch.stack([ds.mask for ds in data_samples]).flatten(1)

    def reconstruct(self, inputs: torch.Tensor,
                    data_samples: Optional[list] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predictions (B, L, p * p * C) in target space and masks (B, L), 1 = masked."""
        return self._predict(inputs, self._masks(data_samples))

    def _predict(self, inputs: torch.Tensor,
                 mask: Union[torch.Tensor, bool]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder on the visible patches, then decoder: predictions and (B, L) masks."""
        latent, mask, ids_restore = self.backbone(inputs, mask)
        return self.neck(latent, ids_restore), mask

    def masked_loss(self, inputs: torch.Tensor, mask: Union[torch.Tensor, bool]) -> torch.Tensor:
        """Images (B, C, H, W) and masks (B, L) (or True: drawn here) -> the scalar loss.

        The loss reads only the masked patches, so only they are predicted.
        """
        latent, mask, ids_restore = self.backbone(inputs, mask)
        ids_masked = masked_ids(mask, self.backbone.num_masked)  # (B, L_mask)
        return self.head.loss(self.neck(latent, ids_restore, ids_masked), inputs, ids_masked)

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        """The MAE loss of a batch of normalised images (B, C, H, W)."""
        mask = self._masks(data_samples)
        if self.compile_cfg is None:
            return dict(loss=self.masked_loss(inputs, mask))
        if isinstance(mask, torch.Tensor):
            check_mask_counts(mask.flatten(1), self.backbone.num_masked)
        compiled = compiled_masked_loss(type(self).masked_loss, self.compile_cfg)
        return dict(loss=compiled(self, inputs, mask))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], Tuple[torch.Tensor, ...]]:
        """'loss': the loss dict; 'predict': (pred, mask); 'tensor': backbone features."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.reconstruct(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")


_COMPILED: Dict[Tuple[Callable, str], Callable] = {}
# compile options the model's layers apply themselves (MLPs, attention, blocks)
MODULE_OPTIONS = ('recompute_gelu', 'fuse_bias_grad', 'recompute_norm', 'fold_norm')


def compiled_masked_loss(fn: Callable, options: dict) -> Callable:
    """``fn`` (``MAE.masked_loss`` or a subclass's) through ``torch.compile(**options)``, one
    per function and set of options (``activation_memory_budget`` selects
    :func:`inductor_with_memory_budget`).

    The function is compiled unbound (the model is an argument), so models stay free of
    compiled state: they deep-copy, pickle and save exactly as eager ones.
    """
    key = (fn, repr(sorted(options.items())))
    if key not in _COMPILED:
        options = {k: v for k, v in options.items() if k not in MODULE_OPTIONS}
        budget = options.pop('activation_memory_budget', None)
        if budget is not None:
            options['backend'] = inductor_with_memory_budget(budget)
        _COMPILED[key] = torch.compile(fn, **options)
    return _COMPILED[key]
