"""A resumed run continues the random draws of the interrupted one (SafeCheckpointHook), on
every rank its own."""
import random

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import all_gather_object
from mmengine.hooks import Hook

from conftest import build_toy_runner, run_gloo
from mae_mm.checkpoint import mmengine_checkpoint_globals
from mae_mm.engine.hooks.safe_checkpoint_hook import rng_state_of_rank


class RandomDraws(Hook):
    """Records a Python, a NumPy and a torch random number before each training iteration,
    as augmentation, masking and drop path would draw them."""

    def __init__(self) -> None:
        self.draws = {}  # iteration (0-based) -> the three numbers

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.draws[runner.iter] = (random.random(), np.random.rand(), torch.rand(1).item())


def toy_run(work_dir: str, randomness: dict, load_from: str = None) -> dict:
    """The random draws of each iteration of :func:`build_toy_runner`'s run, resumed from
    ``load_from`` if given."""
    draws = RandomDraws()
    runner = build_toy_runner(work_dir, load_from=load_from, randomness=randomness,
                              custom_hooks=[draws])
    with mmengine_checkpoint_globals():  # resuming reads the checkpoint weights-only
        runner.train()
    return draws.draws


def resumed_draws_match(work_dir, randomness: dict, rank: int = 0) -> list:
    """The draws after epoch 1 of an uninterrupted run and of one resumed from its epoch-1
    checkpoint (rank 0 writes it); asserts they are the same. The straight run's draws."""
    straight = toy_run(f'{work_dir}/straight{rank}', randomness)
    if dist.is_initialized():
        dist.barrier()  # epoch_1.pth is complete
    resumed = toy_run(f'{work_dir}/resumed{rank}', randomness,
                      load_from=f'{work_dir}/straight0/epoch_1.pth')
    first = min(resumed)
    assert first > 0 and sorted(resumed) == [i for i in sorted(straight) if i >= first]
    for i, values in resumed.items():
        assert values == straight[i], f'rank {rank} iteration {i}: {values} != {straight[i]}'
    return [straight[i] for i in sorted(resumed)]


def each_rank_resumes_its_own_state(rank: int, work_dir: str) -> None:
    draws = resumed_draws_match(work_dir, dict(seed=0, diff_rank_seed=True), rank)
    rank0, rank1 = all_gather_object(draws)
    assert rank0 != rank1  # diff_rank_seed: the ranks draw differently, after resume too


def test_each_rank_resumes_its_own_random_state(tmp_path):
    """Rank 0's state restored on every rank made the ranks draw the same numbers."""
    run_gloo(each_rank_resumes_its_own_state, args=(str(tmp_path),), timeout=120)


def test_a_resumed_run_continues_the_random_draws_with_seed_none(tmp_path):
    """Runner.resume re-seeds with the checkpoint's seed after the hook restored the state."""
    resumed_draws_match(str(tmp_path), dict(seed=None))


def test_random_states_of_another_number_of_processes():
    states = [dict(rank=0), dict(rank=1)]
    assert rng_state_of_rank(states, 1, 2, diff_rank_seed=True) == (dict(rank=1), None)
    assert rng_state_of_rank(dict(rank=0), 0, 1, True) == (dict(rank=0), None)  # old format
    state, warning = rng_state_of_rank(states, 2, 3, diff_rank_seed=True)  # not shared
    assert state is None and 'not restored' in warning
    state, warning = rng_state_of_rank(states, 2, 3, diff_rank_seed=False)
    assert state == dict(rank=0) and 'rank 0' in warning
    state, warning = rng_state_of_rank(dict(rank=0), 1, 2, diff_rank_seed=True)
    assert state is None and 'not restored' in warning
