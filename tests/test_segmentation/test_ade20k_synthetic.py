"""The synthetic ADE20K set: real layout and label conventions, read by mmseg unchanged."""
import filecmp
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mae_mm.datasets.ade20k_synthetic import ADE_LABELS, make_ade20k_demo, make_scene


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory) -> str:
    return make_ade20k_demo(str(tmp_path_factory.mktemp('ade')), num_train=6, num_val=2,
                            size=(64, 48), seed=3)


def test_layout_and_label_values(ade_root):
    for split, stem, count in (('training', 'ADE_train', 6), ('validation', 'ADE_val', 2)):
        for i in range(1, count + 1):
            image = cv2.imread(osp.join(ade_root, 'images', split, f'{stem}_{i:08d}.jpg'))
            ann = cv2.imread(osp.join(ade_root, 'annotations', split, f'{stem}_{i:08d}.png'),
                             cv2.IMREAD_UNCHANGED)
            assert image.shape == (48, 64, 3) and ann.shape == (48, 64) and ann.dtype == np.uint8
            values = set(np.unique(ann).tolist())
            assert values <= {0, *ADE_LABELS.values()}
            assert 0 in values and len(values) >= 4  # unlabelled seams, several classes


def test_same_seed_same_files(ade_root, tmp_path):
    again = make_ade20k_demo(str(tmp_path), num_train=6, num_val=2, size=(64, 48), seed=3)
    for sub in ('images/training', 'annotations/validation'):
        names = sorted(os.listdir(osp.join(ade_root, sub)))
        _, mismatch, errors = filecmp.cmpfiles(osp.join(ade_root, sub), osp.join(again, sub),
                                               names, shallow=False)
        assert not mismatch and not errors


def test_classes_have_distinct_colours():
    """Each class's mean colour is far from every other's, so colour alone separates them."""
    rng = np.random.default_rng(0)
    pixels = {v: [] for v in ADE_LABELS.values()}
    for _ in range(20):
        image, ann = make_scene(rng, (96, 64))
        for v in pixels:
            pixels[v].append(image[ann == v].astype(float))
    means = {v: np.concatenate(p).mean(0) for v, p in pixels.items() if sum(map(len, p))}
    assert len(means) == len(ADE_LABELS)
    values = sorted(means)
    gaps = [np.linalg.norm(means[a] - means[b]) for a in values for b in values if a < b]
    assert min(gaps) > 20


def test_mmseg_ade20k_dataset_and_pipeline_read_it(ade_root):
    from mmseg.datasets import ADE20KDataset
    init_default_scope('mmseg')
    ds = ADE20KDataset(
        data_root=ade_root, data_prefix=dict(img_path='images/validation',
                                             seg_map_path='annotations/validation'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', reduce_zero_label=True),
                  dict(type='PackSegInputs')])
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 150
    sample = ds[0]
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    raw = cv2.imread(osp.join(ade_root, 'annotations', 'validation', 'ADE_val_00000001.png'),
                     cv2.IMREAD_UNCHANGED)
    # reduce_zero_label: 0 (unlabelled) -> 255 (ignored), k -> k - 1
    assert np.array_equal(gt == 255, raw == 0)
    assert np.array_equal(gt[raw > 0], raw[raw > 0] - 1)
    assert ds.metainfo['classes'][ADE_LABELS['sky'] - 1] == 'sky'
    assert ds.metainfo['classes'][ADE_LABELS['car'] - 1] == 'car'


def test_bad_arguments_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match='num_val'):
        make_ade20k_demo(str(tmp_path), num_train=2, num_val=0)
    with pytest.raises(ValueError, match='too small'):
        make_ade20k_demo(str(tmp_path), size=(8, 8))
