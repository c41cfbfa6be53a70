"""Registers, register spills and shared memory of mae_mm's attention kernels as compiled for a
CUDA GPU, found on any machine.

Triton compiles ahead of time for a named target (``GPUTarget``) with the ptxas it ships, so
neither a GPU nor a driver is needed: this catches a kernel that does not compile for a GPU
(Triton's interpreter, which the CPU tests run, accepts more), and one that spills registers to
local memory, which costs a memory-bound kernel its speed. The figures are read from the
compiled binary with the cuobjdump Triton ships.
"""
import dataclasses
import re
import subprocess
import tempfile
from typing import List, Optional, Sequence

import torch

try:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
except ImportError:  # no Triton: compile_short_attention says so
    triton = None

from mae_mm.models.layers import short_attention

# every kernel in short_attention.py; the first two serve sequences of one tile (the encoder's)
KERNELS = ('_fwd_kernel', '_bwd_kernel', '_fwd_tiled_kernel', '_bwd_kv_kernel', '_bwd_q_kernel')
_FP32_POINTERS = ('lse', 'bias_sums')
_INTEGERS = ('tokens', 'heads')
_TRITON_DTYPES = {torch.bfloat16: 'bf16', torch.float16: 'fp16'}


@dataclasses.dataclass
class KernelResources:
    """What one compiled kernel takes of a GPU's streaming multiprocessor.

    Attributes:
        name (str): The kernel's function name in short_attention.py.
        has_bias (bool): Compiled to add the qkv bias (and, backward, sum its gradient).
        registers (int): Registers per thread.
        stack_bytes (int): Stack frame per thread, which in these kernels holds only spilled
            registers: 0 when nothing spills.
        shared_bytes (int): Shared memory per program.
    """
    name: str
    has_bias: bool
    registers: int
    stack_bytes: int
    shared_bytes: int


def _signature(kernel, dtype: torch.dtype) -> dict:
    """Triton's type of each of ``kernel``'s arguments: qkv's dtype for its tensors, fp32 for
    the log-sum-exp and the bias sums, 32-bit integers for the counts; constants as such."""
    types = {}
    for param in kernel.params:
        if param.is_constexpr:
            types[param.name] = 'constexpr'
        elif param.name in _INTEGERS:
            types[param.name] = 'i32'
        else:
            types[param.name] = '*fp32' if param.name in _FP32_POINTERS else (
                '*' + _TRITON_DTYPES[dtype])
    return types


def _resources(cubin: bytes) -> tuple:
    """(registers, stack bytes) of the one kernel in ``cubin``."""
    with tempfile.NamedTemporaryFile(suffix='.cubin') as file:
        file.write(cubin)
        file.flush()
        usage = subprocess.run([triton.knobs.nvidia.cuobjdump.path, '--dump-resource-usage',
                                file.name], capture_output=True, text=True, check=True).stdout
    found = re.search(r'REG:(\d+) STACK:(\d+)', usage)
    return int(found[1]), int(found[2])


def compile_short_attention(head_dims: int, dtype: torch.dtype = torch.bfloat16, arch: int = 90,
                            kernels: Optional[Sequence[str]] = None,
                            biases: Sequence[bool] = (False, True),
                            num_warps: Optional[int] = None) -> List[KernelResources]:
    """Compile short_attention.py's kernels for a CUDA GPU of compute capability ``arch`` and
    return what each takes, as ``short_attention`` launches them.

    Args:
        head_dims (int): Width of a head (64 for ViT-B/L).
        dtype (torch.dtype): The qkv projection's dtype, bf16 or fp16. Defaults to bf16.
        arch (int): Compute capability, major * 10 + minor: 90 for an H100, 80 for an A100.
            Defaults to 90.
        kernels (Sequence[str], optional): Names from :data:`KERNELS`. Defaults to all.
        biases (Sequence[bool]): Compile without and/or with the qkv bias. Defaults to both.
        num_warps (int, optional): Warps per program. Defaults to the ``NUM_WARPS`` the kernels
            are launched with.

    Returns:
        list[KernelResources]: One per kernel and bias setting, in that order.
    """
    if triton is None:
        raise RuntimeError('compiling the attention kernels needs Triton; install it (it comes '
                           'with torch on Linux) or run this on a machine that has it')
    if dtype not in _TRITON_DTYPES:
        raise ValueError(f'the attention kernels take bf16 or fp16 qkv, got {dtype}')
    if not short_attention.short_attention_fits(1, head_dims, dtype):
        raise ValueError(f'the attention kernels take heads whose width is a power of two from '
                         f'16 to 128, got head_dims={head_dims}; models send other widths '
                         f'(e.g. ViT-H\'s 80) to SDPA')
    target = GPUTarget('cuda', arch, 32)
    found = []
    for name in KERNELS if kernels is None else kernels:
        kernel = getattr(short_attention, name)
        for has_bias in biases:
            constants = dict(short_attention.kernel_constants(head_dims, has_bias),
                             block=short_attention.TILE)
            if 'block_n' in kernel.arg_names:  # a tiled kernel, built for the longest sequence
                constants['block_n'] = short_attention.KERNEL_TOKENS
            source = ASTSource(fn=kernel, signature=_signature(kernel, dtype),
                               constexprs=constants)
            options = dict(num_warps=num_warps or short_attention.NUM_WARPS)
            compiled = triton.compile(source, target=target, options=options)
            registers, stack_bytes = _resources(compiled.asm['cubin'])
            found.append(KernelResources(name, has_bias, registers, stack_bytes,
                                         compiled.metadata.shared))
    return found
