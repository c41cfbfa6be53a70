"""Inductor's byte counts of a compiled step, as on an H100: what recomputing GELU adds, exactly;
a LayerNorm backward's reductions along and across rows share one pass, as Triton fuses them;
mae_mm's attention kernel is called on its inputs as they are, and its bias sums are all it
adds; the per-block projection of kernel_traffic.py matches a count of the whole model; the
tool refuses an uncompiled model before counting anything."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch._inductor import config as inductor_config
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from conftest import PRETRAIN_DEMO, run_tool, tiny_mae
from mae_mm.benchmark.models import batch_samples
from mae_mm.benchmark.traffic import inductor_traffic, short_attention_anywhere
from mae_mm.models.layers import short_attention as kernel_module


def step_traffic(batch: int, **options):
    """Kernel counts of one compiled fp32 step of the tiny MAE (2 + 2 blocks)."""
    model = tiny_mae(compile=dict(mode='default', **options), num_layers=2, decoder_depth=2)
    inputs = torch.randn(batch, 3, 32, 32)
    with inductor_traffic() as traffic:
        model.loss(inputs, batch_samples(model, batch, 'cpu', with_masks=True))['loss'].backward()
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


def test_layer_norm_backward_reads_its_inputs_once():
    """Counted as on an H100, a LayerNorm's backward takes its input gradient (sums along the
    rows) and its weight gradients (sums down the columns) in one pass over x and the output
    gradient: forward and backward move 5 tensors of x's size (x and y; the output gradient,
    x again and x's gradient), 7 when Inductor's mix-order reductions are off."""
    def moved(mix_order: bool) -> float:
        x = torch.randn(256, 64, requires_grad=True)
        weight, bias = torch.randn(64, requires_grad=True), torch.randn(64, requires_grad=True)
        with inductor_config.patch({'triton.mix_order_reduction': mix_order}), \
                inductor_traffic() as traffic:
            y = torch.compile(F.layer_norm)(x, (64,), weight, bias)
            y.backward(torch.randn_like(y))
        assert traffic.graphs == 2
        return traffic.kernel_bytes / x.nbytes

    # beyond the whole tensors: statistics, parameters and partial sums (0.11 and 0.14 here)
    assert 5 <= moved(True) < 5.5
    assert 7 <= moved(False) < 7.5


@pytest.mark.skipif(kernel_module.triton is None, reason='Triton is not installed')
def test_short_attention_kernel_is_counted_as_on_a_gpu():
    """Around mae_mm's kernel (a user Triton kernel, counted with the library calls) the
    generated kernels move exactly what the graph computes: 2 x qkv (x 2) and 2 x the output
    (x 3), forward and backward; no copies of the kernel's inputs (with no GPU, Inductor reads
    which arguments it writes from its IR for an H100). With qkv's bias handed to the kernel,
    only the sum of its per-image sums is added: (B + 1) x 3D fp32."""
    def f(qkv, bias):
        return kernel_module.short_attention(qkv * 2, 2, 16, bias) * 3

    qkv = torch.randn(4, 50, 96, dtype=torch.bfloat16, requires_grad=True)
    for bias, sums in [(None, 0), (torch.randn(96, requires_grad=True), (4 + 1) * 96 * 4)]:
        with inductor_traffic(run=False) as traffic:
            out = torch.compile(f)(qkv, bias)
            out.backward(torch.randn_like(out))
        assert traffic.graphs == 2 and traffic.library_bytes > 0
        assert traffic.kernel_bytes == 2 * (2 * qkv.nbytes + 2 * out.nbytes) + sums


@pytest.mark.slow
def test_per_block_projection_matches_the_whole_model(tmp_path):
    """The demo MAE (6 + 2 blocks) at batch 8, counted by the tool with 1-2 blocks and
    extrapolated, comes within 1% of counting the whole model, the encoder on mae_mm's
    attention kernel in both (graphs not run: the CPU cannot run it)."""
    out = tmp_path / 'traffic.json'
    report = run_tool('analysis_tools/kernel_traffic.py', PRETRAIN_DEMO, '--batch', '8',
                      '--json', str(out), '--cfg-options', 'model.compile=True').stdout
    projected = json.loads(out.read_text())['projected_gb']
    assert 'as scheduled for an H100' in report

    cfg = Config.fromfile(PRETRAIN_DEMO)
    init_default_scope('mae_mm')
    cfg.model.pop('data_preprocessor')
    model = MODELS.build(dict(cfg.model, compile=True)).train()
    inputs = torch.randn(8, 3, 64, 64)
    with short_attention_anywhere(), inductor_traffic(run=False) as traffic, \
            torch.autocast('cpu', torch.bfloat16):
        model.loss(inputs, batch_samples(model, 8, 'cpu', with_masks=True))['loss'].backward()
    assert projected['as configured'] * 1e9 == pytest.approx(traffic.kernel_bytes, rel=0.01)


def test_per_block_tool_needs_a_compiled_model():
    proc = run_tool('analysis_tools/kernel_traffic.py', PRETRAIN_DEMO, check=False)
    assert proc.returncode != 0
    assert 'model.compile=False; add --cfg-options model.compile=True' in proc.stderr
    assert 'GB' not in proc.stdout  # refused before counting
