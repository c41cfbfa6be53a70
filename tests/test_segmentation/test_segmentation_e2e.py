"""End to end: MAE pretraining checkpoint -> UperNet training on ADE20K-format data ->
tools/test.py mIoU (mmseg's IoUMetric), with whole-image and sliding-window inference."""
import os.path as osp
import pickle
import re

import cv2
import numpy as np
import pytest

from mae_mm.datasets.ade20k_synthetic import make_ade20k_demo

from conftest import run_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'upernet_vit-tiny_ade20k_demo.py')
ITERS = 12
METRICS = re.compile(r'Iter\(test\).*aAcc: ([\d.]+)\s+mIoU: ([\d.]+)\s+mAcc: ([\d.]+)')


def data_options(root: str) -> list:
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


def miou_from_dump(dump: str, ann_dir: str) -> float:
    """mIoU of the dumped predictions against the annotation PNGs on disk (ADE20K labels:
    0 ignored, k is class k - 1), over the classes present in a prediction or ground truth."""
    inter, union = np.zeros(150), np.zeros(150)
    with open(dump, 'rb') as f:
        results = pickle.load(f)
    for result in results:
        pred = result['pred_sem_seg']['data'][0].numpy()
        gt = cv2.imread(osp.join(ann_dir, osp.basename(result['seg_map_path'])),
                        cv2.IMREAD_UNCHANGED).astype(np.int64) - 1
        valid = gt >= 0
        pred_hist = np.bincount(pred[valid], minlength=150)
        gt_hist = np.bincount(gt[valid], minlength=150)
        both = np.bincount(gt[valid][pred[valid] == gt[valid]], minlength=150)
        inter += both
        union += pred_hist + gt_hist - both
    return 100 * float(np.mean(inter[union > 0] / union[union > 0]))


@pytest.mark.slow
def test_pretrain_to_upernet_to_miou(tiny_pretrain_ckpt, tmp_path):
    root = make_ade20k_demo(str(tmp_path / 'ade'), num_train=6, num_val=2)
    work_dir = str(tmp_path / 'upernet')
    train = run_tool('train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
                     f'model.backbone.init_cfg.checkpoint={tiny_pretrain_ckpt}',
                     *data_options(root), f'train_cfg.max_iters={ITERS}',
                     f'train_cfg.val_interval={ITERS + 1}', 'train_dataloader.batch_size=2',
                     'param_scheduler.0.end=4', 'param_scheduler.1.begin=4',
                     f'param_scheduler.1.end={ITERS}', f'default_hooks.checkpoint.interval={ITERS}',
                     'default_hooks.logger.interval=4')
    log = train.stdout + train.stderr
    # strict transfer: every encoder tensor loaded, only what UperNet's ViT adds is new
    source = re.escape(tiny_pretrain_ckpt)
    assert re.search(rf'loaded \d+ tensors from {source} \(mae_mm format\)', log)
    new = re.search(r'new in this backbone, kept at their initial values: (.*)', log).group(1)
    assert set(new.split(', ')) == {'blocks.{0-5}.attn.rel_pos_bias.relative_position_bias_table',
                                    'blocks.{0-5}.ls1.gamma', 'blocks.{0-5}.ls2.gamma'}
    assert 'not loaded, MAE pretraining decoder' in log
    assert re.search(rf'Iter\(train\) \[{ITERS}/{ITERS}\].*decode\.loss_ce', log)

    checkpoint = osp.join(work_dir, f'iter_{ITERS}.pth')
    for mode in ('whole', 'slide'):
        dump = str(tmp_path / f'{mode}.pkl')
        test = run_tool('test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / mode),
                        '--out', dump, '--cfg-options', f'model.test_cfg.mode={mode}',
                        *data_options(root))
        out = test.stdout + test.stderr
        a_acc, miou, _ = map(float, METRICS.search(out).groups())
        assert 0 < miou <= 100 and 0 < a_acc <= 100
        # the per-class table names the drawn classes with numbers (absent ones read nan)
        for name in ('sky', 'grass', 'building'):
            assert re.search(rf'\|\s+{name}\s+\|\s+[\d.]+\s+\|', out), name
        # the printed mIoU is that of the predictions against the annotation files
        assert miou == pytest.approx(
            miou_from_dump(dump, osp.join(root, 'annotations', 'validation')), abs=0.01)
