"""Optimizer wrappers that skip updates whose loss is NaN or Inf (opt-in)."""
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper

from mae_mm.registry import OPTIM_WRAPPERS
from .amp import AmpOptimWrapper


class _SkipNonFinite:
    """Skip the update of an accumulation window (a single step without accumulation) in
    which a loss is NaN or Inf: the window's gradients are dropped, its remaining steps run
    no backward, and ``skipped_steps`` counts the skipped updates. Checking the loss syncs
    with the device once a step, so this is off unless configured.

    Under distributed training the ranks agree on the decision (one all-reduce of a flag a
    step, where a window is not already skipped): a window is skipped on every rank if the
    loss of any rank is non-finite, so that the gradient all-reduces of the ranks still pair
    up step for step.
    """

    skipped_steps = 0
    _window_is_bad = False

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                      zero_kwargs: Optional[dict] = None) -> None:
        """Backward and step as ``OptimWrapper.update_params``, unless a loss of the current
        accumulation window (on any rank) is non-finite.

        Args:
            loss (torch.Tensor): The loss of this step.
            step_kwargs (dict, optional): Passed to the optimizer's ``step``.
            zero_kwargs (dict, optional): Passed to the optimizer's ``zero_grad``.
        """
        if not self._window_is_bad:
            if not _any_rank_non_finite(loss):
                return super().update_params(loss, step_kwargs, zero_kwargs)
            self._window_is_bad = True
            self.skipped_steps += 1
        self._inner_count += 1  # what backward would count
        if self.should_update():
            self.zero_grad(**(zero_kwargs or {}))
            self._window_is_bad = False


def _any_rank_non_finite(loss: torch.Tensor) -> bool:
    """Whether ``loss`` holds NaN / Inf on this rank or, in a distributed run, on any rank."""
    bad = ~torch.isfinite(loss).all()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        flag = bad.to(torch.int32)  # on the loss's device, as NCCL needs
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        bad = flag
    return bool(bad)


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(_SkipNonFinite, OptimWrapper):
    """``OptimWrapper`` that skips non-finite steps."""


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteAmpOptimWrapper(_SkipNonFinite, AmpOptimWrapper):
    """mae_mm's ``AmpOptimWrapper`` (no scaler for bf16) that skips non-finite steps."""
