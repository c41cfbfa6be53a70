"""Activation memory of a pretraining step, mae_mm against mmpretrain, estimated on any device.

    python tools/analysis_tools/saved_activations.py configs/mae_vit-b_pretrain.py --batch 512
    python tools/analysis_tools/saved_activations.py configs/mae_vit-b_pretrain.py --no-peer \
        --options fold_norm recompute_gelu fold_norm+recompute_gelu

Each model runs a step at two small batches under autocast (bf16 by default; mae_mm compiled
as its config says) while every tensor autograd saves for backward is recorded
(``mae_mm.benchmark.saved``); the bytes, linear in the batch, are extrapolated to ``--batch``.
Adding the training state (fp32 parameters, gradients and AdamW's two moments: 16 bytes a
parameter) estimates the peak without a GPU. On the CPU, ViT-B at batch 512 gives 19.9 GiB of
saved activations for mae_mm, 21.5 GiB with the state, where an H100 measured a 21.8 GiB peak
(the same SDPA attention; docs/benchmarks.md): what torch.compile keeps is decided before code
generation, alike on both devices. Transient buffers are not counted.

``--options`` repeats mae_mm with each memory option of ``model.compile`` on ('+' joins
several) and prints what each saves; ``kernel_traffic.py`` projects what each costs in time.
"""
import argparse
import copy
import json
from typing import Callable, Dict, List, Tuple

import torch
from mmengine.config import DictAction
from mmengine.registry import MODELS, init_default_scope

from mae_mm.benchmark.models import (batch_samples, build_mmpretrain_mae, load_config, size_of,
                                     with_compile_options)
from mae_mm.benchmark.saved import Saved, at_batch, saved_activations

GIB = 2**30
STATE_BYTES = 16  # per parameter: fp32 weight, gradient, AdamW exp_avg and exp_avg_sq


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=512, help='batch to estimate for')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', choices=['bf16', 'fp32'], default='bf16')
    parser.add_argument('--small', type=int, default=2,
                        help='the two measured batches are this and twice this')
    parser.add_argument('--top', type=int, default=8, help='largest groups listed per model')
    parser.add_argument('--no-peer', action='store_true', help='skip mmpretrain')
    parser.add_argument('--options', nargs='+', default=[],
                        help="model.compile memory options to compare, each run on its own; "
                             "'+' joins several, e.g. fold_norm+recompute_gelu")
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. model.compile=False')
    return parser.parse_args()


def loss_fn(name: str, model: torch.nn.Module, batch: int, size: dict, device: torch.device
            ) -> Tuple[torch.Tensor, Callable[[], torch.Tensor]]:
    """A synthetic batch and the loss of ``model`` on it, as its training step computes it."""
    inputs = torch.randn(batch, 3, size['img_size'], size['img_size'], device=device)
    samples = batch_samples(model, batch, device, with_masks=name == 'mae_mm')
    return inputs, lambda: model.loss(inputs, samples)['loss']


def measure(name: str, model: torch.nn.Module, size: dict, args: argparse.Namespace,
            device: torch.device) -> dict:
    """Saved bytes at the two small batches, extrapolated to ``args.batch``; the largest
    groups that grow with the batch, scaled to it (those of the same shape at both batches,
    such as bf16 copies of the weights, do not grow)."""
    dtype = torch.bfloat16 if args.precision == 'bf16' else torch.float32
    runs: List[List[Saved]] = []
    for batch in (args.small, 2 * args.small):
        inputs, forward = loss_fn(name, model, batch, size, device)
        with torch.autocast(device.type, dtype, enabled=args.precision != 'fp32'):
            runs.append(saved_activations(forward, [*model.parameters(), inputs]))
        model.zero_grad(set_to_none=True)
    points = [(b, sum(g.nbytes for g in run)) for b, run in zip((args.small, 2 * args.small), runs)]
    activations = at_batch(points[0], points[1], args.batch)
    fixed = {(g.shape, g.dtype) for g in runs[0]}
    growing = [g for g in runs[1] if (g.shape, g.dtype) not in fixed]
    state = STATE_BYTES * sum(p.numel() for p in model.parameters())
    return dict(measured=points, activations_gib=activations / GIB, state_gib=state / GIB,
                estimate_gib=(activations + state) / GIB,
                largest=[dict(shape=g.shape, dtype=str(g.dtype), count=g.count,
                              gib=g.nbytes * args.batch / (2 * args.small) / GIB)
                         for g in growing[:args.top]])


def print_options(base: dict, options: Dict[str, dict], args: argparse.Namespace) -> None:
    """Each option's saved bytes against the configured model's."""
    print(f'\nmemory options against the configured step at batch {args.batch}')
    print(f'{"option":<32}{"saved GiB":>10}{"less GiB":>10}')
    print(f'{"as configured":<32}{base["activations_gib"]:>10.2f}')
    for option, r in options.items():
        print(f'{option:<32}{r["activations_gib"]:>10.2f}'
              f'{base["activations_gib"] - r["activations_gib"]:>10.2f}')


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    device = torch.device(args.device)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('data_preprocessor', None)
    option_cfgs = {option: with_compile_options(model_cfg, option) for option in args.options}
    models: Dict[str, torch.nn.Module] = {'mae_mm': MODELS.build(model_cfg).to(device).train()}
    size = size_of(cfg.model, models['mae_mm'])
    if not args.no_peer:
        models['mmpretrain'] = build_mmpretrain_mae(size).to(device).train()
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    results = {name: measure(name, model, size, args, device) for name, model in models.items()}
    options = {option: measure('mae_mm', MODELS.build(option_cfg).to(device).train(), size, args,
                               device)
               for option, option_cfg in option_cfgs.items()}
    print(f'{args.config}: batch {args.batch}, {args.precision}, {device.type}, '
          f'compile={models["mae_mm"].compile_cfg}; measured at batches {args.small} and '
          f'{2 * args.small}')
    print(f'{"model":<12}{"activations GiB":>17}{"state GiB":>11}{"estimate GiB":>14}')
    for name, r in results.items():
        print(f'{name:<12}{r["activations_gib"]:>17.2f}{r["state_gib"]:>11.2f}'
              f'{r["estimate_gib"]:>14.2f}')
    if 'mmpretrain' in results:
        ratio = results['mae_mm']['estimate_gib'] / results['mmpretrain']['estimate_gib']
        print(f'estimated memory ratio mae_mm / mmpretrain: {ratio:.3f}x')
    for name, r in results.items():
        print(f'\n{name}: largest groups growing with the batch (shape at batch '
              f'{2 * args.small}; GiB at batch {args.batch}; count)')
        for g in r['largest']:
            print(f'  {str(tuple(g["shape"])):<24}{g["dtype"]:<16}{g["gib"]:>9.4f}{g["count"]:>6}')
    if options:
        print_options(results['mae_mm'], options, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, batch=args.batch, precision=args.precision,
                           device=device.type, results=results,
                           options=options), f, indent=2)


if __name__ == '__main__':
    main()
