"""End to end: a tiny MAE pretraining checkpoint goes by --cfg-options into the tiny fine-tune
and linear-probe configs, tools/train.py trains them on a generated ImageNet-layout folder of
real digits, and tools/test.py reports top-1 / top-5 through mmpretrain's Accuracy, the same
for the trained checkpoint converted to facebookresearch/mae's layout."""
import glob
import os.path as osp
import re

import pytest

from conftest import read_scalars, run_tool
from mae_mm.checkpoint import convert_checkpoint
from mae_mm.datasets.digits import make_digits_imagenet

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def digits_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('digits'))
    make_digits_imagenet(root, img_size=32, max_per_split=20)
    return root


def run_test(config: str, checkpoint: str, work_dir: str, data: list) -> tuple:
    """tools/test.py's (top-1, top-5) for ``checkpoint``, as printed."""
    test = run_tool('test.py', config, checkpoint, '--work-dir', work_dir, '--cfg-options', *data,
                    'test_dataloader.batch_size=4')
    out = test.stdout + test.stderr
    top1 = re.search(r'accuracy/top1: ([\d.]+)', out)
    top5 = re.search(r'accuracy/top5: ([\d.]+)', out)
    assert top1 and top5, out[-3000:]
    return top1.group(1), top5.group(1)


@pytest.mark.parametrize('protocol', ['finetune', 'linprobe'])
def test_pretrained_checkpoint_trains_and_tests(protocol, tiny_pretrain_ckpt, digits_root,
                                                tmp_path):
    config = f'configs/demo/{protocol}_vit-tiny_digits_demo.py'
    work_dir = str(tmp_path / protocol)
    data = [f'{loader}.dataset.data_root={digits_root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    train = run_tool(
        'train.py', config, '--work-dir', work_dir, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={tiny_pretrain_ckpt}', *data,
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=4',
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=1',
        'param_scheduler.1.begin=1', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1')
    log = train.stdout + train.stderr
    # the 64-px pretraining checkpoint loaded strictly into the 32-px classifier
    assert f'from {tiny_pretrain_ckpt} (mae_mm format)' in log
    assert 'resized pos_embed (1, 65, 192) -> (1, 17, 192)' in log
    losses = [r['loss'] for r in read_scalars(work_dir) if 'loss' in r]
    assert len(losses) == 20 and all(0 < loss < 10 for loss in losses)

    checkpoint = osp.join(work_dir, 'epoch_2.pth')
    top1, top5 = run_test(config, checkpoint, str(tmp_path / 'test'), data[2:])
    assert 0 <= float(top1) <= float(top5) <= 100
    assert glob.glob(osp.join(str(tmp_path / 'test'), '*', '*.log'))
    # the same classifier in facebookresearch/mae's layout (its head as head.* / head.0-1.*)
    # is evaluated directly, to the same numbers
    official = str(tmp_path / 'official.pth')
    convert_checkpoint(checkpoint, official, 'official')
    assert run_test(config, official, str(tmp_path / 'test_official'), data[2:]) == (top1, top5)
    if protocol != 'finetune':
        return
    # resuming reads the run's records after the backbone's init_cfg loaded its checkpoint
    resumed = run_tool(
        'train.py', config, '--work-dir', work_dir, '--resume', '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={tiny_pretrain_ckpt}', *data,
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=4',
        'train_cfg.max_epochs=3', 'train_cfg.val_interval=3', 'param_scheduler.0.end=1',
        'param_scheduler.1.begin=1', 'default_hooks.checkpoint.interval=1')
    assert 'resumed epoch: 2' in resumed.stdout + resumed.stderr
    assert osp.exists(osp.join(work_dir, 'epoch_3.pth'))
    # a checkpoint of another model fails instead of testing random weights
    wrong = run_tool('test.py', config, tiny_pretrain_ckpt, '--work-dir', str(tmp_path / 'wrong'),
                     '--cfg-options', *data[2:], check=False)
    assert wrong.returncode != 0
    assert "does not hold this config's whole model" in wrong.stderr
    assert 'accuracy/top1' not in wrong.stdout + wrong.stderr
