"""Shared fixtures: a real tiny pretraining run through tools/train.py, reused by the suite."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Callable, Optional

import pytest
import torch
import torch._dynamo
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_DEMO = osp.join(REPO, 'configs', 'demo', 'mae_vit-tiny_pretrain_demo.py')
PRETRAIN_EPOCHS = 8  # 6 iterations an epoch on the 86 built-in images at batch 16


def run_tool(script: str, *args: str, timeout: int = 600,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``tools/<script>`` with this interpreter from the repo root; with ``check``, fail
    with its output when it fails (without, the caller reads the return code)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', script), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f'tools/{script} {" ".join(args)} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}')
    return proc


def tiny_mae(cls: Optional[type] = None, *, num_layers: int = 2, num_heads: int = 4,
             embed_dims: int = 32, decoder_depth: int = 1, decoder_embed_dims: int = 16,
             neck: Optional[dict] = None, **kwargs) -> torch.nn.Module:
    """mae_mm's MAE (or ``cls``, a subclass) at test size, weights drawn from seed 0: 32 px
    images in patches of 8 (16 patches), ``num_layers`` blocks of ``embed_dims``, a decoder of
    ``decoder_depth`` blocks of ``decoder_embed_dims`` with 2 heads, the norm-pix loss. MAE's
    own keyword arguments (``compile``, ``data_preprocessor``) go to it, the others to MAEViT;
    ``neck`` holds further MAEDecoder arguments."""
    from mae_mm.models import MAE
    mae_args = {k: kwargs.pop(k) for k in ('compile', 'data_preprocessor') if k in kwargs}
    torch.manual_seed(0)
    return (cls or MAE)(
        backbone={'type': 'MAEViT', 'img_size': 32, 'patch_size': 8, **kwargs,
                  'arch': dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads)},
        neck=dict(type='MAEDecoder', decoder_embed_dims=decoder_embed_dims,
                  decoder_depth=decoder_depth, decoder_num_heads=2, **(neck or {})),
        head=dict(type='MAEHead', norm_pix=True), **mae_args)


def with_moved_norms(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every LayerNorm's scale and shift drawn away from 1 and 0 (seed 2), so
    that a test of where they are applied can fail."""
    torch.manual_seed(2)
    with torch.no_grad():
        for norm in (m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)):
            norm.weight.normal_(1.0, 0.5)
            norm.bias.normal_(0.0, 0.5)
    return model


def image_classifier(arch: dict, img_size: int, out_type: str, probe: bool = False,
                     num_classes: int = 10, **backbone) -> torch.nn.Module:
    """mmpretrain's ImageClassifier over ``mae_mm.MAEViT`` as the classification configs build
    it: a LinearClsHead on the feature, after a ClsBatchNormNeck without affine parameters if
    ``probe`` (linear probing); ``backbone`` are further MAEViT arguments. In eval mode."""
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    import mae_mm.models  # noqa: F401 (registers mae_mm.MAEViT)
    dims = arch['embed_dims']
    neck = dict(type='mmpretrain.ClsBatchNormNeck', input_features=dims, affine=False, eps=1e-6)
    # the parts it builds by default (data preprocessor, loss) are mmpretrain's, whichever
    # scope an earlier test left current
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return ImageClassifier(
            backbone=dict(type='mae_mm.MAEViT', arch=arch, img_size=img_size,
                          out_type=out_type, **backbone),
            neck=neck if probe else None,
            head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                      in_channels=dims)).eval()


def set_running_stats(model: torch.nn.Module) -> torch.nn.Module:
    """Give every BatchNorm1d of ``model`` random running statistics (mean, positive variance,
    a batch count), so that they matter and a lost or misplaced one shows."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn_like(module.running_mean))
            module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
            module.num_batches_tracked.fill_(7)
    return model


def read_scalars(work_dir: str) -> list:
    """The per-log-step records that mmengine's LocalVisBackend wrote in a run's work dir."""
    paths = [osp.join(root, f) for root, _, files in os.walk(work_dir) for f in files
             if f == 'scalars.json']
    assert paths, f'no scalars.json under {work_dir}'
    with open(sorted(paths)[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def demo_overrides(data_root: str, epochs: int, batch: int = 16, workers: int = 0) -> dict:
    """Config overrides for short runs of the demo config, a checkpoint every epoch."""
    return {'train_cfg.max_epochs': epochs, 'train_dataloader.dataset.data_root': data_root,
            'train_dataloader.batch_size': batch, 'train_dataloader.num_workers': workers,
            'train_dataloader.persistent_workers': workers > 0,
            'train_dataloader.prefetch_factor': 2 if workers else None, 'custom_hooks': [],
            'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1}


def run_with_block_outputs(vit, indices, x) -> tuple:
    """``vit(x)``, and the outputs (B, N, D) of its blocks ``indices`` taken by forward hooks."""
    outputs = {}
    hooks = [vit.blocks[i].register_forward_hook(
        lambda module, args, out, i=i: outputs.__setitem__(i, out)) for i in indices]
    try:
        return vit(x), [outputs[i] for i in indices]
    finally:
        for hook in hooks:
            hook.remove()


def free_port() -> int:
    """A free TCP port on localhost (for a process group's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _gloo_rank(rank: int, world_size: int, port: int, timeout: float, fn: Callable,
               args: tuple) -> None:
    """One process of :func:`run_gloo`: join the group, run ``fn(rank, *args)``, leave."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=timeout))
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def run_gloo(fn: Callable, args: tuple = (), world_size: int = 2, timeout: float = 60) -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` spawned processes of one gloo group.

    ``fn`` must be a module-level function (spawn pickles it by name). A process that
    raises fails the test with its traceback; a hang (collectives that never pair up)
    fails it after ``timeout`` seconds, the processes killed.
    """
    ctx = mp.start_processes(_gloo_rank, args=(world_size, free_port(), timeout, fn, args),
                             nprocs=world_size, start_method='spawn', join=False)
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=1):  # raises if a process failed
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                if proc.is_alive():
                    proc.kill()
            pytest.fail(f'{fn.__name__} did not finish in {timeout} s on {world_size} processes')


def build_runner(work_dir: str, data_root: str, epochs: int, extra: dict = None) -> Runner:
    """An in-process Runner of the demo config (for injecting faults, instrumenting hooks)."""
    cfg = Config.fromfile(PRETRAIN_DEMO)
    cfg.merge_from_dict(dict(demo_overrides(data_root, epochs), work_dir=work_dir, **(extra or {})))
    return Runner.from_cfg(cfg)


class ToyModel(BaseModel):
    """A linear model whose training loss is its mean output, NaN in training step ``nan_at``
    (1-based; 0: never)."""

    def __init__(self, nan_at: int = 0) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.nan_at, self.steps = nan_at, 0

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        out = self.linear(inputs)
        if mode != 'loss':
            return out
        self.steps += 1
        return dict(loss=out.mean() * (float('nan') if self.steps == self.nan_at else 1))


def build_toy_runner(work_dir: str, epochs: int = 2, load_from: Optional[str] = None,
                     nan_at: int = 0, **kwargs) -> Runner:
    """A Runner training :class:`ToyModel` (8 samples, batch 2 a process; seconds on a CPU)
    with mae_mm's SafeCheckpointHook every epoch, resuming from ``load_from`` if given.
    ``kwargs`` are further Runner arguments (``default_hooks`` are merged)."""
    from mae_mm.engine.hooks import SafeCheckpointHook
    gen = torch.Generator().manual_seed(0)
    default_hooks = dict(checkpoint=SafeCheckpointHook(interval=1))
    default_hooks.update(kwargs.pop('default_hooks', {}))
    return Runner(
        model=ToyModel(nan_at), work_dir=work_dir, experiment_name=uuid.uuid4().hex,
        train_dataloader=dict(dataset=[dict(inputs=torch.randn(2, generator=gen))
                                       for _ in range(8)],
                              sampler=dict(type='DefaultSampler', shuffle=True), batch_size=2,
                              collate_fn=dict(type='default_collate'), num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=epochs), default_hooks=default_hooks,
        resume=load_from is not None, load_from=load_from, **kwargs)


# Every compiled model shares one code object (``MAE.masked_loss``), whose cache holds at most
# ``recompile_limit`` graphs; past it, Dynamo would run the suite's later models eagerly and a
# compiled-vs-eager or saved-bytes test would measure the eager model. Fail instead.
torch._dynamo.config.fail_on_recompile_limit_hit = True


@pytest.fixture(autouse=True)
def fresh_compile_cache():
    """Each test compiles from an empty TorchDynamo cache, whatever ran before it."""
    torch._dynamo.reset()
    yield


@pytest.fixture(scope='session')
def demo_images(tmp_path_factory) -> str:
    """The built-in image set, written once per session."""
    from mae_mm.datasets.builtin import make_demo_images
    path = str(tmp_path_factory.mktemp('demo_images'))
    make_demo_images(path)
    return path


@pytest.fixture(scope='session')
def tiny_pretrain_run(tmp_path_factory, demo_images) -> str:
    """Work dir of a real MAE pretraining run of the demo config (48 iterations)."""
    work_dir = str(tmp_path_factory.mktemp('pretrain'))
    run_tool('train.py', PRETRAIN_DEMO, '--work-dir', work_dir, '--cfg-options',
             f'train_cfg.max_epochs={PRETRAIN_EPOCHS}',
             f'train_dataloader.dataset.data_root={demo_images}',
             'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=4',
             'custom_hooks.0.interval=4', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False', 'train_dataloader.prefetch_factor=None')
    return work_dir


@pytest.fixture(scope='session')
def tiny_pretrain_ckpt(tiny_pretrain_run) -> str:
    """Path of the final checkpoint of :func:`tiny_pretrain_run` (keys backbone.* / neck.*)."""
    path = osp.join(tiny_pretrain_run, f'epoch_{PRETRAIN_EPOCHS}.pth')
    assert osp.isfile(path), f'{path} was not written'
    return path
