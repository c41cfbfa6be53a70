"""Strict loading of any supported checkpoint into a backbone with official names (``MAEViT``).

What may differ between a checkpoint and the backbone is decided from the backbone itself:

- dropped and reported: the pretraining decoder (``mask_token``, ``decoder_*``), the source
  model's other parts (classifier heads, necks), and encoder tensors whose module this backbone
  does not have (``norm`` when it pools through ``fc_norm`` or has ``final_norm=False``,
  ``fc_norm`` of a fine-tuned model, ``cls_token`` without a class token, the ablation's
  ``encoder_mask_token``);
- resized: ``pos_embed`` to the backbone's patch grid (bicubic), its class row dropped when the
  backbone's embedding has none; relative-position tables of a model fine-tuned at another
  ``img_size`` to the backbone's (ViTDet's linearly, BEiT's bias table bicubically);
- new, kept at their initial values and logged: parameters of modules that downstream models add
  (``LayerScale``, relative position tables of ``Attention`` and ``RelativePositionBias``, and
  the pooling / final norm the checkpoint has under the other name).

Anything else, a missing or unexpected key or a shape that does not fit, is an error; so is a
checkpoint whose ``norm`` came before its ``fc_norm`` pooling, loaded into a backbone that pools
without ``norm``.
"""
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mae_mm.models.layers import Attention, LayerScale, RelativePositionBias
from mae_mm.models.layers.pos_embed import resize_pos_embed
from mae_mm.models.layers.rel_pos import resize_rel_pos, resize_rel_pos_bias_table
from .formats import ConvertedCheckpoint, read_checkpoint
from .writers import num_extra_tokens

Shape = Tuple[int, ...]


class CheckpointKeyError(KeyError):
    """A KeyError whose message prints as written (KeyError quotes its argument)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class LoadReport:
    """What :func:`load_backbone_checkpoint` did.

    Attributes:
        source_format (str): The detected format of the checkpoint.
        loaded (list): Backbone keys set from the checkpoint.
        new_keys (list): Backbone keys the checkpoint lacks that downstream models add;
            they keep their initial values.
        dropped (dict): Reason -> checkpoint keys (official names) that were not loaded.
        resized (dict): Key -> (checkpoint shape, backbone shape).
    """
    source_format: str
    loaded: List[str] = field(default_factory=list)
    new_keys: List[str] = field(default_factory=list)
    dropped: Dict[str, List[str]] = field(default_factory=dict)
    resized: Dict[str, Tuple[Shape, Shape]] = field(default_factory=dict)


def _has_module(keys, name: str) -> bool:
    return any(k == name or k.startswith(name + '.') for k in keys)


def _drop_unused(state: dict, own: dict, report: LoadReport) -> None:
    """Remove encoder tensors of modules this backbone does not have (known cases only). A
    checkpoint that pooled through ``fc_norm`` after its final ``norm`` is an error where the
    backbone pools without that ``norm``: dropping it would change every feature."""
    if all(_has_module(state, n) for n in ('norm', 'fc_norm')) and _has_module(own, 'fc_norm') \
            and not _has_module(own, 'norm'):
        raise ValueError('the checkpoint applies its final norm (norm.*) before pooling through '
                         'fc_norm (mmpretrain\'s out_type=\'avg_featmap\' with final_norm=True), '
                         'and this backbone pools without it: build it with final_norm=True')
    reasons = {
        'norm': 'final norm unused by this backbone '
                '(it pools through fc_norm or has no final norm)',
        'fc_norm': 'pooled-feature norm of a classifier, unused by this backbone',
        'cls_token': 'class token, unused by this backbone (with_cls_token=False)',
        'encoder_mask_token': 'mask token of the encoder ablation (pretraining only)',
    }
    for name, reason in reasons.items():
        if _has_module(state, name) and not _has_module(own, name):
            keys = [k for k in state if k == name or k.startswith(name + '.')]
            report.dropped[reason] = keys
            for k in keys:
                del state[k]


def _source_grid(src: torch.Tensor, grid: Tuple[int, int]) -> Tuple[int, Tuple[int, int]]:
    """(class-token rows, (h, w)) of a checkpoint's ``pos_embed``: the backbone's own grid
    when its rows fit it (a checkpoint of this model, square or not), else a square grid
    (every MAE pretraining checkpoint's)."""
    for extra in (1, 0):
        if src.shape[1] - extra == grid[0] * grid[1]:
            return extra, grid
    try:
        extra = num_extra_tokens(src)
    except ValueError:
        raise ValueError(f'pos_embed: the checkpoint\'s {tuple(src.shape)} fits neither the '
                         f'backbone\'s {grid} patch grid nor a square one, so its grid is '
                         f'unknown; build the backbone with the img_size the checkpoint was '
                         f'trained at') from None
    side = math.isqrt(src.shape[1] - extra)
    return extra, (side, side)


def _fit_pos_embed(state: dict, backbone: nn.Module,
                   report: LoadReport) -> Optional[Tuple[int, int]]:
    """Resize the checkpoint's ``pos_embed`` to the backbone's grid and class-token row: one
    the backbone lacks is dropped; one the checkpoint lacks is zeros (the row of MAE's sin-cos
    code, and what a position embedding without one means: the class token takes no
    position). Returns the checkpoint's patch grid, None without a ``pos_embed``."""
    if 'pos_embed' not in state or not hasattr(backbone, 'pos_embed'):
        return None
    src, dst = state['pos_embed'], backbone.pos_embed
    grid = tuple(backbone.patch_embed.grid_size)
    dst_extra = dst.shape[1] - grid[0] * grid[1]
    if dst_extra not in (0, 1):
        raise ValueError(f'pos_embed: the backbone has {dst_extra} rows besides its {grid} '
                         f'grid; only a class-token row or none can be loaded into')
    src_extra, src_grid = _source_grid(src, grid)
    fitted = resize_pos_embed(src, grid, src_extra, src_grid=src_grid)
    if src_extra > dst_extra:
        fitted = fitted[:, 1:]
    elif dst_extra > src_extra:
        fitted = torch.cat([fitted.new_zeros(1, 1, fitted.shape[-1]), fitted], dim=1)
    if fitted.shape != src.shape:
        report.resized['pos_embed'] = (tuple(src.shape), tuple(fitted.shape))
    state['pos_embed'] = fitted
    return src_grid


def _fit_rel_pos(state: dict, own: dict, backbone: nn.Module,
                 src_grid: Optional[Tuple[int, int]], report: LoadReport) -> None:
    """Resize relative-position tables learned at another resolution (a detector or segmenter
    fine-tuned at another ``img_size``) to the backbone's, as ``pos_embed`` is: ViTDet's
    ``rel_pos_h`` / ``rel_pos_w`` linearly, BEiT's bias table bicubically on its offset grid."""
    for key, value in list(state.items()):
        target = own.get(key)
        if target is None or value.shape == target.shape or value.shape[1:] != target.shape[1:]:
            continue  # what fits, or a mismatch that _check reports
        leaf = key.rsplit('.', 1)[-1]
        if leaf in ('rel_pos_h', 'rel_pos_w'):
            fitted = resize_rel_pos(value, target.shape[0])
        elif leaf == 'relative_position_bias_table' and src_grid is not None:
            module = backbone.get_submodule(key.rsplit('.', 1)[0])
            fitted = resize_rel_pos_bias_table(value, src_grid, module.grid_size)
        else:
            continue
        report.resized[key] = (tuple(value.shape), tuple(fitted.shape))
        state[key] = fitted


def downstream_added_keys(backbone: nn.Module, state: dict) -> Set[str]:
    """Backbone keys that may be absent from a checkpoint: parameters of modules a downstream
    model adds to the pretrained ViT, found by their type, plus the norm the checkpoint has
    under the other name (``fc_norm`` for ``norm`` and the reverse)."""
    allowed = set()
    for prefix, module in backbone.named_modules():
        dot = prefix + '.' if prefix else ''
        if isinstance(module, (LayerScale, RelativePositionBias)):
            allowed |= {dot + name for name, _ in module.named_parameters()}
        elif isinstance(module, Attention):  # its own tensors besides qkv / proj: rel-pos tables
            allowed |= {dot + name for name, _ in module.named_parameters(recurse=False)}
    own = backbone.state_dict()
    for new, old in (('fc_norm', 'norm'), ('norm', 'fc_norm')):
        if _has_module(own, new) and _has_module(state, old) and not _has_module(state, new):
            allowed |= {k for k in own if k.startswith(new + '.')}
    return allowed & set(own)


def _span(ids: List[int]) -> str:
    """[0, 1, 2] -> '{0-2}', [3, 7] -> '{3,7}', [4] -> '4'."""
    ids = sorted(ids)
    if len(ids) == 1:
        return str(ids[0])
    if ids == list(range(ids[0], ids[-1] + 1)):
        return f'{{{ids[0]}-{ids[-1]}}}'
    return '{' + ','.join(map(str, ids)) + '}'


def _compact(keys) -> str:
    """Key names with block numbers folded: 'blocks.{0-11}.ls1.gamma, norm.weight'."""
    groups: Dict[str, List[int]] = {}
    for key in keys:
        match = re.fullmatch(r'(\w*blocks)\.(\d+)\.(.+)', key)
        if match:
            name = f'{match.group(1)}.{{}}.{match.group(3)}'
            groups.setdefault(name, []).append(int(match.group(2)))
        else:
            groups[key] = []
    return ', '.join(name.format(_span(ids)) if ids else name
                     for name, ids in sorted(groups.items()))


def _describe(state: dict) -> str:
    """The architecture a checkpoint's encoder implies, to put next to a mismatch."""
    proj = state.get('patch_embed.proj.weight')
    blocks = {k.split('.')[1] for k in state if re.match(r'blocks\.\d+\.', k)}
    dims = f'embed_dims={proj.shape[0]}, patch_size={proj.shape[-1]}, ' if proj is not None else ''
    return f'{dims}num_layers={len(blocks)}'


def _check(state: dict, own: dict, allowed: Set[str], source: str, backbone: nn.Module) -> None:
    missing = sorted(set(own) - set(state) - allowed)
    unexpected = sorted(set(state) - set(own))
    wrong = [f'{k}: checkpoint {tuple(state[k].shape)} vs backbone {tuple(own[k].shape)}'
             for k in sorted(set(state) & set(own)) if state[k].shape != own[k].shape]
    if not (missing or unexpected or wrong):
        return
    lines = [f'checkpoint {source} does not fit {type(backbone).__name__} '
             f'(the checkpoint implies {_describe(state)}):']
    if missing:
        lines.append(f'  missing in the checkpoint: {missing}')
    if unexpected:
        lines.append(f'  unexpected in the checkpoint: {unexpected}')
    if wrong:
        lines.append(f'  shape mismatches: {wrong}')
    lines.append('Fix: build the backbone with the checkpoint\'s arch (embed_dims, num_layers, '
                 'num_heads, patch_size, qkv_bias, layer_scale_init) or pass the checkpoint this '
                 'config was written for.')
    raise (ValueError if wrong and not (missing or unexpected) else CheckpointKeyError)(
        '\n'.join(lines))


def load_backbone_checkpoint(backbone: nn.Module, checkpoint: Union[str, Path, dict]) -> LoadReport:
    """Load a checkpoint of any supported format into ``backbone`` strictly.

    Args:
        backbone (nn.Module): A backbone with official parameter names (``MAEViT``).
        checkpoint (str | Path | dict): A file, folder, URL, or a loaded checkpoint.

    Returns:
        LoadReport: What was loaded, new, dropped and resized (also logged).

    Raises:
        KeyError: Keys missing from or unexpected in the checkpoint (listed).
        ValueError: Tensors whose shapes do not fit the backbone (listed).
    """
    source = checkpoint if isinstance(checkpoint, (str, Path)) else '(in memory)'
    ckpt: ConvertedCheckpoint = read_checkpoint(checkpoint)
    report = LoadReport(ckpt.format)
    if ckpt.decoder:
        report.dropped['MAE pretraining decoder'] = sorted(ckpt.decoder)
    if ckpt.head or ckpt.other:  # a classifier's head, a detector's neck, ...
        report.dropped["source model's other parts"] = sorted({**ckpt.head, **ckpt.other})
    state, own = dict(ckpt.encoder), backbone.state_dict()
    _drop_unused(state, own, report)
    src_grid = _fit_pos_embed(state, backbone, report)
    _fit_rel_pos(state, own, backbone, src_grid, report)
    allowed = downstream_added_keys(backbone, ckpt.encoder)
    _check(state, own, allowed, str(source), backbone)
    report.new_keys = sorted(set(own) - set(state))
    report.loaded = sorted(state)
    backbone.load_state_dict({**{k: own[k] for k in report.new_keys}, **state}, strict=True)
    _log(report, str(source))
    return report


def _log(report: LoadReport, source: str) -> None:
    print_log(f'loaded {len(report.loaded)} tensors from {source} ({report.source_format} format)',
              logger='current')
    if report.new_keys:
        print_log('new in this backbone, kept at their initial values: '
                  f'{_compact(report.new_keys)}', logger='current')
    for reason, keys in report.dropped.items():
        print_log(f'not loaded, {reason}: {_compact(keys)}', logger='current')
    by_shapes: Dict[Tuple[Shape, Shape], List[str]] = {}
    for key, shapes in report.resized.items():
        by_shapes.setdefault(shapes, []).append(key)
    for (old, new), keys in by_shapes.items():
        how = 'linear' if keys[0].endswith(('rel_pos_h', 'rel_pos_w')) else 'bicubic'
        print_log(f'resized {_compact(keys)} {old} -> {new} ({how})', logger='current')
