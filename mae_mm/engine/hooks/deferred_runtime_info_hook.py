"""MMEngine's ``RuntimeInfoHook`` without a host sync per training iteration."""
from typing import Any, Optional

import torch
from mmengine.hooks import RuntimeInfoHook

from mae_mm.registry import HOOKS
from .deferred_scalars import is_log_iter, log_intervals, read_scalars


def _is_device_scalar(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() == 1


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """``RuntimeInfoHook`` that reads the training step's scalars once per log interval.

    MMEngine's hook puts every output of ``train_step`` into the message hub right after the
    step, and ``MessageHub.update_scalar`` calls ``.item()``: the host waits for the device
    every iteration. This hook keeps the floating-point scalar tensors detached on the device
    and moves them into the message hub, in one transfer, one value per iteration and in
    order (``train/<key>``, as MMEngine does), on the iterations where a ``LoggerHook`` logs,
    at the end of each training epoch, before a checkpoint is saved (whose message hub gets
    the flushed scalars too), before validation and after training. So the logs and their
    window averages are identical to MMEngine's; between those points ``train/<key>`` lags.
    Other outputs (Python or NumPy numbers, integer tensors, non-scalars) go to the message
    hub at once as in MMEngine.

    Use it in place of MMEngine's: ``default_hooks = dict(runtime_info=dict(
    type='mae_mm.DeferredRuntimeInfoHook'))``. Its priority stays ``VERY_HIGH``, so it runs
    before ``LoggerHook`` in ``after_train_iter``.
    """

    def __init__(self) -> None:
        self._intervals: list = []
        self._pending: list = []  # per iteration: {'train/<key>': detached scalar tensor}

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._intervals = log_intervals(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        deferred = {}
        for key, value in (outputs or {}).items():
            if _is_device_scalar(value):
                deferred[f'train/{key}'] = value.detach()
            else:
                runner.message_hub.update_scalar(f'train/{key}', value)
        if deferred:
            self._pending.append(deferred)
        if is_log_iter(runner, batch_idx, self._intervals):
            self._flush(runner)

    def after_train_epoch(self, runner) -> None:
        self._flush(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # the checkpoint's copy of the message hub was taken before this hook ran
        if self._flush(runner) and 'message_hub' in checkpoint:
            scalars = runner.message_hub.state_dict()['log_scalars']
            checkpoint['message_hub']['log_scalars'] = scalars

    def before_val(self, runner) -> None:
        self._flush(runner)
        super().before_val(runner)

    def after_train(self, runner) -> None:
        self._flush(runner)
        super().after_train(runner)

    def _flush(self, runner) -> bool:
        """Move the pending scalars into the message hub; return whether there were any."""
        if not self._pending:
            return False
        pending, self._pending = self._pending, []
        values = iter(read_scalars([v for scalars in pending for v in scalars.values()]))
        for scalars in pending:
            for key in scalars:
                runner.message_hub.update_scalar(key, next(values))
        return True
