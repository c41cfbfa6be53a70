"""Reading checkpoint files safely: ``torch.load(weights_only=True)``, never arbitrary unpickling.

Besides plain tensor files this reads the files training frameworks write:

- MMEngine checkpoints carry a ``message_hub`` with ``HistoryBuffer`` objects holding numpy
  arrays (plus ``getattr(HistoryBuffer, 'min')``-style references to its statistics methods);
- facebookresearch/mae training checkpoints carry their ``argparse.Namespace`` of arguments.

Those few classes are allow-listed for the duration of one load; ``getattr`` is replaced by a
version that resolves attributes of ``HistoryBuffer`` only. Anything else a file asks to
construct is refused with an error that says how to re-save the weights.
"""
import argparse
import os
import os.path as osp
import pickle
from glob import glob
from typing import Any, ContextManager, Dict, List
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:  # numpy >= 2
    from numpy._core import multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as MMEngine's pickles use it: only on the ``HistoryBuffer`` class."""
    if obj is HistoryBuffer and callable(getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint')


def _trusted_globals() -> List[Any]:
    """Classes and functions that build plain data (arrays, dtypes, attribute bags)."""
    trusted = [HistoryBuffer, argparse.Namespace, np.ndarray, np.dtype,
               (_history_buffer_getattr, 'builtins.getattr')]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):  # numpy 1.x, 2.x files
        trusted += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    dtypes = getattr(np, 'dtypes', None)  # dtype classes, numpy >= 1.25
    return trusted + [getattr(dtypes, name) for name in getattr(dtypes, '__all__', ())]


def mmengine_checkpoint_globals() -> ContextManager:
    """Context in which ``torch.load(weights_only=True)`` also reads MMEngine training
    checkpoints (resume), allowing exactly the data types they hold and nothing else.

    Nests: an inner context adds (and on exit removes) only what is not allowed yet, so
    loading a pretrained backbone inside a resuming run leaves the run's allowlist intact.
    """
    allowed = torch.serialization.get_safe_globals()
    return torch.serialization.safe_globals([g for g in _trusted_globals() if g not in allowed])


def _torch_load(path: str) -> Any:
    try:
        with mmengine_checkpoint_globals():
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is long; keep its one line naming the refused global
        reason = next((line.strip() for line in str(err).splitlines()
                       if 'WeightsUnpickler error' in line), str(err)).split('. Please use')[0]
        raise pickle.UnpicklingError(
            f'{path} holds objects that mae_mm does not unpickle ({reason}). mae_mm loads with '
            f'weights_only=True so that a checkpoint cannot run code. If you trust this file, '
            f're-save its weights: torch.save({{"model": torch.load(path, weights_only=False)'
            f'["model"]}}, "weights.pth") (or the key holding its state dict)') from None


def _load_safetensors(paths: List[str]) -> Dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ImportError(f'reading {paths[0]} needs the safetensors package: '
                          f'pip install safetensors') from None
    state_dict = {}
    for path in paths:
        state_dict.update(load_file(path, device='cpu'))
    return state_dict


def _load_dir(path: str) -> Dict[str, torch.Tensor]:
    """A Hugging Face model folder: (sharded) ``*.safetensors`` or ``pytorch_model*.bin``."""
    shards = sorted(glob(osp.join(path, '*.safetensors')))
    if shards:
        return _load_safetensors(shards)
    shards = sorted(glob(osp.join(path, 'pytorch_model*.bin')))
    if not shards:
        raise FileNotFoundError(f'{path} is a folder without *.safetensors or pytorch_model*.bin '
                                f'weights; pass the checkpoint file itself')
    state_dict = {}
    for shard in shards:
        state_dict.update(_torch_load(shard))
    return state_dict


def _download(url: str) -> str:
    """Cache a URL's file under torch hub's checkpoint folder (as ``torch.hub`` does)."""
    cache_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(cache_dir, exist_ok=True)
    path = osp.join(cache_dir, osp.basename(urlparse(url).path))
    if not osp.exists(path):
        torch.hub.download_url_to_file(url, path, progress=False)
    return path


def load_file(path: str) -> Any:
    """Read a checkpoint: a ``.pth``/``.pt``/``.bin`` file, a ``.safetensors`` file, a Hugging
    Face model folder, or a URL (downloaded once into torch hub's cache).

    Args:
        path (str): Where the checkpoint is.

    Returns:
        The loaded object (usually a dict), tensors on the CPU.
    """
    path = str(path)
    if '://' in path:
        path = _download(path)
    if osp.isdir(path):
        return _load_dir(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist; check the path (or the '
                                f"init_cfg=dict(type='Pretrained', checkpoint=...) of the config)")
    if path.endswith('.safetensors'):
        return _load_safetensors([path])
    return _torch_load(path)
