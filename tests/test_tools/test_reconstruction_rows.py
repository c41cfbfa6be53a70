"""Reconstruction figures (mae_mm.visualization, ReconstructionHook): pixels, grey and RGB."""
import logging
from types import SimpleNamespace

import conftest
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmpretrain.structures import DataSample
from PIL import Image

from mae_mm.engine.hooks.reconstruction_hook import ReconstructionHook
from mae_mm.models import MAE
from mae_mm.visualization import reconstruction_rows


def tiny_mae(in_channels: int = 3, data_preprocessor: dict = None) -> MAE:
    return conftest.tiny_mae(num_layers=1, in_channels=in_channels,
                             data_preprocessor=data_preprocessor).eval()


def test_a_perfect_prediction_shows_the_original():
    """norm-pix predictions are de-normalised with each patch's own statistics."""
    model = tiny_mae()
    x = torch.randn(2, 3, 32, 32) * torch.rand(2, 1, 1, 1) * 3 + 1  # per-image stats
    model.reconstruct = lambda inputs, samples: (model.head.target(inputs), torch.ones(2, 16))
    rows = reconstruction_rows(model, x)
    assert rows.shape == (2 * 32, 4 * 32, 3)
    recon, original = rows[:, 32:64].astype(int), rows[:, 96:].astype(int)
    assert np.abs(recon - original).max() <= 1  # rounding only


def test_grey_images_give_a_grey_rgb_figure(tmp_path):
    """Single-channel images gave an (H, W, 1) array that PIL cannot save."""
    rows = reconstruction_rows(tiny_mae(in_channels=1), torch.randn(2, 1, 32, 32),
                               mean=[127.5], std=[64.0])
    assert rows.shape == (2 * 32, 4 * 32, 3) and rows.dtype == np.uint8
    assert (rows == rows[..., :1]).all()  # grey
    Image.fromarray(rows).save(tmp_path / 'recon.png')
    with pytest.raises(ValueError, match=r'one value per image channel \(1\)'):
        reconstruction_rows(tiny_mae(in_channels=1), torch.randn(2, 1, 32, 32))


def test_hook_draws_models_that_see_unnormalised_pixels(tmp_path):
    """A preprocessor without mean / std has no ``mean`` buffer: the hook raised
    AttributeError at the end of the first figure epoch."""
    model = tiny_mae(data_preprocessor=dict(type='mae_mm.MAEDataPreprocessor'))
    mask = torch.tensor([1] * 12 + [0] * 4, dtype=torch.uint8)
    data = [dict(inputs=torch.full((3, 32, 32), 10 * i, dtype=torch.uint8),
                 data_samples=DataSample().set_mask(mask)) for i in range(2)]
    runner = SimpleNamespace(epoch=0, max_epochs=1, model=model, work_dir=str(tmp_path),
                             logger=logging.getLogger(__name__),
                             train_dataloader=SimpleNamespace(dataset=data,
                                                              collate_fn=default_collate))
    hook = ReconstructionHook(num_images=2)
    hook.after_train_epoch(runner)
    figure = np.asarray(Image.open(hook.last_path))
    assert figure.shape == (2 * 32, 4 * 32, 3)
    assert (figure[32:, 96:] == 10).all()  # the original panel: the input pixels themselves
