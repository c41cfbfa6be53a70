"""mae_mm's attention kernels compile for the GPUs they are meant for, checked without one:
Triton compiles them ahead of time for an H100 (sm_90) and an A100 (sm_80) with the ptxas it
ships. Triton's interpreter, which checks their numbers on the CPU, accepts code that does not
compile; and a kernel that spills registers loses the speed it exists for."""
import pytest
import torch

from mae_mm.benchmark.kernel_resources import KERNELS, compile_short_attention
from mae_mm.models.layers import short_attention

pytestmark = pytest.mark.skipif(short_attention.triton is None, reason='Triton is not installed')

SHARED_PER_PROGRAM = {80: 163 * 1024, 90: 227 * 1024}  # the most a program may ask for
ENCODER_KERNELS = KERNELS[:2]  # sequences of one tile


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_encoder_kernels_do_not_spill_on_h100(dtype):
    """ViT-B/L's encoder heads (up to 64 tokens of 64 dims), without and with the qkv bias:
    every value stays in registers."""
    found = compile_short_attention(64, dtype, 90, ENCODER_KERNELS)
    assert [(k.name, k.has_bias) for k in found] == [
        (name, bias) for name in ENCODER_KERNELS for bias in (False, True)]
    for kernel in found:
        assert kernel.stack_bytes == 0, kernel
        assert 0 < kernel.registers <= 255 and kernel.shared_bytes <= SHARED_PER_PROGRAM[90]


@pytest.mark.parametrize('arch, head_dims, kernels', [
    (90, 16, None), (90, 128, None), (80, 64, ENCODER_KERNELS)])
def test_kernels_compile_within_shared_memory(arch, head_dims, kernels):
    """The narrowest and widest heads the kernel takes, every kernel, on an H100; ViT-B/L's on
    an A100. Each asks for no more shared memory than the GPU gives a program."""
    found = compile_short_attention(head_dims, torch.bfloat16, arch, kernels, biases=(True,))
    assert len(found) == len(KERNELS if kernels is None else kernels)
    for kernel in found:
        assert 0 < kernel.shared_bytes <= SHARED_PER_PROGRAM[arch], kernel


def test_unsupported_inputs_are_refused_by_name():
    with pytest.raises(ValueError, match='head_dims=80'):
        compile_short_attention(80)
    with pytest.raises(ValueError, match='torch.float32'):
        compile_short_attention(64, torch.float32)
