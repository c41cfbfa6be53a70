"""Counting what a step saves for backward: exact on a known graph, eager and compiled, linear in
the batch for MAE, the tool's estimate for both implementations, and its refusal to compare
memory options of an uncompiled model."""
import json

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from conftest import PRETRAIN_DEMO, run_tool
from mae_mm.benchmark.saved import at_batch, saved_activations
from mae_mm.models.layers import random_mask


@pytest.mark.parametrize('compiled', [False, True])
def test_counts_exactly_what_autograd_keeps(compiled):
    """Linear -> GELU: GELU keeps its (B, 32) input; the Linear would keep x, which is
    excluded as alive anyway, and no weight (x needs no gradient). The same under compile."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 32)
    x = torch.randn(5, 8)

    def loss(inp):
        return F.gelu(lin(inp)).sum()

    fn = torch.compile(loss) if compiled else loss
    groups = saved_activations(lambda: fn(x), [*lin.parameters(), x])
    assert [(g.shape, g.dtype, g.count, g.nbytes) for g in groups] == [
        ((5, 32), torch.float32, 1, 5 * 32 * 4)]
    assert lin.weight.grad is not None  # the backward ran


def test_mae_saved_bytes_are_linear_in_the_batch():
    """The extrapolation's premise on the real model: batches 1 and 2 predict 3 exactly."""
    cfg = Config.fromfile(PRETRAIN_DEMO)
    init_default_scope('mae_mm')
    cfg.model.pop('data_preprocessor')
    model = MODELS.build(cfg.model).train()
    bb = model.backbone
    points = []
    for batch in (1, 2, 3):
        inputs = torch.randn(batch, 3, 64, 64)
        masks = random_mask(batch, bb.num_patches, bb.num_masked, 'cpu')
        groups = saved_activations(lambda: model.masked_loss(inputs, masks),
                                   [*model.parameters(), inputs])
        points.append((batch, sum(g.nbytes for g in groups)))
    assert points[1][1] > points[0][1]
    assert at_batch(points[0], points[1], 3) == points[2][1]


@pytest.mark.slow
def test_tool_estimates_both_models(tmp_path):
    """mae_mm (bf16 token stream) keeps less than mmpretrain at the same batch, both
    estimates hold the training state, and the report names the ratio."""
    out = tmp_path / 'saved.json'
    report = run_tool('analysis_tools/saved_activations.py', PRETRAIN_DEMO, '--batch', '64',
                      '--json', str(out)).stdout
    results = json.loads(out.read_text())['results']
    ours, peer = results['mae_mm'], results['mmpretrain']
    assert 0 < ours['activations_gib'] < peer['activations_gib']
    for r in (ours, peer):
        assert r['estimate_gib'] == pytest.approx(r['activations_gib'] + r['state_gib'])
        assert r['largest'] and r['measured'][0][0] == 2 and r['measured'][1][0] == 4
    assert 'estimated memory ratio mae_mm / mmpretrain' in report


def test_tool_options_need_a_compiled_model():
    proc = run_tool('analysis_tools/saved_activations.py', PRETRAIN_DEMO, '--no-peer',
                    '--options', 'recompute_gelu', check=False)
    assert proc.returncode != 0
    assert 'model.compile=False; add --cfg-options model.compile=True' in proc.stderr
    assert 'activations GiB' not in proc.stdout  # refused before measuring
