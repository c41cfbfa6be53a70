"""DeferredRuntimeInfoHook + NonFiniteLossHook: MMEngine's logs, and the losses read on the host
only where the log needs them, in real Runner runs of the demo config."""
import os.path as osp

import numpy as np
import pytest
import torch

from conftest import build_runner, read_scalars
from mae_mm.checkpoint import load_file

# 2 epochs of 6 iterations. LoggerHook logs after iterations 4 and 10 (every 4 in an epoch;
# not at an epoch's end, ignore_last), the hooks also read at the epochs' ends (6, 12) and
# before the checkpoints at iterations 5 and 10: one read by each hook there.
EXPECTED_READS = {4: 2, 5: 2, 6: 2, 10: 2, 12: 2}
HOOKS = {'deferred': 'mae_mm.DeferredRuntimeInfoHook', 'mmengine': 'RuntimeInfoHook'}
HOST_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__,
              torch.Tensor.numpy, torch.Tensor.cpu}


class CountedReads(torch.Tensor):
    """A tensor counting its host reads, and those of tensors made from it, in ``reads[-1]``."""

    reads: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in HOST_READS:
            cls.reads[-1] += 1
        return super().__torch_function__(func, types, args, kwargs)


def train(work_dir: str, data_root: str, runtime_info: str) -> tuple:
    """Train the demo config for 12 iterations; return the runner and the number of host
    reads of the step's outputs after each training step (until the next one)."""
    runner = build_runner(work_dir, data_root, epochs=2, extra={
        'default_hooks.runtime_info': dict(type=runtime_info),
        'default_hooks.logger.interval': 4,
        'default_hooks.checkpoint.by_epoch': False, 'default_hooks.checkpoint.interval': 5,
        'default_hooks.checkpoint.max_keep_ckpts': -1,  # the test reads every checkpoint
        'experiment_name': osp.basename(work_dir)})
    reads = CountedReads.reads = []
    train_step = runner.model.train_step

    def counted_train_step(*args, **kwargs):
        reads.append(0)
        return {k: v.as_subclass(CountedReads) for k, v in train_step(*args, **kwargs).items()}

    runner.model.train_step = counted_train_step
    runner.train()
    return runner, reads


@pytest.fixture(scope='module')
def runs(tmp_path_factory, demo_images) -> dict:
    """``{'deferred' | 'mmengine': (work_dir, runner, reads)}`` for the two runtime hooks."""
    out = {}
    for name, hook in HOOKS.items():
        work_dir = str(tmp_path_factory.mktemp(name))
        out[name] = (work_dir, *train(work_dir, demo_images, hook))
    return out


def test_logged_losses_equal_mmengine(runs):
    (ours, ours_runner, _), (theirs, theirs_runner, _) = runs['deferred'], runs['mmengine']
    timing = ('time', 'data_time', 'eta')
    logged = [[{k: v for k, v in r.items() if k not in timing} for r in read_scalars(d)]
              for d in (ours, theirs)]
    assert [r['step'] for r in logged[0]] == [4, 10]
    assert logged[0] == logged[1]
    # every iteration's value, in order, in the message hub and in each checkpoint's copy
    history = [r.message_hub.get_scalar('train/loss').data[0] for r in (ours_runner, theirs_runner)]
    assert len(history[0]) == 12 and np.array_equal(*history)
    for step in (5, 10):
        saved = [load_file(osp.join(d, f'iter_{step}.pth'))['message_hub']['log_scalars']
                 for d in (ours, theirs)]
        for key in ('train/loss', 'train/lr'):
            assert len(saved[0][key].data[0]) == step
            assert np.array_equal(saved[0][key].data[0], saved[1][key].data[0]), (step, key)


def test_losses_are_read_on_the_host_only_at_log_points(runs):
    reads = runs['deferred'][2]
    assert len(reads) == 12
    assert {i + 1: n for i, n in enumerate(reads) if n} == EXPECTED_READS


def test_mmengine_reads_the_loss_every_iteration(runs):
    """The control: the counting sees MMEngine's ``.item()`` after every step."""
    reads = runs['mmengine'][2]
    assert {i + 1: n for i, n in enumerate(reads) if n} == {
        i: 1 + EXPECTED_READS.get(i, 0) // 2 for i in range(1, 13)}
