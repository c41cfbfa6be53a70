"""MAEDataPreprocessor: MMEngine's outputs, the masks moved as one tensor."""
import pytest
import torch
from mmengine.model import ImgDataPreprocessor
from mmpretrain.structures import DataSample

from mae_mm.models import MAEDataPreprocessor
from mae_mm.models.layers import random_mask

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


def batch() -> dict:
    """A batch as ``default_collate`` delivers it: stacked uint8 images, samples with masks."""
    torch.manual_seed(0)
    masks = random_mask(4, 16, 12)
    return dict(inputs=torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8),
                data_samples=[DataSample().set_mask(m) for m in masks])


def test_same_outputs_as_mmengine_and_masks_in_one_tensor():
    ours = MAEDataPreprocessor(**NORM)(batch(), training=True)
    ref = ImgDataPreprocessor(**NORM)(batch(), training=True)
    torch.testing.assert_close(ours['inputs'], ref['inputs'], rtol=0, atol=0)
    for mine, theirs in zip(ours['data_samples'], ref['data_samples']):
        torch.testing.assert_close(mine.mask, theirs.mask, rtol=0, atol=0)
    storages = {s.mask.untyped_storage().data_ptr() for s in ours['data_samples']}
    assert len(storages) == 1  # rows of one stacked tensor: one copy to the device


def test_samples_without_masks_pass_through():
    data = dict(inputs=torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                data_samples=[DataSample(), DataSample()])
    out = MAEDataPreprocessor(**NORM)(data)
    assert all('mask' not in s for s in out['data_samples'])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='pinned, non-blocking copies need CUDA')
def test_cuda_copy_is_non_blocking_and_exact():
    pre = MAEDataPreprocessor(**NORM).cuda()
    data = batch()
    expected = torch.stack([s.mask for s in data['data_samples']])
    out = pre(data, training=True)
    got = torch.stack([s.mask for s in out['data_samples']])
    assert got.is_cuda and pre._non_blocking
    torch.testing.assert_close(got.cpu(), expected, rtol=0, atol=0)
