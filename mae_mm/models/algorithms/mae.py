"""MAE: backbone (masked encoder) -> neck (decoder) -> head (masked pixel MSE)."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel

from mae_mm.registry import MODELS, build_model


@MODELS.register_module()
class MAE(BaseModel):
    """Masked autoencoder pretraining.

    The per-sample masks come from the data pipeline (``data_samples[i].mask``, shape (L,),
    1 = masked); without them the backbone draws uniform random masks itself.

    Args:
        backbone (dict): An :class:`MAEViT` config.
        neck (dict): An :class:`MAEDecoder` config; ``num_patches``, ``patch_size``,
            ``in_channels`` and ``embed_dims`` default to the backbone's.
        head (dict): An :class:`MAEHead` config; ``patch_size`` defaults to the backbone's.
        data_preprocessor (dict, optional): Normalises and stacks the images.
        init_cfg (dict, optional): Passed to :class:`BaseModel`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_model(backbone)
        patch_embed = self.backbone.patch_embed
        neck = dict(neck)
        neck.setdefault('num_patches', self.backbone.num_patches)
        neck.setdefault('patch_size', patch_embed.patch_size)
        neck.setdefault('in_channels', patch_embed.proj.in_channels)
        neck.setdefault('embed_dims', self.backbone.embed_dims)
        self.neck = build_model(neck)
        head = dict(head)
        head.setdefault('patch_size', patch_embed.patch_size)
        self.head = build_model(head)

    def _masks(self, data_samples: Optional[list]) -> Union[torch.Tensor, bool]:
        """(B, L) masks carried by the data samples, or True to let the backbone draw them."""
        if not data_samples or not all('mask' in ds for ds in data_samples):
            return True
        return torch.stack([ds.mask for ds in data_samples]).flatten(1)

    def reconstruct(self, inputs: torch.Tensor,
                    data_samples: Optional[list] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predictions (B, L, p * p * C) in target space and masks (B, L), 1 = masked."""
        latent, mask, ids_restore = self.backbone(inputs, self._masks(data_samples))
        return self.neck(latent, ids_restore), mask

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        """The MAE loss of a batch of normalised images (B, C, H, W)."""
        pred, mask = self.reconstruct(inputs, data_samples)
        return dict(loss=self.head.loss(pred, inputs, mask))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """'loss': the loss dict; 'predict': (pred, mask); 'tensor': backbone features."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.reconstruct(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
