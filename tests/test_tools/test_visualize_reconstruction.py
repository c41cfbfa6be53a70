"""tools/analysis_tools/visualize_reconstruction.py on a real pretraining checkpoint."""
import glob
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from conftest import PRETRAIN_DEMO, run_tool

MEAN_RGB = (124, 116, 104)  # the preprocessor's mean, rounded: the colour of masked patches


@pytest.mark.slow
@pytest.mark.parametrize('mask_ratio', [None, 0.9])
def test_figure_rows_mask_exactly_the_ratio(tmp_path, demo_images, tiny_pretrain_ckpt, mask_ratio):
    images = sorted(glob.glob(osp.join(demo_images, '*.png')))[:3]
    out = tmp_path / 'recon.png'
    ratio = ['--mask-ratio', str(mask_ratio)] if mask_ratio else []
    run_tool('analysis_tools/visualize_reconstruction.py', PRETRAIN_DEMO, tiny_pretrain_ckpt,
             '--img', *images, '--out', str(out), *ratio)
    figure = np.asarray(Image.open(out))
    assert figure.shape == (3 * 64, 4 * 64, 3)  # a row per image: 4 panels of 64 px
    for row in range(3):
        masked = figure[row * 64:(row + 1) * 64, :64].reshape(8, 8, 8, 8, 3)  # 8 x 8 patches
        grey = (masked == MEAN_RGB).all(axis=(1, 3, 4)).sum()  # patches all of the mean colour
        assert grey == round(64 * (mask_ratio or 0.75))
