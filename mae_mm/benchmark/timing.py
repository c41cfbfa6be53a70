"""Timing and device-peak helpers for benchmarks (median of steps after warm-up)."""
import statistics
import time
from typing import Callable, List

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
