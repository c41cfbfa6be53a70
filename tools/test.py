"""Evaluate a checkpoint with a mae_mm config; prints the host's metrics (top-1, AP, mIoU)."""
import argparse

from mae_mm.checkpoint import mmengine_checkpoint_globals
from mae_mm.engine.cli import add_common_args, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint with a mae_mm config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    runner = build_runner(cfg)
    # MMEngine's checkpoints are read weights-only, allowing just their data types; strictly,
    # so that a checkpoint of another model fails here instead of testing random weights
    with mmengine_checkpoint_globals():
        try:
            runner.load_checkpoint(args.checkpoint, strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f'{args.checkpoint} does not hold this config\'s whole model. tools/test.py '
                f'takes a checkpoint that tools/train.py wrote with this config; a pretraining '
                f'or backbone checkpoint goes to training instead: --cfg-options '
                f'model.backbone.init_cfg.checkpoint=PATH. {err}') from None
        runner.test()


if __name__ == '__main__':
    main()
