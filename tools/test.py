"""Evaluate a checkpoint with a mae_mm config; prints the host's metrics (top-1, AP, mIoU).

The checkpoint is one tools/train.py wrote with the config, or a classifier in another format
mae_mm reads (an official facebookresearch/mae fine-tuned or linear-probe checkpoint, timm,
mmpretrain, HF ViTForImageClassification), converted to mae_mm's layout in memory; either is loaded strictly.
"""
import argparse

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from mae_mm.checkpoint import load_file, mmengine_checkpoint_globals, read_checkpoint, to_mae_mm
from mae_mm.engine.cli import add_common_args, build_runner, load_config
from mae_mm.engine.distributed import close_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint with a mae_mm config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (mae_mm, official, timm, mmpretrain)')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    add_common_args(parser)
    return parser.parse_args()


def load_strictly(runner: Runner, path: str) -> None:
    """Load the checkpoint ``path`` into the runner's model, every key of both matching.

    The file is read once: mae_mm's own checkpoints load as MMEngine loads them; one of another
    format is converted to mae_mm's (``backbone.*``, ``head.fc.*``, ``neck.bn.*``) first.

    Args:
        runner (Runner): The runner whose model is tested.
        path (str): The checkpoint file.

    Raises:
        RuntimeError: Keys missing from or unexpected in the checkpoint, or of another shape.
    """
    loaded = load_file(path)
    try:
        ckpt = read_checkpoint(loaded)
    except (TypeError, ValueError):  # no ViT checkpoint mae_mm reads: the strict load says why
        runner.load_checkpoint(path, strict=True)
        return
    checkpoint = loaded if ckpt.format == 'mae_mm' else to_mae_mm(ckpt)
    # the steps of Runner.load_checkpoint, on the checkpoint in hand
    runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    _load_checkpoint_to_model(model, checkpoint, strict=True)
    runner.logger.info(f'Load checkpoint from {path} ({ckpt.format} format)')


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    # the checkpoint argument is what is tested: runner.test() must not load or resume another
    cfg.load_from, cfg.resume = None, False
    runner = build_runner(cfg)
    # MMEngine's checkpoints are read weights-only, allowing just their data types; strictly,
    # so that a checkpoint of another model fails here instead of testing random weights
    with mmengine_checkpoint_globals():
        try:
            load_strictly(runner, args.checkpoint)
        except RuntimeError as err:
            raise RuntimeError(
                f'{args.checkpoint} does not hold this config\'s whole model. tools/test.py '
                f'takes a checkpoint that tools/train.py wrote with this config, or an official '
                f'/ timm / mmpretrain checkpoint of the same classifier; a pretraining or '
                f'backbone checkpoint goes to training instead: --cfg-options '
                f'model.backbone.init_cfg.checkpoint=PATH. {err}') from None
        runner.test()
    close_distributed()


if __name__ == '__main__':
    main()
