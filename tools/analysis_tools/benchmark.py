"""Train-step throughput, memory and utilisation of mae_mm's MAE against mmpretrain's MAE.

    python tools/analysis_tools/benchmark.py configs/mae_vit-b_pretrain.py --batch 8
    python tools/analysis_tools/benchmark.py configs/mae_vit-l_pretrain.py --batch 256 \
        --device cuda --precision bf16 --compile --table2

Both models are built at the size the config gives, fed the same device-resident synthetic
batch and timed in alternating rounds in one process, so machine noise hits both alike. A
round runs steps back to back and synchronises only at its ends, as a training loop does
(an implementation that waits on the device inside its step pays for it here); the figure
is the median over rounds after warm-up. Utilisation (MFU) is the analytic FLOPs of a train
step (3 x forward; encoder on visible tokens, decoder on all) over the measured peak of a
matrix multiply at the same precision. ``--table2`` adds the paper's Table 2: the encoder
with mask tokens vs without, decoder depth 8 vs 1. ``--pipeline`` measures the data
pipeline per worker and the share of the masking transform. Peak memory is each model's own
(its weights, the batch, what its steps allocate), not counting the other model resident
beside it on the GPU; on the CPU each model is measured in a process of its own.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch._dynamo
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import MODELS, init_default_scope

from mae_mm.benchmark.flops import mae_train_flops
from mae_mm.models.layers import short_attention
from mae_mm.benchmark.models import (PredictEveryPatchMAE, build_mmpretrain_mae, load_config,
                                     make_step, optim_wrapper_cfg, size_of, warm_up_libraries)
from mae_mm.benchmark.timing import (matmul_peak_flops, median, own_peak_bytes, synchronize,
                                      time_block, time_steps)

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark an MAE pretraining config')
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=8, help='images per step')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--precision', choices=list(DTYPES), default='fp32')
    parser.add_argument('--steps', type=int, default=5, help='timed back-to-back steps per round')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--rounds', type=int, default=3, help='alternating rounds')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--compile', nargs='?', const='default', default=None, metavar='MODE',
                      help="compile mae_mm's masked forward and loss (model.compile) in this "
                           "torch.compile mode, e.g. max-autotune-no-cudagraphs; without "
                           "--compile or --eager the config's model.compile decides")
    mode.add_argument('--eager', action='store_true', help='mae_mm without torch.compile')
    parser.add_argument('--no-fused-adamw', action='store_true', help='foreach AdamW for mae_mm')
    parser.add_argument('--plain-attn', action='store_true', help='mae_mm without SDPA')
    parser.add_argument('--no-short-attn', action='store_true',
                        help="mae_mm with SDPA instead of its Triton kernel for short sequences")
    parser.add_argument('--short-attn-tokens', type=int, default=None, metavar='N',
                        help="the longest sequence mae_mm's Triton kernel takes (default: "
                             "short_attention.MAX_TOKENS, 64); 256 also gives it the decoder's "
                             "197 tokens")
    parser.add_argument('--with-cp', action='store_true', help='mae_mm with activation checkpointing')
    parser.add_argument('--predict-all', action='store_true',
                        help='mae_mm predicting every patch, not only the masked ones the loss '
                             'reads (the official formulation)')
    parser.add_argument('--no-peer', action='store_true', help='skip mmpretrain')
    parser.add_argument('--table2', action='store_true', help="also the paper's Table 2")
    parser.add_argument('--pipeline', action='store_true', help='also the data pipeline')
    parser.add_argument('--profile', action='store_true',
                        help="print mae_mm's most expensive kernels (torch.profiler)")
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. optim_wrapper.constructor='
                             'DefaultOptimWrapperConstructor (one group per tensor)')
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)  # CPU peak memory of one model
    return parser.parse_args()


def build_ours(cfg: Config, args: argparse.Namespace, backbone: Optional[dict] = None,
               neck: Optional[dict] = None) -> torch.nn.Module:
    """mae_mm's MAE from the config, with the command line's options and overrides."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(backbone or {})
    model_cfg.neck.update(neck or {})
    if args.plain_attn:
        model_cfg.backbone.fused_attn = model_cfg.neck.fused_attn = False
    if args.no_short_attn:
        model_cfg.backbone.short_attn = model_cfg.neck.short_attn = False
    if args.with_cp:
        model_cfg.backbone.with_cp = True
    model_cfg.pop('data_preprocessor', None)
    if args.compile or args.eager:
        configured = model_cfg.compile if isinstance(model_cfg.compile, dict) else {}
        model_cfg.compile = dict(configured, mode=args.compile) if args.compile else False
    if args.predict_all:
        model_cfg.pop('type')
        return PredictEveryPatchMAE(**model_cfg)
    return MODELS.build(model_cfg)


def build_peer(size: dict, cfg: Config, device: torch.device) -> torch.nn.Module:
    peer = build_mmpretrain_mae(size).to(device).train()
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return peer


def run_rounds(steps: Dict[str, Callable], args: argparse.Namespace, device: torch.device,
               own: Dict[str, List[torch.Tensor]]) -> Dict[str, dict]:
    """Warm each step up, then time them in alternating rounds of back-to-back steps:
    the median over rounds of seconds per step. On CUDA, a model's peak memory is taken
    over its warm-up and counts only its own: ``own[name]`` (its parameters and batch) and
    what its steps allocate, not the other models' weights and optimizer states resident
    beside it."""
    results = {name: dict(times=[]) for name in steps}
    for name, step in steps.items():
        if device.type == 'cuda':
            peak = own_peak_bytes(step, device, args.warmup, own[name])
            results[name]['peak_mem_gib'] = peak / 2**30
        else:
            time_steps(step, device, args.warmup)
    for _ in range(args.rounds):
        for name, step in steps.items():
            results[name]['times'].append(time_block(step, device, args.steps))
    for r in results.values():
        r['step_s'] = median(r.pop('times'))
        r['img_s'] = args.batch / r['step_s']
    return results


def train_steps(models: Dict[str, torch.nn.Module], size: dict, cfg: Config,
                args: argparse.Namespace, device: torch.device
                ) -> Tuple[Dict[str, Callable], Dict[str, List[torch.Tensor]]]:
    """A step closure per model on one shared synthetic batch (mae_mm gets pipeline masks),
    each through the optimizer wrapper it trains with (the config's / mmpretrain's recipe);
    and per model the tensors of its own resident before its first step (its parameters and
    the batch)."""
    inputs = torch.randn(args.batch, 3, size['img_size'], size['img_size'], device=device)
    steps, own = {}, {}
    for name, model in models.items():
        ours = name != 'mmpretrain'
        wrapper = optim_wrapper_cfg(cfg.optim_wrapper, args.precision, ours,
                                    not args.no_fused_adamw)
        steps[name] = make_step(model, inputs, wrapper, with_masks=ours)
        own[name] = [*model.parameters(), inputs]
    return steps, own


def cpu_peak_memory(name: str) -> float:
    """Peak resident memory (GiB) of training one model, measured in a fresh process."""
    # the parent's own arguments (model, precision, options); the child measures and exits
    cmd = [sys.executable, __file__, *sys.argv[1:], '--device', 'cpu', '--memory-child', name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc (VmRSS, VmHWM), in KiB. Unlike
    ``ru_maxrss``, VmHWM starts afresh at exec, so a child does not inherit its parent's peak."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def memory_child(cfg: Config, args: argparse.Namespace) -> None:
    """Child process: build one model, run two steps, print its peak RSS increase in GiB."""
    base = _status_kib('VmRSS')
    ours = build_ours(cfg, args)
    size = size_of(cfg.model, ours)
    model = ours if args.memory_child == 'mae_mm' else build_peer(size, cfg, torch.device('cpu'))
    del ours
    steps, _ = train_steps({args.memory_child: model}, size, cfg, args, torch.device('cpu'))
    step = steps[args.memory_child]
    step()
    step()
    print((_status_kib('VmHWM') - base) / 2**20)


def table2(cfg: Config, args: argparse.Namespace, device: torch.device) -> list:
    """The paper's Table 2: train time of mask-token vs visible-only encoders, decoder 8 / 1."""
    rows = []
    size = size_of(cfg.model, build_ours(cfg, args))
    for depth in sorted({size['decoder_depth'], 1}, reverse=True):
        variants = {
            'mask_tokens': build_ours(cfg, args, backbone=dict(mask_tokens_in_encoder=True),
                                      neck=dict(decoder_depth=depth)),
            'visible_only': build_ours(cfg, args, neck=dict(decoder_depth=depth)),
        }
        variants = {k: v.to(device).train() for k, v in variants.items()}
        steps, own = train_steps(variants, size, cfg, args, device)
        res = run_rounds(steps, args, device, own)
        rows.append(dict(decoder_depth=depth, mask_token_step_s=res['mask_tokens']['step_s'],
                         visible_step_s=res['visible_only']['step_s'],
                         speedup=res['mask_tokens']['step_s'] / res['visible_only']['step_s']))
        del variants
    return rows


def print_profile(step: Callable, device: torch.device, rows: int = 25) -> None:
    """The kernels (or CPU ops) that take the most time over three training steps."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with profile(activities=activities) as prof:
        for _ in range(3):
            step()
        synchronize(device)
    key = 'cuda_time_total' if device.type == 'cuda' else 'cpu_time_total'
    print(prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=60))


def main() -> None:
    args = parse_args()
    if args.short_attn_tokens is not None:  # read by every attention layer at its call
        short_attention.MAX_TOKENS = args.short_attn_tokens
    cfg = load_config(args.config, args.cfg_options)
    MMLogger.get_current_instance().setLevel('WARNING')  # no per-parameter optimizer lines
    if args.memory_child:
        memory_child(cfg, args)
        return
    device = torch.device(args.device)
    # the models share MAE.masked_loss's compile cache; a full one must stop the run rather
    # than let Dynamo time the later models eagerly
    torch._dynamo.config.fail_on_recompile_limit_hit = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    models = {'mae_mm': build_ours(cfg, args).to(device).train()}
    size = size_of(cfg.model, models['mae_mm'])
    if size['mask_tokens_in_encoder'] and not args.no_peer:
        raise SystemExit(f'{args.config} puts mask tokens in the encoder, which mmpretrain\'s MAE '
                         f'cannot: add --no-peer, or use --table2 on the MAE config for the '
                         f'ablation')
    if not args.no_peer:
        models['mmpretrain'] = build_peer(size, cfg, device)
    # first, so that CUDA libraries' one-time workspaces count in no model's peak
    warm_up_libraries(device, optim_wrapper_cfg(cfg.optim_wrapper, args.precision, True,
                                                not args.no_fused_adamw))
    peak = matmul_peak_flops(device, DTYPES[args.precision])
    steps, own = train_steps(models, size, cfg, args, device)
    results = run_rounds(steps, args, device, own)
    if device.type == 'cpu':
        for name in results:
            results[name]['peak_mem_gib'] = cpu_peak_memory(name)
    flops = mae_train_flops(size['num_patches'], size['num_masked'], size['patch_size'], 3,
                            size['embed_dims'], size['num_layers'], size['decoder_dims'],
                            size['decoder_depth'], size['mask_tokens_in_encoder'])
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU ({os.cpu_count()} cores)'
    print(f'\n{args.config}: batch {args.batch}, {args.precision}, {name}, '
          f'compile={models["mae_mm"].compile_cfg}; train step {flops / 1e9:.1f} GFLOP/img, '
          f'device matmul peak {peak / 1e12:.2f} TFLOP/s')
    print(f'{"model":<12}{"img/s":>10}{"step s":>10}{"MFU %":>8}{"peak GiB":>10}')
    for model_name, r in results.items():
        r['mfu'] = r['img_s'] * flops / peak
        print(f'{model_name:<12}{r["img_s"]:>10.1f}{r["step_s"]:>10.3f}{100 * r["mfu"]:>8.1f}'
              f'{r.get("peak_mem_gib", float("nan")):>10.2f}')
    if 'mmpretrain' in results:
        ours, peer = results['mae_mm'], results['mmpretrain']
        mem_ratio = ours['peak_mem_gib'] / max(peer['peak_mem_gib'], 1e-9)
        print(f'speed ratio mae_mm / mmpretrain: {ours["img_s"] / peer["img_s"]:.3f}x; '
              f'memory ratio: {mem_ratio:.3f}x')
    out = dict(config=args.config, batch=args.batch, precision=args.precision, device=name,
               compile=models['mae_mm'].compile_cfg, plain_attn=args.plain_attn,
               short_attn=not args.no_short_attn,
               short_attn_tokens=short_attention.MAX_TOKENS, with_cp=args.with_cp,
               predict_all=args.predict_all,
               fused_adamw=not args.no_fused_adamw, peak_memory='own',
               cfg_options=args.cfg_options,
               gflop_per_img=flops / 1e9, peak_tflops=peak / 1e12,
               results=results)
    if args.profile:
        print_profile(steps['mae_mm'], device)
    if args.table2:
        rows = table2(cfg, args, device)
        print("\nTable 2 (paper): training time, encoder with mask tokens vs visible patches only")
        print(f'{"decoder depth":<15}{"w/ [M] s":>10}{"w/o [M] s":>11}{"speedup":>9}')
        for r in rows:
            print(f'{r["decoder_depth"]:<15}{r["mask_token_step_s"]:>10.3f}'
                  f'{r["visible_step_s"]:>11.3f}{r["speedup"]:>8.2f}x')
        out['table2'] = rows
    if args.pipeline:
        from mae_mm.benchmark.pipeline import pipeline_throughput
        out['pipeline'] = pipeline_throughput(cfg)
        p = out['pipeline']
        print(f'\ndata pipeline, one worker: {p["img_s"]:.1f} img/s, with mmpretrain\'s crop '
              f'{p["peer_img_s"]:.1f} img/s ({p["img_s"] / p["peer_img_s"]:.2f}x); masking '
              f'transform {100 * p["mask_share"]:.2f}% of it')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2)


if __name__ == '__main__':
    main()
