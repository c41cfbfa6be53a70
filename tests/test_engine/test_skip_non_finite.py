"""SkipNonFiniteOptimWrapper drops every accumulation window that holds a NaN / Inf loss."""
import pytest
import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from conftest import run_gloo
from mae_mm.engine.optim_wrappers import SkipNonFiniteOptimWrapper

BATCHES = [torch.randn(3, 4, generator=torch.Generator().manual_seed(i)) for i in range(6)]


def train(wrapper_type: type, steps: list, bad_step: int = -1, ddp: bool = False) -> tuple:
    """Weights of a linear model after ``steps`` (indices into BATCHES), 2 steps a window;
    the loss of ``bad_step`` is NaN. With ``ddp`` the model runs inside MMEngine's DDP
    wrapper (in a process group)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    net = MMDistributedDataParallel(module=model, device_ids=None) if ddp else model
    wrapper = wrapper_type(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, len(steps))
    for i in steps:
        loss = net(BATCHES[i]).pow(2).mean()
        wrapper.update_params(loss * float('nan') if i == bad_step else loss)
    return model.weight.detach().clone(), getattr(wrapper, 'skipped_steps', 0)


@pytest.mark.parametrize('bad_step', [0, 1])  # first or last step of the first window
def test_a_window_with_a_nan_loss_is_skipped_whole(bad_step):
    weights, skipped = train(SkipNonFiniteOptimWrapper, list(range(6)), bad_step)
    expected, _ = train(OptimWrapper, list(range(2, 6)))  # the two good windows alone
    assert skipped == 1
    assert torch.isfinite(weights).all()
    torch.testing.assert_close(weights, expected, rtol=0, atol=0)


def nan_on_rank_1_only(rank: int) -> None:
    """Every rank trains on the same batches under DDP; rank 1's loss of step 1 is NaN."""
    weights, skipped = train(SkipNonFiniteOptimWrapper, list(range(6)),
                             bad_step=1 if rank == 1 else -1, ddp=True)
    expected, _ = train(OptimWrapper, list(range(2, 6)))  # the two good windows alone
    assert skipped == 1, f'rank {rank} skipped {skipped} steps'
    # identical on every rank, and what one process gets without the bad window
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-7)


def test_a_nan_loss_on_one_rank_skips_the_window_on_every_rank():
    """Had rank 1 alone skipped its backward, the ranks' gradient all-reduces would pair up
    across different steps: a hang, or wrong weights."""
    run_gloo(nan_on_rank_1_only, timeout=60)
