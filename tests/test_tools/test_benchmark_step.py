"""Each timed benchmark step is a whole training step of the config's recipe, and its peak
memory is its own."""
import pytest
import torch
from mmengine.config import Config

from conftest import REPO, tiny_mae
from mae_mm.benchmark.models import make_step, optim_wrapper_cfg, warm_up_libraries
from mae_mm.benchmark.timing import own_peak_bytes, storage_bytes


def test_every_timed_step_updates_the_weights_despite_accumulation():
    """ViT-H's config accumulates 4 steps; a timed step must still run the optimizer."""
    cfg = Config.fromfile(f'{REPO}/configs/mae_vit-h_pretrain.py')
    assert cfg.optim_wrapper.accumulative_counts == 4
    torch.manual_seed(0)
    model = tiny_mae(num_layers=1, num_heads=2)
    wrapper = optim_wrapper_cfg(cfg.optim_wrapper, 'fp32', ours=True, fused_adamw=False)
    step = make_step(model, torch.randn(2, 3, 32, 32), wrapper, with_masks=True)
    for _ in range(2):
        before = model.backbone.blocks[0].attn.qkv.weight.detach().clone()
        step()
        assert not torch.equal(before, model.backbone.blocks[0].attn.qkv.weight)


def test_storage_bytes_counts_each_storage_once():
    weight = torch.zeros(10, 4)
    assert storage_bytes([weight, weight.t(), weight[2:]]) == 160
    assert storage_bytes([weight, torch.zeros(3, dtype=torch.bfloat16)]) == 166


@pytest.mark.skipif(not torch.cuda.is_available(), reason='device peak memory needs CUDA')
def test_a_peak_counts_only_the_model_measured():
    """Another model's weights and optimizer state resident on the device (as in a run
    timing two models) leave a model's peak as it is alone."""
    device = torch.device('cuda')
    cfg = Config.fromfile(f'{REPO}/configs/mae_vit-b_pretrain.py')
    wrapper = optim_wrapper_cfg(cfg.optim_wrapper, 'fp32', ours=True, fused_adamw=False)
    inputs = torch.randn(4, 3, 32, 32, device=device)
    warm_up_libraries(device, wrapper)  # their one-time workspaces are in neither peak
    peaks = []
    for neighbour in (False, True):
        if neighbour:  # trained once, so its AdamW moments are resident too
            other = torch.nn.Linear(4096, 4096).to(device)
            other_optim = torch.optim.AdamW(other.parameters())
            other(torch.randn(8, 4096, device=device)).sum().backward()
            other_optim.step()
        torch.manual_seed(0)
        model = tiny_mae(num_layers=1, num_heads=2).to(device)
        step = make_step(model, inputs, wrapper, with_masks=True)
        peaks.append(own_peak_bytes(step, device, 2, [*model.parameters(), inputs]))
    assert peaks[0] == peaks[1]
