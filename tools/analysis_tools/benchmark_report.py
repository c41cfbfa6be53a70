"""Markdown tables from the JSON files of ``benchmark.py`` (as benchmark_suite.sh writes them).

    python tools/analysis_tools/benchmark_report.py work_dirs/benchmarks
"""
import argparse
import glob
import json
import os
from typing import List, Optional

# issue #7's GPU targets: model-only bf16 img/s by config, and the ratios to mmpretrain's MAE
SPEED_TARGETS = {'mae_vit-b_pretrain.py': 6000.0, 'mae_vit-l_pretrain.py': 3000.0}
SPEEDUP_TARGET, MEMORY_TARGET = 1.3, 0.8


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


def peer_run(r: dict, runs: List[dict]) -> Optional[dict]:
    """The run whose mmpretrain figures ``r`` is judged against: ``r`` itself when it timed
    mmpretrain, else another run of the same config, batch and precision that did, compiled
    or eager as ``r`` if there is one. Only runs that took each model's own peak qualify."""
    same = [p for p in runs if 'mmpretrain' in p['results'] and not shared_peaks(p)
            and (p['config'], p['batch'], p['precision']) == (r['config'], r['batch'],
                                                              r['precision'])]
    if r in same:
        return r
    same.sort(key=lambda p: bool(p.get('compile')) != bool(r.get('compile')))  # alike first
    return same[0] if same else None


def target_rows(runs: List[dict]) -> List[str]:
    """Each bf16 GPU run against issue #7's targets: its img/s, and its speed and own peak
    memory over mmpretrain's (taken from a sibling run where this one used --no-peer)."""
    lines = ['| config, batch | setting | img/s (target) | speed | memory | mmpretrain from | '
             'meets |', '|' + '---|' * 7]
    for r in runs:
        peer = peer_run(r, runs)
        if peer is None or r['precision'] != 'bf16' or r['device'].startswith('CPU'):
            continue
        ours, theirs = r['results']['mae_mm'], peer['results']['mmpretrain']
        name = os.path.basename(r['config'])
        target = SPEED_TARGETS.get(name, 0.0)
        speed = ours['img_s'] / theirs['img_s']
        memory = ours['peak_mem_gib'] / theirs['peak_mem_gib']
        meets = ours['img_s'] >= target and speed >= SPEEDUP_TARGET and memory <= MEMORY_TARGET
        lines.append(f'| {name}, {r["batch"]} | {setting(r)} | {ours["img_s"]:.0f} '
                     f'({target:.0f}) | {speed:.2f}x | {memory:.3f}x | '
                     f'{"this run" if peer is r else peer["name"]} | {"yes" if meets else "no"} |')
    return lines if len(lines) > 2 else []


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
            runs.append(dict(json.load(f), name=os.path.splitext(os.path.basename(path))[0]))
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
    targets = target_rows([r for r in runs if 'table2' not in r and 'pipeline' not in r])
    if targets:
        out += [f'Against the targets: >= {SPEEDUP_TARGET}x mmpretrain\'s speed, <= '
                f'{MEMORY_TARGET}x its own peak memory, img/s as given (0: none)', '',
                *targets, '']
    if any('table2' in r for r in runs):
        out += table2_rows([r for r in runs if 'table2' in r]) + ['']
    for r in runs:
        if 'pipeline' in r:
            p = r['pipeline']
            peer = (f', with mmpretrain\'s crop {p["peer_img_s"]:.1f} img/s '
                    f'({p["img_s"] / p["peer_img_s"]:.2f}x)' if 'peer_img_s' in p else '')
            out.append(f'Data pipeline ({os.path.basename(r["config"])}), one worker: '
                       f'{p["img_s"]:.1f} img/s{peer}; masking {100 * p["mask_share"]:.2f}% of it')
    return '\n'.join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description='Tables from benchmark JSON files')
    parser.add_argument('folder')
    print(report(parser.parse_args().folder))


if __name__ == '__main__':
    main()
