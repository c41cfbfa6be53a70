"""Speed cost of ``model.compile``'s memory options on a GPU, projected on any machine.

    python tools/analysis_tools/kernel_traffic.py configs/mae_vit-b_pretrain.py --batch 512 \
        --step-ms 86.3 --options fold_norm recompute_gelu fuse_bias_grad

A compiled step's generated kernels (everything but the matrix multiplies and attention) are
bound by memory bandwidth on a GPU, so what an option adds to the bytes they move, as Inductor
would schedule them for an H100 (``mae_mm.benchmark.traffic``), over ``--bandwidth`` is the time
it adds. The graphs are scheduled at the batch asked for, as which reductions Inductor splits
and fuses depends on their sizes, and not run. Counting a full-depth ViT-B/L/H step takes
minutes an option; this counts MAEs of the config's widths with one and two encoder blocks and
one and two decoder blocks and extrapolates: the bytes grow linearly in the depth.

The encoder attends with mae_mm's short kernel (``short_attention.py``) wherever it fits, as
on a GPU, the CPU included (``short_attention_anywhere``). ``--step-ms``, a measured step time
of the configured model, adds the projected img/s.
"""
import argparse
import copy
import json
from typing import Dict, Tuple

import torch
from mmengine.config import DictAction
from mmengine.registry import MODELS

from mae_mm.benchmark.models import batch_samples, load_config, with_compile_options
from mae_mm.benchmark.traffic import inductor_traffic, short_attention_anywhere
from mae_mm.models.backbones.vit import parse_arch

DEPTHS = ((1, 1), (2, 1), (1, 2))  # (encoder, decoder) blocks of the models counted
GB = 1e9


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=512, help='batch to project for')
    parser.add_argument('--options', nargs='+', default=[],
                        help="model.compile options, each counted on its own; '+' joins "
                             "several, e.g. fold_norm+recompute_gelu")
    parser.add_argument('--bandwidth', type=float, default=2600,
                        help='GB/s of the generated kernels (default: an H100 running the GELU '
                             'kernels of a ViT-B step, docs/benchmarks.md)')
    parser.add_argument('--step-ms', type=float, help="the configured model's measured step")
    parser.add_argument('--json', help='write every count and the projections here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. model.backbone.arch=l')
    return parser.parse_args()


def at_depth(model_cfg: dict, encoder: int, decoder: int) -> dict:
    """``model_cfg`` with ``encoder`` and ``decoder`` blocks, of its own widths."""
    cfg = copy.deepcopy(model_cfg)
    embed_dims, _, num_heads, patch_size = parse_arch(cfg['backbone'].get('arch', 'b'))
    cfg['backbone']['arch'] = dict(embed_dims=embed_dims, num_layers=encoder,
                                   num_heads=num_heads, patch_size=patch_size)
    cfg['neck']['decoder_depth'] = decoder
    return cfg


def kernel_bytes(model_cfg: dict, batch: int) -> int:
    """Bytes the generated kernels of one bf16 training step of ``model_cfg`` move."""
    model = MODELS.build(model_cfg).train()
    img_size = model.backbone.patch_embed.img_size[0]
    inputs = torch.randn(batch, 3, img_size, img_size)
    samples = batch_samples(model, batch, 'cpu', with_masks=True)
    with short_attention_anywhere(), inductor_traffic(run=False) as traffic, \
            torch.autocast('cpu', torch.bfloat16):
        model.loss(inputs, samples)['loss'].backward()
    return traffic.kernel_bytes


def project(counts: Dict[Tuple[int, int], int], num_layers: int, decoder_depth: int) -> float:
    """Bytes at full depth from ``counts[encoder, decoder]`` of the models in ``DEPTHS``."""
    one = counts[1, 1]
    return (one + (num_layers - 1) * (counts[2, 1] - one)
            + (decoder_depth - 1) * (counts[1, 2] - one))


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('data_preprocessor', None)
    if not model_cfg.get('compile'):
        raise ValueError(f'kernel_traffic.py counts a compiled step; the config has '
                         f'model.compile={model_cfg.get("compile")!r}; add --cfg-options '
                         f'model.compile=True')
    # every option's config first, so that a bad one stops the run before any counting
    configs = {'as configured': model_cfg}
    configs.update((option, with_compile_options(model_cfg, option)) for option in args.options)
    _, num_layers, _, _ = parse_arch(model_cfg['backbone'].get('arch', 'b'))
    decoder_depth = model_cfg['neck']['decoder_depth']

    counts, projected = {}, {}
    for name, option_cfg in configs.items():
        counts[name] = {(e, d): kernel_bytes(at_depth(option_cfg, e, d), args.batch)
                        for e, d in DEPTHS}
        projected[name] = project(counts[name], num_layers, decoder_depth) / GB
        print(f'{name}: {projected[name]:.2f} GB', flush=True)

    base = projected['as configured']
    print(f'\n{args.config}: {num_layers} + {decoder_depth} blocks, batch {args.batch}, bf16, '
          f'kernels as scheduled for an H100, time at {args.bandwidth:.0f} GB/s')
    step = f'{"% of step":>11}{"img/s":>9}' if args.step_ms else ''
    print(f'{"option":<44}{"kernels GB":>12}{"more GB":>9}{"more ms":>9}{step}')
    for name, gb in projected.items():
        more_ms = 1e3 * (gb - base) / args.bandwidth
        line = f'{name:<44}{gb:>12.2f}{gb - base:>+9.2f}{more_ms:>+9.2f}'
        if args.step_ms:
            line += (f'{100 * more_ms / args.step_ms:>+10.2f}%'
                     f'{1e3 * args.batch / (args.step_ms + more_ms):>9.0f}')
        print(line)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, batch=args.batch, bandwidth_gb_s=args.bandwidth,
                           projected_gb=projected,
                           counts={name: [dict(encoder=e, decoder=d, kernel_bytes=n)
                                          for (e, d), n in c.items()]
                                   for name, c in counts.items()}), f, indent=2)


if __name__ == '__main__':
    main()
