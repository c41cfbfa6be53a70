"""Forward + backward time of attention at MAE's shapes: each SDPA kernel, SDPA under
torch.compile, and mae_mm's short-sequence Triton kernel (CUDA), also at the decoder's 197
tokens, which models do not yet send it.

    python tools/analysis_tools/attention_benchmark.py [--batch-scale 1.0] [--reps 30] \
        [--warps 2 8]

Inputs are taken as the qkv projection writes them, (B, N, 3 * heads * head_dims), and the
output is returned as ``proj`` reads it, so each row includes the layout copies a model pays.
Also prints each path's largest error against fp32 SDPA. ``--warps`` also times the Triton
kernel (eager) launched with each of those warp counts per program instead of ``NUM_WARPS``.
"""
import argparse
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import mae_mm.models.layers.short_attention as kernel_module
from mae_mm.models.layers.short_attention import (KERNEL_TOKENS, short_attention,
                                                  short_attention_supported)

# (name, batch, heads, tokens, head_dims): the per-GPU batches of the pretraining configs
SHAPES = [('ViT-B encoder', 512, 12, 50, 64), ('ViT-B decoder', 512, 16, 197, 32),
          ('ViT-L encoder', 256, 16, 50, 64), ('ViT-L encoder with [M]', 256, 16, 197, 64),
          ('ViT-L decoder', 256, 16, 197, 32)]
BACKENDS = {'cudnn': SDPBackend.CUDNN_ATTENTION, 'flash': SDPBackend.FLASH_ATTENTION,
            'mem-efficient': SDPBackend.EFFICIENT_ATTENTION, 'math': SDPBackend.MATH}


def sdpa(qkv: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, 3 * heads * d) -> (B, N, heads * d) through F.scaled_dot_product_attention."""
    b, n, width = qkv.shape
    q, k, v = qkv.reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, width // 3)


def time_ms(fn: Callable, qkv: torch.Tensor, grad: torch.Tensor, reps: int) -> float:
    """Milliseconds per forward + backward, after three untimed ones."""
    for _ in range(3):
        fn(qkv).backward(grad)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        fn(qkv).backward(grad)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps * 1e3


@contextmanager
def launched_with(warps: Optional[int]) -> Iterator[None]:
    """The Triton kernel's launches inside use ``warps`` warps per program (None: its own)."""
    default = kernel_module.NUM_WARPS
    kernel_module.NUM_WARPS = warps or default
    try:
        yield
    finally:
        kernel_module.NUM_WARPS = default


def paths(heads: int, head_dims: int, qkv: torch.Tensor) -> Dict[str, Callable]:
    """Every way to attend over ``qkv`` that this device has."""
    def backend(kernel):
        def run(x):
            with sdpa_kernel(kernel):
                return sdpa(x, heads)
        return run

    found = {name: backend(kernel) for name, kernel in BACKENDS.items()}
    # static shapes, as the model's fixed mask count gives
    found['SDPA, compiled'] = torch.compile(lambda x: sdpa(x, heads), dynamic=False)
    if short_attention_supported(qkv, head_dims, max_tokens=KERNEL_TOKENS):
        found['mae_mm short kernel'] = lambda x: short_attention(x, heads, head_dims)
        found['mae_mm short kernel, compiled'] = torch.compile(
            lambda x: short_attention(x, heads, head_dims), dynamic=False)
        # fuse_bias_grad: the kernel adds qkv's (here zero) bias and sums its gradient
        bias = torch.zeros(qkv.shape[-1], device=qkv.device, requires_grad=True)
        found['  + bias and its grad, compiled'] = torch.compile(
            lambda x: short_attention(x, heads, head_dims, bias), dynamic=False)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-scale', type=float, default=1.0, help='scale every batch')
    parser.add_argument('--reps', type=int, default=30, help='timed repetitions')
    parser.add_argument('--warps', type=int, nargs='*', default=[],
                        help='also time the Triton kernel (eager) with these warps per program')
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit('attention_benchmark.py times CUDA kernels; no CUDA device found')
    print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, bf16')
    torch.manual_seed(0)
    for name, batch, heads, tokens, head_dims in SHAPES:
        batch = max(1, round(batch * args.batch_scale))
        torch._dynamo.reset()  # each shape compiles afresh, not as a dynamic-shape recompile
        qkv = torch.randn(batch, tokens, 3 * heads * head_dims, device='cuda',
                          dtype=torch.bfloat16, requires_grad=True)
        grad = torch.randn(batch, tokens, heads * head_dims, device='cuda', dtype=torch.bfloat16)
        exact = sdpa(qkv.detach().float(), heads)
        print(f'\n{name} (B={batch}, heads={heads}, N={tokens}, d={head_dims})')
        print(f'{"path":32s} {"ms fwd+bwd":>10s} {"max |err| vs fp32":>18s}')
        runs = [(label, fn, None) for label, fn in paths(heads, head_dims, qkv).items()]
        if short_attention_supported(qkv, head_dims, max_tokens=KERNEL_TOKENS):
            runs += [(f'mae_mm short kernel, {w} warps', lambda x: short_attention(
                x, heads, head_dims), w) for w in args.warps]
        for label, fn, warps in runs:
            try:
                with launched_with(warps):
                    error = (fn(qkv).float() - exact).abs().max().item()
                    ms = time_ms(fn, qkv, grad, args.reps)
                print(f'{label:32s} {ms:10.3f} {error:18.2e}')
            except RuntimeError as e:  # a kernel that does not take this shape
                print(f'{label:32s} {"n/a":>10s} {str(e).splitlines()[0][:60]}')


if __name__ == '__main__':
    main()
