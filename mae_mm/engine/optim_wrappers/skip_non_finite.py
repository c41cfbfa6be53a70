"""Optimizer wrappers that skip updates whose loss is NaN or Inf (opt-in)."""
import torch
from mmengine.optim import OptimWrapper

from mae_mm.registry import OPTIM_WRAPPERS
from .amp import AmpOptimWrapper


class _SkipNonFinite:
    """Skip the update of an accumulation window (a single step without accumulation) in
    which a loss is NaN or Inf: the window's gradients are dropped, its remaining steps run
    no backward, and ``skipped_steps`` counts the skipped updates. Checking the loss syncs
    with the device once a step, so this is off unless configured."""

    skipped_steps = 0
    _window_is_bad = False

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        if not self._window_is_bad:
            if torch.isfinite(loss).all():
                return super().update_params(loss, step_kwargs, zero_kwargs)
            self._window_is_bad = True
            self.skipped_steps += 1
        self._inner_count += 1  # what backward would count
        if self.should_update():
            self.zero_grad(**(zero_kwargs or {}))
            self._window_is_bad = False


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFinite, OptimWrapper):
    """``OptimWrapper`` that skips non-finite steps."""


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFinite, AmpOptimWrapper):
    """mae_mm's ``AmpOptimWrapper`` (no scaler for bf16) that skips non-finite steps."""
