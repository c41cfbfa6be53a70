"""What tools/train.py and tools/test.py share: common arguments, config loading, the Runner."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, ApexOptimWrapper, OptimWrapper
from mmengine.runner import Runner

from mae_mm.registry import OPTIM_WRAPPERS
from .distributed import setup_cpu_distributed
from .optim_wrappers import SkipNonFiniteOptimWrapper

# what --amp turns each full-precision wrapper into
_AMP_SIBLINGS = {OptimWrapper: 'mae_mm.AmpOptimWrapper',
                 SkipNonFiniteOptimWrapper: 'mae_mm.SkipNonFiniteAmpOptimWrapper'}


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """--work-dir, --cfg-options, --launcher and the launcher's --local-rank."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.drop_path_rate=0.2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config with the common arguments applied; the work dir defaults to
    ``work_dirs/<config name>``."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def enable_auto_scale_lr(cfg: Config) -> None:
    """Turn on MMEngine's linear lr scaling, counting accumulated steps in the real batch.

    MMEngine scales the lr by (GPUs x per-GPU batch) / ``auto_scale_lr.base_batch_size`` and
    ignores ``optim_wrapper.accumulative_counts``: a config that accumulates k steps to reach
    its recipe's batch would train at 1/k of its lr. Dividing the base batch by k makes the
    ratio (GPUs x per-GPU batch x k) / the recipe's batch.

    Args:
        cfg (Config): A training config; changed in place.
    """
    scale = dict(cfg.get('auto_scale_lr') or {})
    if 'base_batch_size' not in scale:
        raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size, the total batch '
                         'the config\'s lr is set for; add it to the config, e.g. '
                         'auto_scale_lr = dict(base_batch_size=4096)')
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    base = scale['base_batch_size'] / accumulate
    scale.update(enable=True, base_batch_size=int(base) if base == int(base) else base)
    cfg.auto_scale_lr = scale


def enable_amp(cfg: Config) -> None:
    """Switch the config's optimizer wrapper to its mixed-precision sibling (``--amp``).

    ``OptimWrapper`` becomes ``mae_mm.AmpOptimWrapper`` (no loss scaler for bf16) and
    ``mae_mm.SkipNonFiniteOptimWrapper`` becomes ``mae_mm.SkipNonFiniteAmpOptimWrapper``,
    with ``dtype`` bfloat16 unless the config sets one. A wrapper that already is mixed
    precision is left as it is.

    Args:
        cfg (Config): A training config; changed in place.

    Raises:
        ValueError: If the wrapper is of any other type: its mixed-precision version is not
            known, and ignoring the flag would train in full precision unannounced.
    """
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')  # MMEngine's default
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', repr(kind))
    cls = kind if isinstance(kind, type) else OPTIM_WRAPPERS.get(kind)
    if isinstance(cls, type) and issubclass(cls, (AmpOptimWrapper, ApexOptimWrapper)):
        print_log(f'--amp: optim_wrapper type {name} already trains in mixed precision',
                  logger='current')
        return
    if cls not in _AMP_SIBLINGS:
        raise ValueError(
            f'--amp does not know the mixed-precision version of optim_wrapper type {name!r}; '
            "set one in the config instead (e.g. optim_wrapper.type='mae_mm.AmpOptimWrapper' "
            "with dtype='bfloat16') and leave out --amp")
    wrapper.type = _AMP_SIBLINGS[cls]
    wrapper.setdefault('dtype', 'bfloat16')


def build_runner(cfg: Config) -> Runner:
    """The Runner, with CPU-only multi-process training set up first when needed."""
    setup_cpu_distributed(cfg)
    return Runner.from_cfg(cfg)
