"""Markdown tables from the JSON files of ``benchmark.py`` (as benchmark_suite.sh writes them).

    python tools/analysis_tools/benchmark_report.py work_dirs/benchmarks
"""
import argparse
import glob
import json
import os
from typing import List


def setting(r: dict) -> str:
    """What a run changed from the config's defaults, in words."""
    compiled = r.get('compile')
    options = dict(compiled) if isinstance(compiled, dict) else {}
    mode = options.pop('mode', None) or 'default'
    opts = [f'compiled ({", ".join([mode, *(f"{k}={v}" for k, v in options.items())])})'
            if compiled else 'eager',
            'plain attention' if r.get('plain_attn') else '',
            'SDPA for short sequences' if r.get('short_attn') is False else '',
            f'short-sequence kernel up to {r["short_attn_tokens"]} tokens'
            if r.get('short_attn_tokens', 64) != 64 and r.get('short_attn') else '',
            'activation checkpointing' if r.get('with_cp') else '',
            'predicting every patch' if r.get('predict_all') else '',
            'foreach AdamW' if r.get('fused_adamw') is False else '',
            *[f'{k}={v}' for k, v in (r.get('cfg_options') or {}).items()
              if not k.startswith('model.compile')]]
    return ', '.join(o for o in opts if o)


def shared_peaks(r: dict) -> bool:
    """Whether a GPU run took each model's peak with the other model resident beside it, as
    benchmark.py did before it recorded ``peak_memory='own'``."""
    return r.get('peak_memory') != 'own' and not r['device'].startswith('CPU')


def comparison_rows(runs: List[dict]) -> List[str]:
    lines = ['| config, batch, precision | setting | mae_mm img/s | mmpretrain img/s | speed | '
             'MFU | peak GiB mae_mm / mmpretrain | memory |', '|' + '---|' * 8]
    for r in runs:
        ours, peer = r['results']['mae_mm'], r['results']['mmpretrain']
        mark = ' *' if shared_peaks(r) else ''
        lines.append(
            f'| {os.path.basename(r["config"])}, {r["batch"]}, {r["precision"]} | {setting(r)} | '
            f'{ours["img_s"]:.1f} | {peer["img_s"]:.1f} | **{ours["img_s"] / peer["img_s"]:.2f}x** | '
            f'{100 * ours["mfu"]:.1f}% | {ours["peak_mem_gib"]:.2f} / {peer["peak_mem_gib"]:.2f} | '
            f'{ours["peak_mem_gib"] / peer["peak_mem_gib"]:.2f}x{mark} |')
    if any(shared_peaks(r) for r in runs):
        lines += ['', '\\* peaks taken with the other model resident (older benchmark.py): '
                      'mmpretrain\'s includes mae_mm\'s weights and AdamW moments, mae_mm\'s '
                      'mmpretrain\'s weights; the ratio flatters mae_mm']
    return lines


def option_rows(runs: List[dict]) -> List[str]:
    lines = ['| config, batch, precision | setting | img/s | MFU | peak GiB |', '|' + '---|' * 5]
    for r in runs:
        ours = r['results']['mae_mm']
        lines.append(f'| {os.path.basename(r["config"])}, {r["batch"]}, {r["precision"]} | '
                     f'{setting(r)} | {ours["img_s"]:.1f} | {100 * ours["mfu"]:.1f}% | '
                     f'{ours.get("peak_mem_gib", float("nan")):.2f} |')
    return lines


def table2_rows(runs: List[dict]) -> List[str]:
    lines = ['| config, batch | decoder depth | w/ [M] s | w/o [M] s | speed-up |',
             '|' + '---|' * 5]
    for r in runs:
        for row in r['table2']:
            lines.append(f'| {os.path.basename(r["config"])}, {r["batch"]} | {row["decoder_depth"]} | '
                         f'{row["mask_token_step_s"]:.3f} | {row["visible_step_s"]:.3f} | '
                         f'{row["speedup"]:.2f}x |')
    return lines


def report(folder: str) -> str:
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, '*.json'))):
        with open(path) as f:
            runs.append(json.load(f))
    if not runs:
        raise FileNotFoundError(f'no benchmark JSON files in {folder}; run '
                                f'tools/analysis_tools/benchmark_suite.sh {folder} first')
    devices = sorted({r['device'] for r in runs})
    peaks = [r['peak_tflops'] for r in runs]
    out = [f'Device: {", ".join(devices)}; measured matmul peak {min(peaks):.1f}-{max(peaks):.1f} '
           f'TFLOP/s (MFU of each run against its own)', '']
    compared = [r for r in runs if 'mmpretrain' in r['results']]
    alone = [r for r in runs if 'mmpretrain' not in r['results'] and 'table2' not in r
             and 'pipeline' not in r]
    if compared:
        out += comparison_rows(compared) + ['']
    if alone:
        out += option_rows(alone) + ['']
    if any('table2' in r for r in runs):
        out += table2_rows([r for r in runs if 'table2' in r]) + ['']
    for r in runs:
        if 'pipeline' in r:
            p = r['pipeline']
            out.append(f'Data pipeline ({os.path.basename(r["config"])}), one worker: '
                       f'{p["img_s"]:.1f} img/s; masking {100 * p["mask_share"]:.2f}% of it')
    return '\n'.join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description='Tables from benchmark JSON files')
    parser.add_argument('folder')
    print(report(parser.parse_args().folder))


if __name__ == '__main__':
    main()
