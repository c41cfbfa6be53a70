"""The benchmark tool runs end to end on the CPU and its report reads what it wrote."""
import json

import pytest

from conftest import PRETRAIN_DEMO, run_tool


@pytest.mark.slow
def test_benchmark_json_and_report(tmp_path):
    """Both implementations timed in one run with the config's compile options (here a memory
    budget), the JSON complete, and the report's table naming the setting."""
    out = tmp_path / 'tiny.json'
    run_tool('analysis_tools/benchmark.py', PRETRAIN_DEMO, '--batch', '2', '--steps', '1',
             '--rounds', '1', '--warmup', '1', '--compile', '--cfg-options',
             'model.compile._delete_=True', 'model.compile.activation_memory_budget=0.9',
             '--json', str(out))
    run = json.loads(out.read_text())
    assert run['compile'] == dict(activation_memory_budget=0.9, mode='default')
    for name in ('mae_mm', 'mmpretrain'):
        result = run['results'][name]
        assert result['img_s'] > 0 and 0 < result['mfu'] < 1 and result['peak_mem_gib'] > 0
    report = run_tool('analysis_tools/benchmark_report.py', str(tmp_path)).stdout
    assert 'compiled (default, activation_memory_budget=0.9)' in report
    assert f'{run["results"]["mae_mm"]["img_s"]:.1f}' in report
