"""Read training scalars back from the device only where the log needs them.

Reading a device tensor on the host (``.item()``, ``float()``) waits for every queued kernel.
Hooks that keep the per-iteration scalars on the device and read them with
:func:`read_scalars` at the iterations :func:`is_log_iter` names sync once per log interval
instead of once per iteration.
"""
from typing import List

import torch
from mmengine.hooks import LoggerHook


def log_intervals(runner) -> List[int]:
    """The ``interval`` of each ``LoggerHook`` registered in ``runner``.

    Args:
        runner (Runner): The runner about to train.

    Returns:
        list[int]: One interval per ``LoggerHook``; empty when there is none.
    """
    return [hook.interval for hook in runner.hooks if isinstance(hook, LoggerHook)]


def is_log_iter(runner, batch_idx: int, intervals: List[int]) -> bool:
    """Whether a ``LoggerHook`` may log the training scalars after this iteration.

    Mirrors ``LoggerHook.after_train_iter``: it logs every ``interval`` inner iterations and
    at the last iteration of the epoch (there unless ``ignore_last``; this says True anyway).

    Args:
        runner (Runner): The training runner.
        batch_idx (int): The index of the batch in the train loop, as given to the hooks.
        intervals (list[int]): The loggers' intervals, from :func:`log_intervals`.

    Returns:
        bool: True on the iterations where the scalars must be in the message hub.
    """
    return (any((batch_idx + 1) % n == 0 for n in intervals)
            or batch_idx + 1 == len(runner.train_dataloader))


def read_scalars(tensors: List[torch.Tensor]) -> List[float]:
    """The values of one-element floating-point tensors, read in one device-to-host transfer.

    The tensors are stacked on the device of the first one (dtypes promote exactly: bf16 and
    fp16 into fp32, all into fp64 if one is), so each value equals its ``.item()``.

    Args:
        tensors (list[Tensor]): One-element floating-point tensors, e.g. detached losses.

    Returns:
        list[float]: Their values in order; empty for no tensors.
    """
    if not tensors:
        return []
    device = tensors[0].device
    return torch.stack([t.reshape(()).to(device) for t in tensors]).tolist()
