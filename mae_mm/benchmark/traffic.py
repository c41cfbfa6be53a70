"""Bytes the generated kernels of a compiled step move, as Inductor counts them, on any device.

Inductor knows the buffers each kernel it generates reads and writes. Those kernels (pointwise,
normalisation, reductions: everything but the library calls for matrix multiplies and
attention) are bound by memory bandwidth on a GPU, so a recompute option's cost is the bytes it
adds to them over the device's bandwidth. Which kernels Inductor fuses differs a little between
its CPU and GPU code, so a count taken on the CPU projects the GPU's rather than measuring it.
One difference is closed here: on the CPU Inductor copies each input of a concatenation into
its place in a buffer and then copies that buffer again where it is permuted (attention's q, k
and v gradients into qkv's layout), where on a GPU it writes the concatenation as one pointwise
kernel; counting forces the GPU's choice (``force_pointwise_cat``).
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from unittest import mock

import torch
from torch._inductor import config as inductor_config
from torch._inductor import scheduler


@dataclass
class Traffic:
    """What the graphs compiled in :func:`inductor_traffic` do, summed over them.

    Attributes:
        graphs (int): Graphs generated (a step's forward and backward are two).
        kernels (int): Generated kernels, each a group of fused operations.
        kernel_bytes (int): Bytes those kernels read and write.
        library_bytes (int): Bytes the library calls (matrix multiplies, attention) read and
            write.
    """
    graphs: int = 0
    kernels: int = 0
    kernel_bytes: int = 0
    library_bytes: int = 0


@contextmanager
def inductor_traffic() -> Iterator[Traffic]:
    """Count the kernels of every graph Inductor generates inside the block.

    Dynamo's cache is emptied and Inductor's caches are off inside, so each graph is compiled
    afresh for the shapes it meets (a graph loaded from a cache would go uncounted), and every
    concatenation is generated as a pointwise kernel, as on a GPU.

    Yields:
        Traffic: Filled in as graphs are generated.
    """
    traffic = Traffic()
    codegen = scheduler.Scheduler.codegen

    def counting_codegen(self: scheduler.Scheduler) -> None:
        traffic.graphs += 1
        for node in self.nodes:
            if isinstance(node, scheduler.NopKernelSchedulerNode):
                continue
            if isinstance(node, scheduler.ExternKernelSchedulerNode):
                traffic.library_bytes += node.get_read_write_buffers_sizes()
            else:
                traffic.kernels += 1
                traffic.kernel_bytes += node.get_read_write_buffers_sizes()
        codegen(self)

    torch._dynamo.reset()
    with inductor_config.patch(fx_graph_cache=False, force_pointwise_cat=True), \
            torch._functorch.config.patch(enable_autograd_cache=False), \
            mock.patch.object(scheduler.Scheduler, 'codegen', counting_codegen):
        yield traffic
    torch._dynamo.reset()
