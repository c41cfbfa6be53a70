"""The digits folder is a real ImageNet layout that mmpretrain's ImageNet dataset reads."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.datasets import ImageNet
from PIL import Image

from mae_mm.datasets.digits import DIGIT_CLASSES, make_digits_imagenet, split_digits


def test_split_is_stratified_disjoint_and_complete():
    splits = split_digits(val_fraction=0.2, seed=0)
    train, val = splits['train'], splits['val']
    assert len(train[0]) + len(val[0]) == 1797
    assert not set(train[2]) & set(val[2])
    per_class = np.bincount(val[1], minlength=10) / np.bincount(np.r_[train[1], val[1]])
    assert np.allclose(per_class, 0.2, atol=0.01)
    assert train[0].dtype == np.uint8 and train[0].max() == 255


def test_imagenet_dataset_reads_the_folder(tmp_path):
    counts = make_digits_imagenet(str(tmp_path), img_size=24, max_per_split=30)
    assert counts == {'train': 30, 'val': 30}
    init_default_scope('mmpretrain')
    for split in ('train', 'val'):
        ds = ImageNet(data_root=str(tmp_path), split=split, metainfo=dict(classes=DIGIT_CLASSES))
        assert len(ds) == 30 and ds.CLASSES == DIGIT_CLASSES
        labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
        assert sorted(labels) == sorted(list(range(10)) * 3)  # classes interleaved, balanced
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            assert f'/{split}/{info["gt_label"]}/' in info['img_path']  # folder = label
        img = Image.open(ds.get_data_info(0)['img_path'])
        assert img.size == (24, 24) and img.mode == 'RGB'


def test_bad_arguments_fail_with_a_message(tmp_path):
    with pytest.raises(ValueError, match='img_size must be >= 8'):
        make_digits_imagenet(str(tmp_path), img_size=4)
    with pytest.raises(ValueError, match=r'val_fraction must be in \(0, 1\)'):
        split_digits(val_fraction=1.0)
