"""The synthetic COCO set: real layout read by pycocotools and mmdet, masks that match the
pixels, determinism, clear errors."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mae_mm.datasets.coco_synthetic import CLASSES, _draw, make_coco_demo

from det_helpers import DEMO, coco_demo, load_config  # noqa: F401


def test_layout_is_coco_2017(coco_demo):
    assert sorted(os.listdir(coco_demo)) == ['annotations', 'train2017', 'val2017']
    for split, count in (('train2017', 8), ('val2017', 4)):
        coco = COCO(osp.join(coco_demo, 'annotations', f'instances_{split}.json'))
        assert len(coco.getImgIds()) == count
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        for img in coco.loadImgs(coco.getImgIds()):
            assert cv2.imread(osp.join(coco_demo, split, img['file_name'])).shape == (128, 128, 3)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
            assert 1 <= len(anns) <= 4
            for ann in anns:
                mask = coco.annToMask(ann)
                assert ann['iscrowd'] == 0 and len(ann['segmentation'][0]) >= 6
                assert abs(mask.sum() - ann['area']) <= 1
                ys, xs = np.nonzero(mask)
                x, y, w, h = ann['bbox']
                assert x - 1 <= xs.min() and xs.max() <= x + w
                assert y - 1 <= ys.min() and ys.max() <= y + h
    # objects of every class occur
    train = COCO(osp.join(coco_demo, 'annotations', 'instances_train2017.json'))
    assert {a['category_id'] for a in train.anns.values()} == {1, 2, 3, 4}


def test_objects_do_not_overlap(coco_demo):
    coco = COCO(osp.join(coco_demo, 'annotations', 'instances_train2017.json'))
    for img_id in coco.getImgIds():
        masks = [coco.annToMask(a) for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id))]
        assert np.stack(masks).sum(0).max() == 1


def test_drawn_pixels_are_the_annotated_mask(coco_demo):
    """Each object's annotated mask covers the pixels that differ from the photo behind it."""
    coco = COCO(osp.join(coco_demo, 'annotations', 'instances_val2017.json'))
    for img in coco.loadImgs(coco.getImgIds()):
        pixels = cv2.imread(osp.join(coco_demo, 'val2017', img['file_name']))[..., ::-1]
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img['id'])):
            mask = coco.annToMask(ann).astype(bool)
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~mask
            inside = pixels[cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0]
            # one shaded colour inside: far less spread than across the object's edge
            spread = np.abs(inside - np.median(inside, 0)).mean()
            across = np.abs(pixels[ring] - np.median(inside, 0)).mean()
            assert across > 2 * spread, (img['file_name'], ann['id'])
    # and drawing uses exactly the annotation's rasterisation
    rng = np.random.default_rng(0)
    pts = np.array([[20.3, 10.7], [60.2, 25.1], [35.6, 58.9], [12.4, 40.2]])
    canvas = np.zeros((64, 64, 3), np.float32)
    _draw(canvas, pts, rng)
    from pycocotools import mask as mask_utils
    ref = mask_utils.decode(mask_utils.frPyObjects([pts.reshape(-1).tolist()], 64, 64))[..., 0]
    assert np.array_equal(canvas.any(-1), ref > 0)


def test_mmdet_coco_dataset_and_pipeline_read_it(coco_demo):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    import mae_mm  # noqa: F401
    init_default_scope('mmdet')
    cfg = load_config(DEMO, coco_demo)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CLASSES
    sample = dataset[0]
    gt = sample['data_samples'].gt_instances
    assert sample['inputs'].shape == (3, 128, 128)
    assert len(gt.bboxes) == len(gt.labels) == len(gt.masks) > 0
    assert set(gt.labels.tolist()) <= {0, 1, 2, 3}


def test_same_seed_same_files(tmp_path):
    a = make_coco_demo(str(tmp_path / 'a'), num_train=2, num_val=1, size=64, seed=3)
    b = make_coco_demo(str(tmp_path / 'b'), num_train=2, num_val=1, size=64, seed=3)
    for name in ('instances_train2017.json', 'instances_val2017.json'):
        with open(osp.join(a, 'annotations', name)) as fa:
            with open(osp.join(b, 'annotations', name)) as fb:
                assert json.load(fa) == json.load(fb)
    assert np.array_equal(cv2.imread(osp.join(a, 'train2017', '000000000001.jpg')),
                          cv2.imread(osp.join(b, 'train2017', '000000000001.jpg')))


def test_bad_arguments_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match=r'num_train \(0\)'):
        make_coco_demo(str(tmp_path), num_train=0)
    with pytest.raises(ValueError, match='size 16 is too small'):
        make_coco_demo(str(tmp_path), size=16)
