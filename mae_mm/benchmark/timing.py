"""Timing and device-peak helpers for benchmarks (median of steps after warm-up)."""
import statistics
import time
from typing import Callable, Iterable, List

import torch


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(step: Callable, device: torch.device, n: int) -> List[float]:
    """Seconds of each of ``n`` calls of ``step``, the device synchronised around each."""
    times = []
    for _ in range(n):
        synchronize(device)
        t0 = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def time_block(step: Callable, device: torch.device, n: int) -> float:
    """Seconds per step of ``n`` back-to-back calls of ``step``, synchronised only before
    the first and after the last, as a training loop runs them when no step waits on the
    device (the host queues the next step while the device computes this one)."""
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    synchronize(device)
    return (time.perf_counter() - t0) / n


def median(values: List[float]) -> float:
    return statistics.median(values)


def matmul_peak_flops(device: torch.device, dtype: torch.dtype, size: int = 8192,
                      repeat: int = 10) -> float:
    """Measured FLOP/s of a square matrix multiply, the reference for utilisation figures."""
    if device.type == 'cpu':
        size = min(size, 2048)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    times = time_steps(lambda: a @ b, device, repeat)
    return 2 * size**3 / median(times)


def storage_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views and tied weights once)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def own_peak_bytes(step: Callable, device: torch.device, n: int,
                   own: Iterable[torch.Tensor]) -> int:
    """Peak device memory of training one model, whatever else the device holds.

    Runs ``n`` steps and takes the most they allocated on top of what was resident before
    (another model's weights and optimizer state included), plus the bytes of ``own``: the
    tensors of this model resident before its first step (its parameters, the batch). Its
    optimizer state, created by the first step, is in the former.
    """
    synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    time_steps(step, device, n)
    return torch.cuda.max_memory_allocated(device) - before + storage_bytes(own)
