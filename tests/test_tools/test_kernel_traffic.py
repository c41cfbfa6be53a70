"""Inductor's byte counts of a compiled step: what recomputing GELU adds, exactly; gradients
concatenated into a permuted layout cost one copy, as on a GPU; the tool's option comparison
refuses an uncompiled model before measuring anything."""
import pytest
import torch
from mmpretrain.structures import DataSample

from conftest import PRETRAIN_DEMO, run_tool, tiny_mae
from mae_mm.benchmark.traffic import inductor_traffic
from mae_mm.models.layers import random_mask


def step_traffic(batch: int, **options):
    """Kernel counts of one compiled fp32 step of the tiny MAE (2 + 2 blocks)."""
    model = tiny_mae(compile=dict(mode='default', **options), num_layers=2, decoder_depth=2)
    bb = model.backbone
    inputs = torch.randn(batch, 3, 32, 32)
    samples = [DataSample().set_mask(m)
               for m in random_mask(batch, bb.num_patches, bb.num_masked, 'cpu')]
    with inductor_traffic() as traffic:
        model.loss(inputs, samples)['loss'].backward()
    return traffic


@pytest.mark.slow
def test_recompute_gelu_adds_one_write_of_each_gelu_output():
    """The backward writes every GELU output again, and nothing else changes: the kernels move
    exactly those bytes more, the library calls the same bytes."""
    batch = 2
    default, recomputed = step_traffic(batch), step_traffic(batch, recompute_gelu=True)
    assert default.graphs == recomputed.graphs == 2  # forward and backward, both counted
    assert default.kernels > 0 and default.library_bytes > 0
    # hidden widths 4 x 32 (encoder: 4 visible patches + class token) and 4 x 16 (decoder:
    # 17 tokens, its last block's MLP only the 12 masked patches); fp32
    gelu_bytes = batch * 4 * (2 * 5 * 128 + 17 * 64 + 12 * 64)
    assert recomputed.kernel_bytes - default.kernel_bytes == gelu_bytes
    assert recomputed.library_bytes == default.library_bytes


def test_concatenation_into_a_permuted_layout_is_one_copy():
    """As attention's q, k and v gradients reach qkv's (B, N, 3, D) layout: each input is read
    once and the result written once, as a GPU's pointwise concatenation does (the CPU's own
    lowering would copy into a (3, B, N, D) buffer first, twice the bytes)."""
    def to_qkv_layout(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # three gradients from a library call, as attention's backward returns q, k and v's
        grads = torch.sort(x @ w, dim=-1).values.unbind(0)
        return torch.stack(grads).permute(1, 0, 2).contiguous()

    x, w = torch.randn(8, 16), torch.randn(3, 16, 16)
    with inductor_traffic() as traffic:
        out = torch.compile(to_qkv_layout)(x, w)
    assert out.shape == (8, 3, 16)
    assert traffic.kernel_bytes == 2 * out.nbytes


def test_tool_options_need_a_compiled_model():
    proc = run_tool('analysis_tools/saved_activations.py', PRETRAIN_DEMO, '--no-peer',
                    '--options', 'recompute_gelu', check=False)
    assert proc.returncode != 0
    assert 'model.compile=False; add --cfg-options model.compile=True' in proc.stderr
    assert 'activations GiB' not in proc.stdout  # refused before measuring
