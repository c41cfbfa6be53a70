"""End to end: MAE pretraining checkpoint -> Mask R-CNN training on COCO-format data through
tools/train.py -> tools/test.py printing pycocotools' box and mask AP."""
import os.path as osp
import pickle
import re

import pytest

from mae_mm.datasets.coco_synthetic import make_coco_demo

from conftest import run_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'maskrcnn_vit-tiny_coco_demo.py')
ITERS = 10
METRICS = re.compile(r'coco/bbox_mAP: (-?[\d.]+)(.|\n)*coco/segm_mAP: (-?[\d.]+)')
SUMMARY = 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]'


def data_options(root: str) -> list:
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    return [f'{split}_dataloader.dataset.data_root={root}/' for split in ('train', 'val', 'test')
            ] + [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']


def box_ap_from_dump(dump: str, ann_file: str) -> float:
    """pycocotools' box AP of the dumped predictions, computed here from scratch."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with open(dump, 'rb') as f:
        results = pickle.load(f)
    gt = COCO(ann_file)
    cat_ids = sorted(gt.getCatIds())
    dets = []
    for r in results:
        inst = r['pred_instances']
        for (x0, y0, x1, y1), score, label in zip(inst['bboxes'].tolist(), inst['scores'].tolist(),
                                                  inst['labels'].tolist()):
            dets.append(dict(image_id=r['img_id'], category_id=cat_ids[label], score=score,
                             bbox=[x0, y0, x1 - x0, y1 - y0]))
    if not dets:
        return -1.0
    evaluator = COCOeval(gt, gt.loadRes(dets), 'bbox')
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return float(evaluator.stats[0])


@pytest.mark.slow
def test_pretrain_to_maskrcnn_train_and_test(tiny_pretrain_ckpt, tmp_path):
    data = make_coco_demo(str(tmp_path / 'coco'), num_train=8, num_val=4)
    work_dir = str(tmp_path / 'train')
    train = run_tool('train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
                     f'model.backbone.init_cfg.checkpoint={tiny_pretrain_ckpt}',
                     f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=1000',
                     f'default_hooks.checkpoint.interval={ITERS}',
                     'default_hooks.logger.interval=1',
                     *data_options(data))
    log = train.stdout + train.stderr
    # the pretrained encoder was loaded strictly; only the relative positions are new
    assert f'from {tiny_pretrain_ckpt} (mae_mm format)' in log
    assert re.search(r'new in this backbone, kept at their initial values: '
                     r'blocks\.\{0-5\}\.attn\.rel_pos_h, blocks\.\{0-5\}\.attn\.rel_pos_w\n', log)
    assert 'resized pos_embed (1, 65, 192) -> (1, 257, 192)' in log
    losses = [float(x) for x in re.findall(r'Iter\(train\) \[\s*\d+/\d+\].*? loss: ([\d.]+)', log)]
    assert len(losses) == ITERS and all(0 < x < 100 for x in losses)
    checkpoint = osp.join(work_dir, f'iter_{ITERS}.pth')
    assert osp.isfile(checkpoint)

    dump = str(tmp_path / 'preds.pkl')
    # after a few iterations scores are low: keep every detection so that COCOeval has some
    test = run_tool('test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / 'test'),
                    '--out', dump, '--cfg-options', 'model.test_cfg.rcnn.score_thr=0.0',
                    *data_options(data))
    out = test.stdout + test.stderr
    assert 'Evaluating bbox' in out and 'Evaluating segm' in out
    assert out.count(SUMMARY) == 2  # COCOeval's summaries of boxes and masks
    match = METRICS.search(out)
    assert match, out[-3000:]
    box_ap, mask_ap = float(match.group(1)), float(match.group(3))
    assert -1 <= box_ap <= 1 and -1 <= mask_ap <= 1
    # the printed box AP is pycocotools' own on the predictions (recomputed from the dump)
    ann = osp.join(data, 'annotations', 'instances_val2017.json')
    assert box_ap_from_dump(dump, ann) == pytest.approx(box_ap, abs=1e-3)
