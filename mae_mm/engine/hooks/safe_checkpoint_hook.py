"""Checkpoints that survive crashes: atomic writes, pruning after success, finite weights only."""
import os
import os.path as osp
import random
from collections import deque
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from mae_mm.registry import HOOKS
from .non_finite_loss_hook import NonFiniteLossHook


def _atomic_write_text(text: str, path: str) -> None:
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync(path: str) -> None:
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def rng_state() -> dict:
    """This process's Python, NumPy and torch (and CUDA) random states, as a dict of plain
    types and tensors (loadable with ``weights_only``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(python=random.getstate(), torch=torch.get_rng_state(),
                 numpy=(kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached))
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore random states taken by :func:`rng_state`."""
    random.setstate(state['python'])
    kind, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def rng_state_of_rank(saved: Union[dict, list], rank: int, world_size: int,
                      diff_rank_seed: bool) -> Tuple[Optional[dict], Optional[str]]:
    """The random state that process ``rank`` of ``world_size`` restores on resume.

    Args:
        saved (dict | list): A checkpoint's ``meta['rng_state']``: the states of all ranks,
            indexed by rank, or (checkpoints written before that) one dict, rank 0's.
        rank (int): This process's rank.
        world_size (int): The number of processes of the resumed run.
        diff_rank_seed (bool): ``randomness.diff_rank_seed`` of the resumed run.

    Returns:
        tuple: The state to restore (None: keep the state the runner seeded), and a warning
        to log when the saved states do not match the processes one to one (else None).
    """
    states = [saved] if isinstance(saved, dict) else list(saved)
    if len(states) == world_size:
        return states[rank], None
    what = (f'the checkpoint holds the random states of {len(states)} process(es), this run '
            f'has {world_size}')
    if diff_rank_seed:  # one state on every rank would make their draws identical
        return None, (f'{what}: with randomness.diff_rank_seed=True the random states are not '
                      'restored but seeded afresh, so random draws (augmentation, masks, drop '
                      'path) do not continue those of the interrupted run')
    return states[0], f'{what}: every process restores the state of rank 0'


def non_finite_parameters(model: torch.nn.Module) -> list:
    """Names of parameters and buffers holding NaN or Inf."""
    model = model.module if is_model_wrapper(model) else model
    tensors = list(model.named_parameters()) + list(model.named_buffers())
    return [n for n, t in tensors if t.is_floating_point() and not torch.isfinite(t).all()]


class _DeferredRemoval:
    """A file backend whose ``remove`` and ``rmtree`` only record the path; all else is the
    wrapped backend's."""

    def __init__(self, backend, removed: List[str]) -> None:
        self._backend, self._removed = backend, removed

    def remove(self, path: str) -> None:
        self._removed.append(path)

    rmtree = remove

    def __getattr__(self, name: str):
        return getattr(self._backend, name)


class _AtomicSaves:
    """The runner, with ``save_checkpoint`` through :meth:`SafeCheckpointHook._write`; all
    else is the runner's."""

    def __init__(self, runner, hook: 'SafeCheckpointHook') -> None:
        self.runner, self._hook = runner, hook

    def save_checkpoint(self, out_dir: str, filename: str, **kwargs) -> None:
        self._hook._write(self.runner, out_dir, filename, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.runner, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` made crash-safe, with the random state in the file.

    - Checkpoints (the best too) are written to ``<name>.tmp``, flushed to disk and renamed
      into place, so a crash while saving never leaves a truncated checkpoint;
      ``last_checkpoint`` is replaced the same way and only ever names complete files.
    - Old checkpoints (``max_keep_ckpts``), and with ``save_best`` the previous best, are
      removed only after the new one is written (MMEngine removes first, so a crash could
      leave none).
    - Weights with NaN / Inf are never saved: saving stops with an error naming the
      iteration and the last good checkpoint (``NonFiniteLossHook``'s error first, if a
      pending loss was non-finite).
    - The Python, NumPy and torch random states of every process go into
      ``meta['rng_state']`` (a list indexed by rank) and each process restores its own on
      resume, so the run continues as if never interrupted. If the number of processes
      changed, see :func:`rng_state_of_rank`. The state is restored in ``before_train``,
      after ``Runner.resume`` has re-seeded (it does when the checkpoint's seed is not the
      config's, as with ``randomness.seed=None``).

    Takes the arguments of ``CheckpointHook``.
    """

    _rng_states: Optional[list] = None  # every rank's, gathered for the checkpoint being saved
    _resumed_rng_state: Optional[dict] = None  # this rank's, loaded, restored in before_train

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        bad = non_finite_parameters(runner.model)
        if bad:
            for hook in runner.hooks:  # a non-finite loss, if that was the cause, says more
                if isinstance(hook, NonFiniteLossHook):
                    hook.check(runner)
            # after a resume only the message hub knows the checkpoint (and off rank 0)
            last = self.last_ckpt or runner.message_hub.get_info('last_ckpt') or 'none'
            raise RuntimeError(
                f'refusing to save a checkpoint at iteration {runner.iter}: non-finite values in '
                f'{bad[:5]}{" ..." if len(bad) > 5 else ""}; the last good checkpoint is '
                f'{last}. Resume from it with a lower lr or more warm-up.')
        self._rng_states = all_gather_object(rng_state())  # on every rank; rank 0 saves them
        name = self.filename_tmpl.format(step)
        final = self.file_backend.join_path(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', final)
        dropped: List[int] = []
        if self.max_keep_ckpts > 0:  # recorded in the checkpoint, its own step included
            kept, dropped = self._kept_after(step)
            self.keep_ckpt_ids = deque(kept, self.max_keep_ckpts)
            runner.message_hub.update_info('keep_ckpt_ids', kept)
        self._write(runner, self.out_dir, name, file_client_args=self.file_client_args,
                    save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler, meta=meta,
                    by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        self.last_ckpt = final
        _atomic_write_text(final, osp.join(runner.work_dir, 'last_checkpoint'))
        for old in dropped:  # only now that the new checkpoint is complete
            self._delete(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))

    def _write(self, runner, out_dir: str, filename: str, **kwargs) -> None:
        """``runner.save_checkpoint`` to ``<filename>.tmp``, then (main process) flushed to disk
        and renamed to ``filename``: the name only ever holds a complete file."""
        runner = runner.runner if isinstance(runner, _AtomicSaves) else runner
        runner.save_checkpoint(out_dir, f'{filename}.tmp', **kwargs)
        if is_main_process():
            path = self.file_backend.join_path(out_dir, filename)
            _fsync(f'{path}.tmp')
            os.replace(f'{path}.tmp', path)

    def _delete(self, path: str) -> None:
        """Remove a checkpoint file (or a DeepSpeed checkpoint folder) if it is there."""
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)

    def _kept_after(self, step: int) -> Tuple[List[int], List[int]]:
        """The steps of the newest ``max_keep_ckpts`` checkpoints once ``step``'s is saved,
        and the steps of those to delete then."""
        ids = list(self.keep_ckpt_ids)
        if not ids or ids[-1] != step:  # a step saved twice (latest and best) counts once
            ids.append(step)
        cut = max(len(ids) - self.max_keep_ckpts, 0)
        return ids[cut:], ids[:cut]

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """MMEngine's, except that the new best is written atomically and the previous best
        deleted only after it."""
        if not self.save_best:
            return
        backend, removed = self.file_backend, []
        self.file_backend = _DeferredRemoval(backend, removed)
        self._rng_states = all_gather_object(rng_state())  # on every rank; rank 0 saves
        try:
            super()._save_best_checkpoint(_AtomicSaves(runner, self), metrics)
        finally:
            self.file_backend, self._rng_states = backend, None
        current = {getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in removed:
            if path not in current:  # not saved again under the same name
                self._delete(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Runner.save_checkpoint runs on rank 0 only: the ranks' states were gathered before
        states, self._rng_states = self._rng_states, None
        checkpoint.setdefault('meta', {})['rng_state'] = states or [rng_state()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('rng_state')
        if not (runner._resume and saved):
            return
        diff_rank_seed = getattr(runner, '_randomness_cfg', {}).get('diff_rank_seed', False)
        state, warning = rng_state_of_rank(saved, get_rank(), get_world_size(), diff_rank_seed)
        if warning:
            runner.logger.warning(warning)
        # Runner.resume may re-seed after this (set_randomness): restore in before_train
        self._resumed_rng_state = state

    def before_train(self, runner) -> None:
        super().before_train(runner)
        # the last hook point before the first iteration (this hook's priority is VERY_LOW)
        if self._resumed_rng_state is not None:
            set_rng_state(self._resumed_rng_state)
            self._resumed_rng_state = None
