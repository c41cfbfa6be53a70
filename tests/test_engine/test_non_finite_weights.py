"""SafeCheckpointHook's refusal of non-finite weights: the checkpoint it names, and the
NonFiniteLossHook error that comes first when a loss was the cause."""
import re

import pytest

from conftest import build_toy_runner
from mae_mm.checkpoint import mmengine_checkpoint_globals
from mae_mm.engine.hooks import NonFiniteLossHook, SafeCheckpointHook


def test_the_refusal_after_a_resume_names_the_checkpoint_resumed_from(tmp_path):
    build_toy_runner(str(tmp_path / 'first'), epochs=1).train()
    good = tmp_path / 'first' / 'epoch_1.pth'
    # no NonFiniteLossHook: the weights go NaN in the first step after the resume
    runner = build_toy_runner(str(tmp_path / 'resumed'), epochs=2, load_from=str(good), nan_at=1)
    expected = rf'refusing .* last good checkpoint is {re.escape(str(good))}\.'
    with pytest.raises(RuntimeError, match=expected), mmengine_checkpoint_globals():
        runner.train()


def test_a_nan_loss_between_log_points_is_named_before_the_weights(tmp_path):
    """A checkpoint every 3 iterations, logs every 50: the loss of iteration 2 is NaN."""
    runner = build_toy_runner(
        str(tmp_path), nan_at=2,
        default_hooks=dict(checkpoint=SafeCheckpointHook(interval=3, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=50),
                           non_finite=NonFiniteLossHook()))
    with pytest.raises(RuntimeError, match=r'non-finite loss \(nan\) at iteration 2 \(epoch 1\)'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))
