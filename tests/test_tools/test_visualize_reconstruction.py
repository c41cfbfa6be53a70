"""tools/analysis_tools/visualize_reconstruction.py on a real pretraining checkpoint."""
import glob
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from conftest import PRETRAIN_DEMO, REPO, run_tool

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


def test_mask_ratio_with_grid_masking_names_the_fix(tmp_path):
    """GridMasking's ratio is fixed by its cell: --mask-ratio is refused by name, before any
    checkpoint is read (the generic mask-count error came after loading)."""
    proc = run_tool('analysis_tools/visualize_reconstruction.py',
                    osp.join(REPO, 'configs', 'mae_vit-b_pretrain_gridmask.py'),
                    str(tmp_path / 'none.pth'), '--mask-ratio', '0.9', timeout=300, check=False)
    assert proc.returncode != 0
    assert '--mask-ratio 0.9: this config masks with GridMasking' in proc.stderr
