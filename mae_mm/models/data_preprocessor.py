"""Batch transfer for MAE pretraining without a host synchronisation per sample."""
import torch
from mmengine.model import ImgDataPreprocessor

from mae_mm.registry import MODELS


@MODELS.register_module()
class MAEDataPreprocessor(ImgDataPreprocessor):
    """MMEngine's ``ImgDataPreprocessor`` that moves a batch to the GPU asynchronously.

    MMEngine's copies every tensor with ``non_blocking=False`` and each data sample's mask
    on its own: from pageable memory, so the host waits for the GPU to finish the previous
    step before the next one can be queued, once per sample. Here the (B, L) masks are
    stacked into one pinned tensor and copied once, without blocking, as are the images
    (pinned by the loader's ``pin_memory=True``); each sample's ``mask`` becomes a row of
    that one device tensor. Normalisation and outputs are MMEngine's.

    Args:
        non_blocking (bool): Copy without waiting for the device. Defaults to True.
        **kwargs: ``mean``, ``std``, ``bgr_to_rgb``, ... of ``ImgDataPreprocessor``.
    """

    def __init__(self, non_blocking: bool = True, **kwargs) -> None:
        super().__init__(non_blocking=non_blocking, **kwargs)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Move the masks in one copy, then MMEngine's transfer, normalisation and stacking."""
        samples = data.get('data_samples')
        if samples and all('mask' in s for s in samples):
            masks = torch.stack([s.mask for s in samples])  # (B, L) or (B, h, w)
            if self.device.type == 'cuda':
                masks = masks.pin_memory()
            masks = masks.to(self.device, non_blocking=self._non_blocking)
            for sample, mask in zip(samples, masks):
                sample.mask = mask
        return super().forward(data, training)
