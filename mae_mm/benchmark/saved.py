"""The activations a training step keeps for its backward pass, counted on any device.

Autograd hands every tensor it saves for backward, the compiled graph's included, to the
``saved_tensors_hooks`` in force; :func:`saved_activations` records each storage once. Saved
bytes grow linearly with the batch (every image brings the same tokens), so two small batches
give the bytes at any batch (:func:`at_batch`): a memory estimate for a GPU-sized batch taken on
the CPU, where torch.compile's partitioner decides what to keep as it does on CUDA.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Tuple

import torch


@dataclass
class Saved:
    """Tensors kept for backward that share a (shape, dtype)."""
    shape: Tuple[int, ...]
    dtype: torch.dtype
    count: int
    nbytes: int


def saved_activations(forward: Callable[[], torch.Tensor],
                      exclude: Iterable[torch.Tensor] = ()) -> List[Saved]:
    """Run ``forward`` (it returns the loss) and its backward, and list what was saved.

    Args:
        forward (callable): Computes the loss from tensors it holds.
        exclude (iterable): Tensors alive anyway (parameters, the input batch): saved views of
            their storage are not counted.

    Returns:
        list: Groups by (shape, dtype), largest first; each storage counted once.
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    storages: Dict[int, Tuple[int, Tuple[int, ...], torch.dtype]] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            storages.setdefault(storage.data_ptr(), (storage.nbytes(), tuple(t.shape), t.dtype))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward()
    loss.backward()
    groups: Dict[Tuple, Saved] = {}
    for nbytes, shape, dtype in storages.values():
        group = groups.setdefault((shape, dtype), Saved(shape, dtype, 0, 0))
        group.count += 1
        group.nbytes += nbytes
    return sorted(groups.values(), key=lambda g: -g.nbytes)


def at_batch(small: Tuple[int, int], large: Tuple[int, int], batch: int) -> float:
    """Bytes at ``batch`` on the line through (batch, bytes) points ``small`` and ``large``."""
    per_image = (large[1] - small[1]) / (large[0] - small[0])
    return small[1] + per_image * (batch - small[0])
