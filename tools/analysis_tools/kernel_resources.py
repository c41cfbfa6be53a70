"""Registers, spills and shared memory of mae_mm's attention kernels on a GPU, found on any machine.

    python tools/analysis_tools/kernel_resources.py --head-dims 64 --arch 90

Compiles every kernel of ``mae_mm/models/layers/short_attention.py`` with the installed Triton
for the CUDA compute capability ``--arch`` (90: H100, 80: A100, 100: B200), without and with the
qkv bias, and prints what each takes (``mae_mm.benchmark.kernel_resources``). A kernel that does
not compile fails here as it would at its first launch on that GPU. The encoder's sequences
(up to 64 tokens) use ``_fwd_kernel`` and ``_bwd_kernel``; the others take longer ones.
"""
import argparse
import dataclasses
import json

import torch
import triton

from mae_mm.benchmark.kernel_resources import compile_short_attention
from mae_mm.models.layers.short_attention import NUM_WARPS

DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--head-dims', type=int, default=64,
                        help='width of a head: 64 for ViT-B/L (a power of two, 16 to 128)')
    parser.add_argument('--dtype', choices=DTYPES, default='bf16')
    parser.add_argument('--arch', type=int, default=90,
                        help='compute capability, major * 10 + minor (default: 90, an H100)')
    parser.add_argument('--warps', type=int,
                        help='warps per program (default: the NUM_WARPS the kernels launch with)')
    parser.add_argument('--json', help='write the figures here')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    found = compile_short_attention(args.head_dims, DTYPES[args.dtype], args.arch,
                                    num_warps=args.warps)
    warps = args.warps or NUM_WARPS
    print(f'Triton {triton.__version__}, sm_{args.arch}, {args.dtype}, heads of {args.head_dims}, '
          f'{warps} warps')
    print(f'{"kernel":<18} {"bias":<5} {"registers":>9} {"spilled B":>9} {"shared KiB":>10}')
    for kernel in found:
        print(f'{kernel.name:<18} {str(kernel.has_bias):<5} {kernel.registers:>9} '
              f'{kernel.stack_bytes:>9} {kernel.shared_bytes / 1024:>10.1f}')
    if args.json:
        with open(args.json, 'w') as file:
            json.dump(dict(vars(args), triton=triton.__version__,
                           kernels=[dataclasses.asdict(k) for k in found]), file, indent=1)


if __name__ == '__main__':
    main()
