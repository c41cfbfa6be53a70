"""Built-in benchmark: does MAE pretraining help? Linear probing and fine-tuning on digits.

Runs on a CPU in minutes with data that ships with scikit-learn (1,797 real handwritten
digits, upscaled, written as an ImageNet-layout folder):

1. pretrain the demo MAE (6 blocks, patch 8) on the train split through the real Runner
   (configs/demo/mae_vit-tiny_pretrain_demo.py, its data swapped for the digits at the
   classification demos' image size, 32 px);
2. linear-probe and fine-tune it (configs/demo/{linprobe,finetune}_vit-tiny_digits_demo.py);
3. run the same two protocols from a randomly initialised encoder;
4. print top-1 on the held-out split for all four, and write them to results.json.

    python tools/analysis_tools/linear_probe_benchmark.py --work-dir work_dirs/digits_benchmark
"""
import argparse
import json
import os.path as osp
import time
from typing import Dict, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mae_mm.datasets.digits import DIGIT_CLASSES, make_digits_imagenet

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CFG = osp.join(REPO, 'configs', 'demo', 'mae_vit-tiny_pretrain_demo.py')
PROTOCOL_CFGS = {
    'linear probe': osp.join(REPO, 'configs', 'demo', 'linprobe_vit-tiny_digits_demo.py'),
    'fine-tune': osp.join(REPO, 'configs', 'demo', 'finetune_vit-tiny_digits_demo.py'),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='MAE-pretrained vs random init on digits')
    parser.add_argument('--work-dir', default='work_dirs/digits_benchmark')
    parser.add_argument('--pretrain-epochs', type=int, default=60)
    parser.add_argument('--pretrain-lr', type=float, default=1.5e-3)
    parser.add_argument('--pretrained', help='skip step 1: use this MAE checkpoint of the demo '
                        'encoder (e.g. from an earlier run)')
    parser.add_argument('--probe-epochs', type=int, default=None,
                        help='linear-probe epochs (default: the demo config\'s)')
    parser.add_argument('--finetune-epochs', type=int, default=None,
                        help='fine-tune epochs (default: the demo config\'s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of every run (the train / held-out split stays fixed)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (1 is faster on a busy machine)')
    args = parser.parse_args()
    if args.pretrain_epochs < 2:
        parser.error(f'--pretrain-epochs must be at least 2 (warm-up, then the cosine decay), '
                     f'got {args.pretrain_epochs}')
    return args


def digits_dataset(data_root: str, split: str, pipeline: list) -> dict:
    return dict(type='ImageNet', data_root=data_root, split=split, pipeline=pipeline,
                metainfo=dict(classes=DIGIT_CLASSES))


def pretrain_config(args: argparse.Namespace, data_root: str, size: int) -> Config:
    """The demo pretraining config on the digits' train split at ``size`` px (labels unused)."""
    cfg = Config.fromfile(PRETRAIN_CFG)
    patch = cfg.patch_size
    cfg.model.backbone.img_size = size
    # digits: crops keep most of the digit, no flip (a mirrored digit is another shape)
    edits = {'mae_mm.RandomResizedCrop': dict(scale=size, crop_ratio_range=(0.35, 1.0)),
             'mae_mm.RandomMasking': dict(patch_size=patch)}
    missing = set(edits) - {t['type'] for t in cfg.train_pipeline}
    assert not missing, f'{PRETRAIN_CFG} has no {missing} step to adapt to the digits'
    pipeline = [dict(t, **edits.get(t['type'], {})) for t in cfg.train_pipeline
                if t['type'] != 'RandomFlip']
    cfg.train_dataloader.update(batch_size=64, num_workers=0, persistent_workers=False,
                                prefetch_factor=None,
                                dataset=digits_dataset(data_root, 'train', pipeline))
    cfg.optim_wrapper.optimizer.lr = args.pretrain_lr
    warmup = max(1, args.pretrain_epochs // 20)
    cfg.param_scheduler = [
        dict(cfg.param_scheduler[0], end=warmup),
        dict(cfg.param_scheduler[1], begin=warmup, end=args.pretrain_epochs,
             T_max=args.pretrain_epochs - warmup),
    ]
    cfg.train_cfg.max_epochs = args.pretrain_epochs
    cfg.default_hooks.checkpoint.update(interval=args.pretrain_epochs, max_keep_ckpts=1)
    # the demo's reconstruction figure, once at the end (work_dir/pretrain/vis/)
    cfg.custom_hooks = [dict(h, interval=args.pretrain_epochs) for h in cfg.custom_hooks]
    cfg.work_dir = osp.join(args.work_dir, 'pretrain')
    cfg.randomness.seed = args.seed
    return cfg


def protocol_config(path: str, data_root: str, checkpoint: Optional[str], epochs: Optional[int],
                    work_dir: str, seed: int = 0) -> Config:
    """A demo classification config on the digits folder, from ``checkpoint`` or random."""
    cfg = Config.fromfile(path)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint) if checkpoint \
        else None
    if epochs is not None:
        warmup = cfg.param_scheduler[0]['end']
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler[0]['end'] = min(warmup, max(1, epochs // 10))
        cfg.param_scheduler[1]['begin'] = cfg.param_scheduler[0]['end']
    cfg.train_cfg.val_interval = cfg.train_cfg.max_epochs
    cfg.default_hooks.checkpoint.update(interval=cfg.train_cfg.max_epochs, max_keep_ckpts=1)
    cfg.work_dir = work_dir
    cfg.randomness.seed = seed
    return cfg


def train_and_test(cfg: Config) -> Dict[str, float]:
    """Train with the Runner, then evaluate on the held-out split; adds the seconds taken."""
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    return dict(runner.test(), seconds=time.time() - start)


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.time()
    data_root = osp.join(args.work_dir, 'digits')
    size = Config.fromfile(PROTOCOL_CFGS['fine-tune']).img_size
    counts = make_digits_imagenet(data_root, img_size=size)
    checkpoint = args.pretrained
    if checkpoint is None:
        cfg = pretrain_config(args, data_root, size)
        Runner.from_cfg(cfg).train()
        checkpoint = osp.join(cfg.work_dir, f'epoch_{args.pretrain_epochs}.pth')
    pretrain_s = time.time() - start

    results, seconds = {}, {}
    epochs = {'linear probe': args.probe_epochs, 'fine-tune': args.finetune_epochs}
    for protocol, path in PROTOCOL_CFGS.items():
        for init, ckpt in (('random init', None), ('MAE pretrained', checkpoint)):
            work_dir = osp.join(args.work_dir, protocol.replace(' ', '_').replace('-', ''),
                                init.split()[0].lower())
            metrics = train_and_test(protocol_config(path, data_root, ckpt, epochs[protocol],
                                                     work_dir, args.seed))
            results[f'{protocol} / {init}'] = metrics['accuracy/top1']
            seconds[f'{protocol} / {init}'] = round(metrics['seconds'])

    total_s = time.time() - start
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(top1=results, seconds=seconds, images=counts, img_size=size,
                       pretrain_epochs=args.pretrain_epochs, seed=args.seed,
                       pretrain_seconds=round(pretrain_s), total_seconds=round(total_s),
                       threads=torch.get_num_threads()), f, indent=2)
    print(f'\ndigits, {counts["train"]} train / {counts["val"]} held-out images at '
          f'{size} px; MAE pretraining {args.pretrain_epochs} epochs '
          f'({pretrain_s / 60:.1f} min), everything {total_s / 60:.1f} min\n')
    print('| protocol | random init top-1 | MAE pretrained top-1 | gain |')
    print('| --- | --- | --- | --- |')
    for protocol in PROTOCOL_CFGS:
        rand, mae = results[f'{protocol} / random init'], results[f'{protocol} / MAE pretrained']
        print(f'| {protocol} | {rand:.1f} | {mae:.1f} | {mae - rand:+.1f} |')


if __name__ == '__main__':
    main()
