"""Bytes the generated kernels of a compiled step move on a GPU, as Inductor counts them.

Inductor knows the buffers each kernel it generates reads and writes. Those kernels (pointwise,
normalisation, reductions: everything but the library calls for matrix multiplies and
attention) are bound by memory bandwidth on a GPU, so a recompute option's cost is the bytes it
adds to them over the device's bandwidth.

Which kernels Inductor fuses depends on the device it generates code for. On a CUDA device the
graphs are counted as compiled. A graph compiled for the CPU is lowered a second time, for a
CUDA device that reports an H100's properties: only Inductor's scheduling runs, which needs no
GPU, and code generation stops once its kernels are counted. That counts what Triton would
fuse and the CPU would not: a LayerNorm backward's input gradient (a sum along each row) and
weight gradients (sums down the columns) in one pass ("mix-order" reductions), a concatenation
written as one pointwise kernel. Other choices depend on the sizes too (which sums Inductor
splits into kernels of their own), so count at the batch that matters: without running the
graphs (``run=False``) that is cheap at any batch. Inductor mixes reduction orders only for
tensors of at least 4,096 rows and 5M elements; counting skips those size checks
(``mix_order_reduction_non_strict_mode``), so that small test models fuse as large ones do.
Without a GPU, Triton's target is an H100 too, so that user Triton kernels (mae_mm's attention
kernel, counted with the library calls; ``short_attention_anywhere`` sends layers to it on the
CPU) are called on their inputs as on a GPU.
"""
import contextlib
import copy
import dataclasses
from types import SimpleNamespace
from typing import Callable, Iterator, Sequence
from unittest import mock

import torch
import torch._inductor.compile_fx as compile_fx
from torch._dynamo.device_interface import CudaInterface
from torch._inductor import config as inductor_config
from torch._inductor import scheduler
from torch._inductor.exc import InductorError
from torch._inductor.output_code import OutputCode
from torch.utils._pytree import tree_map

from mae_mm.models.layers import attention, short_attention

if short_attention.triton is not None:
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver as triton_driver

CUDA = torch.device('cuda', 0)
# what Inductor's scheduling asks of an H100 SXM (torch.cuda.get_device_properties there)
H100 = SimpleNamespace(name='NVIDIA H100 80GB HBM3', major=9, minor=0, multi_processor_count=132,
                       regs_per_multiprocessor=65536, max_threads_per_multi_processor=2048,
                       max_threads_per_block=1024, warp_size=32, total_memory=80 * 2**30,
                       L2_cache_size=50 * 2**20, shared_memory_per_block_optin=227 * 2**10)


@dataclasses.dataclass
class Traffic:
    """What the graphs compiled in :func:`inductor_traffic` do on a GPU, summed over them.

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


class _Counted(Exception):
    """Ends a lowering for an H100 once its kernels are counted."""


def _counting(traffic: Traffic, then: Callable[[scheduler.Scheduler], None]
              ) -> Callable[[scheduler.Scheduler], None]:
    """A ``Scheduler.codegen`` that adds the scheduled kernels to ``traffic``, then ``then``."""
    def codegen(self: scheduler.Scheduler) -> None:
        traffic.graphs += 1
        for node in self.nodes:
            if isinstance(node, scheduler.NopKernelSchedulerNode):
                continue
            if isinstance(node, scheduler.ExternKernelSchedulerNode):
                traffic.library_bytes += node.get_read_write_buffers_sizes()
            else:
                traffic.kernels += 1
                traffic.kernel_bytes += node.get_read_write_buffers_sizes()
        then(self)
    return codegen


def _stop(self: scheduler.Scheduler) -> None:
    raise _Counted


@contextlib.contextmanager
def _as_h100() -> Iterator[None]:
    """Inductor sees one CUDA device with an H100's properties, and Triton for it."""
    with contextlib.ExitStack() as stack:
        for name, value in dict(get_device_properties=lambda *a, **k: H100,
                                get_compute_capability=lambda *a, **k: 90,
                                current_device=lambda: 0, device_count=lambda: 1,
                                is_bf16_supported=lambda *a, **k: True).items():
            stack.enter_context(mock.patch.object(CudaInterface, name, staticmethod(value)))
        stack.enter_context(mock.patch.object(scheduler, 'has_triton', lambda: True))
        yield


@contextlib.contextmanager
def _triton_for_h100() -> Iterator[None]:
    """Without a GPU, Triton's target is an H100 (sm_90). Inductor reads which tensors a user
    Triton kernel (mae_mm's short attention) writes from the kernel's compiled IR; with no
    target it takes every tensor argument as written, and copies each before the call."""
    if short_attention.triton is None or torch.cuda.is_available():
        yield
        return
    h100 = SimpleNamespace(get_current_target=lambda: GPUTarget('cuda', 90, 32))
    with mock.patch.object(triton_driver, '_active', h100):
        yield


@contextlib.contextmanager
def short_attention_anywhere() -> Iterator[None]:
    """mae_mm's attention layers take the short-sequence kernel wherever it fits, the CPU too,
    as they would on a GPU (the encoder's 50 tokens). The CPU cannot run the kernel: count
    such a step with ``inductor_traffic(run=False)``. Without Triton nothing changes."""
    if short_attention.triton is None:
        yield
        return

    def fits(qkv: torch.Tensor, head_dims: int, max_tokens=None, dtype=None) -> bool:
        dtype = qkv.dtype if dtype is None else dtype
        return short_attention.short_attention_fits(qkv.shape[1], head_dims, dtype, max_tokens)

    with mock.patch.object(attention, 'short_attention_supported', fits):
        yield


def _on_cuda(gm: torch.fx.GraphModule, inputs: Sequence) -> list:
    """Move ``gm``'s recorded tensors and device arguments to CUDA, in place; ``inputs`` on CUDA.

    The tensors are fake ones of the graph's own fake mode, with the same sizes and strides.
    """
    fake_mode = torch._guards.detect_fake_mode(inputs)

    def on_cuda(value):
        if not isinstance(value, torch.Tensor):
            return value
        with fake_mode:
            return torch.empty_strided(value.shape, value.stride(), dtype=value.dtype,
                                       device=CUDA)

    for node in gm.graph.nodes:
        if 'val' in node.meta:
            node.meta['val'] = tree_map(on_cuda, node.meta['val'])
        if node.kwargs.get('device') is not None:
            node.kwargs = {**node.kwargs, 'device': CUDA}
    gm.recompile()
    return [on_cuda(x) for x in inputs]


@dataclasses.dataclass
class _Unrun(OutputCode):
    """A graph counted and not compiled for the CPU: it returns uninitialised tensors of the
    sizes, strides and dtypes its outputs have (``outputs``: the graph's recorded values)."""
    outputs: Sequence = ()

    def __post_init__(self) -> None:
        self._boxed_call = True

    def __call__(self, inputs: list) -> list:
        inputs.clear()  # the boxed convention: the callee frees its inputs
        return [torch.empty_strided(v.shape, v.stride(), dtype=v.dtype)
                if isinstance(v, torch.Tensor) else v for v in self.outputs]

    def post_compile(self, *args, **kwargs) -> None:
        pass

    def set_triton_bundle(self, triton_bundle) -> None:
        pass


def _unrun(gm: torch.fx.GraphModule) -> _Unrun:
    """Stands for ``gm`` without compiling or running it."""
    (outputs,) = gm.graph.find_nodes(op='output')[0].args
    return _Unrun(outputs=[n.meta['val'] if isinstance(n, torch.fx.Node) else n
                           for n in outputs])


@contextlib.contextmanager
def inductor_traffic(run: bool = True) -> Iterator[Traffic]:
    """Count the kernels Inductor generates, or would for an H100, for every graph compiled
    inside the block.

    Dynamo's cache is emptied and Inductor's caches are off inside, so each graph is compiled
    afresh for the shapes it meets (a graph loaded from a cache would go uncounted).

    Args:
        run (bool): Compile the CPU's graphs for the CPU too and run them. False skips that
            (the slow part at large batches, bf16 most of all): the graphs then return
            uninitialised tensors, so the block's results are meaningless, but their shapes
            and the kernels counted are the same. Defaults to True.

    Yields:
        Traffic: Filled in as graphs are compiled.
    """
    traffic = Traffic()
    compile_graph = compile_fx._compile_fx_inner
    codegen = scheduler.Scheduler.codegen

    def compile_and_count(gm: torch.fx.GraphModule, inputs: Sequence, **kwargs):
        if any(isinstance(x, torch.Tensor) and x.is_cuda for x in inputs):
            with mock.patch.object(scheduler.Scheduler, 'codegen', _counting(traffic, codegen)):
                return compile_graph(gm, inputs, **kwargs)
        replay = copy.deepcopy(gm)
        with _as_h100(), \
                mock.patch.object(compile_fx, '_compile_fx_inner', compile_graph), \
                mock.patch.object(scheduler.Scheduler, 'codegen', _counting(traffic, _stop)), \
                inductor_config.patch({'triton.mix_order_reduction_non_strict_mode': True}):
            try:
                compile_fx.compile_fx_inner(replay, _on_cuda(replay, inputs), **kwargs)
            except InductorError as error:  # Inductor wraps what code generation raises
                if not isinstance(error.inner_exception, _Counted):
                    raise
        return compile_graph(gm, inputs, **kwargs) if run else _unrun(gm)

    torch._dynamo.reset()
    with inductor_config.patch(fx_graph_cache=False), \
            torch._functorch.config.patch(enable_autograd_cache=False), \
            mock.patch.object(compile_fx, '_compile_fx_inner', compile_and_count), \
            _triton_for_h100():
        yield traffic
    torch._dynamo.reset()
