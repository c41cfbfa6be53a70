"""Stop training at the first NaN / Inf loss, before anything corrupt can be saved."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook

from mae_mm.registry import HOOKS
from .deferred_scalars import is_log_iter, log_intervals, read_scalars


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise when a training step's loss is NaN or Inf, naming the iteration and the last
    good checkpoint. ``SafeCheckpointHook`` refuses non-finite weights too, so no corrupt
    checkpoint is ever written; it calls :meth:`check` first, so that this hook's error, which
    names the bad step, wins.

    The check is deferred so that it does not sync the host with the device every
    iteration: the losses stay detached on the device and are read in one transfer, and
    checked in order, where the log reads them anyway (the iterations where a ``LoggerHook``
    logs, the end of each training epoch, after training) and before a checkpoint is saved,
    so a non-finite loss stops training before the next checkpoint is written, and the error
    names the first non-finite iteration. The cost is one small transfer per log interval;
    the price is that training can run on for up to a log interval past the bad step.

    With ``optim_wrapper=dict(type='mae_mm.SkipNonFiniteOptimWrapper', ...)`` (or the Amp
    variant) such steps are skipped instead, and this hook logs a warning for each of them.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook and the checkpoint hook

    def __init__(self) -> None:
        self._intervals: list = []
        self._pending: list = []  # (iteration, epoch, skipped steps or None, detached loss)
        self._last_good: Optional[str] = None

    def before_train(self, runner) -> None:
        self._intervals = log_intervals(runner)
        self._last_good = runner.message_hub.get_info('last_ckpt')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None:
            skipped = getattr(runner.optim_wrapper, 'skipped_steps', None)
            self._pending.append((runner.iter + 1, runner.epoch + 1, skipped,
                                  torch.as_tensor(loss).detach()))
        if is_log_iter(runner, batch_idx, self._intervals):
            self.check(runner)

    def after_train_epoch(self, runner) -> None:
        self.check(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.check(runner)
        # the checkpoint hook has already named the checkpoint being saved in the message hub
        self._last_good = runner.message_hub.get_info('last_ckpt')

    def after_train(self, runner) -> None:
        self.check(runner)

    def check(self, runner) -> None:
        """Read the pending losses (one transfer); warn or raise at the first non-finite.

        Args:
            runner (Runner): The training runner.

        Raises:
            RuntimeError: At the first pending non-finite loss of a step that was not skipped.
        """
        pending, self._pending = self._pending, []
        values = read_scalars([loss for *_, loss in pending])
        for (iteration, epoch, skipped, _), value in zip(pending, values):
            if math.isfinite(value):
                continue
            if skipped is not None:
                runner.logger.warning(f'non-finite loss ({value}) at iteration {iteration}: '
                                      f'step skipped ({skipped} skipped so far)')
                continue
            last = self._last_good or 'none (no checkpoint saved yet)'
            raise RuntimeError(
                f'non-finite loss ({value}) at iteration {iteration} (epoch {epoch}); '
                f'training stopped before saving. Last good checkpoint: {last}. Resume from it '
                f'with `tools/train.py CONFIG --resume {last}` after lowering the lr or '
                f'lengthening the warm-up, or skip such steps with optim_wrapper type '
                f"'mae_mm.SkipNonFiniteOptimWrapper'.")
