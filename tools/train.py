"""Train any mae_mm config (pretraining, classification, detection, segmentation)."""
import argparse

from mmengine.config import Config

from mae_mm.checkpoint import mmengine_checkpoint_globals
from mae_mm.engine.cli import (add_common_args, build_runner, enable_amp, enable_auto_scale_lr,
                               load_config)
from mae_mm.engine.distributed import close_distributed
from mae_mm.engine.preflight import check_data_roots


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with a mae_mm config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or without a path from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 mixed precision (GPUs only): OptimWrapper and '
                        'mae_mm.SkipNonFiniteOptimWrapper become their AMP versions')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the real total batch (GPUs x per-GPU batch x '
                        'accumulated steps) / auto_scale_lr.base_batch_size')
    add_common_args(parser)
    return parser.parse_args()


def apply_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """--amp, --auto-scale-lr and --resume."""
    if args.amp:
        enable_amp(cfg)  # bf16 by default, without a loss scaler
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main() -> None:
    args = parse_args()
    cfg = apply_train_args(load_config(args), args)
    check_data_roots(cfg)
    runner = build_runner(cfg)
    # resuming reads MMEngine's own checkpoints weights-only, allowing just their data types
    with mmengine_checkpoint_globals():
        runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
