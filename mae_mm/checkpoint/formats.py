"""The checkpoint formats of MAE-family ViTs, detected automatically and mapped to official names.

Every reader returns a :class:`ConvertedCheckpoint` in the official MAE / timm parameter
names, which are mae_mm's own (``MAEViT`` and ``MAEDecoder`` without prefixes):

============  ==================================================================================
format        how it is recognised
============  ==================================================================================
mae_mm        mmengine ``{'state_dict': {'backbone.blocks.*', 'neck.decoder_*', ...}, 'meta'}``
official      facebookresearch/mae ``{'model': {'blocks.*', ['mask_token', 'decoder_*']}}``
timm          a bare state dict in the same names (timm; mae_mm's backbone-only export)
mmpretrain    ``backbone.layers.N.ln1`` / ``ffn.layers.0.0`` ..., ``neck.decoder_blocks.N.*``
hf            Hugging Face ``ViTMAE``: ``vit.embeddings.*``, ``vit.encoder.layer.N.*``,
              ``decoder.*``
============  ==================================================================================

A classifier's head is read into official names as well: a fine-tuned model's ``Linear`` is
``head.weight`` / ``head.bias`` (mae_mm and mmpretrain: ``LinearClsHead``'s ``head.fc.*``; HF
``ViTForImageClassification``: ``classifier.*``); a linear probe's ``BatchNorm1d`` and ``Linear``
are ``head.0.*`` and ``head.1.*`` (mae_mm and mmpretrain: ``ClsBatchNormNeck``'s ``neck.bn.*``
and ``head.fc.*``).
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import torch

from .io import load_file

FORMATS = ('mae_mm', 'official', 'timm', 'mmpretrain', 'hf')
StateDict = Dict[str, torch.Tensor]
# (source name or prefix, official name or prefix); a prefix ends with '.'
RenameTable = Sequence[Tuple[str, str]]


@dataclass
class ConvertedCheckpoint:
    """A checkpoint in official MAE names, split by the role of each tensor.

    Attributes:
        format (str): The source format, one of :data:`FORMATS`.
        encoder (dict): The ViT (``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
            ``blocks.N.*``, ``norm.*``, ``fc_norm.*``, ...).
        decoder (dict): MAE's pretraining decoder (``mask_token``, ``decoder_*``).
        head (dict): A classifier's head in official names: ``head.weight`` / ``head.bias``
            (fine-tuned), or ``head.0.*`` (BatchNorm1d) and ``head.1.*`` (Linear) of a linear
            probe; empty without one.
        other (dict): Tensors of the source model's other parts (detector necks and heads,
            heads of other kinds, ...) under their source names; no conversion writes them.
        meta (dict): The source's ``meta`` entry, if it had one.
    """
    format: str
    encoder: StateDict
    decoder: StateDict = field(default_factory=dict)
    head: StateDict = field(default_factory=dict)
    other: StateDict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def is_decoder_key(name: str) -> bool:
    """Whether an official name belongs to MAE's pretraining decoder."""
    return name == 'mask_token' or name.startswith('decoder_')


def _rename(name: str, table: RenameTable) -> Optional[str]:
    """The official name of ``name`` by the first matching entry of ``table``, else None."""
    for src, dst in table:
        if name == src or (src.endswith('.') and name.startswith(src)):
            return dst + name[len(src):]
    return None


def _rename_all(state_dict: StateDict, top: RenameTable, block: RenameTable, blocks_re: str,
                blocks_dst: str, what: str) -> StateDict:
    """Rename every key by ``top`` or, for ``<blocks_re>.N.<rest>`` keys, by ``block``.

    Raises a ValueError naming the keys that have no official equivalent.
    """
    out, unmapped = {}, []
    for name, value in state_dict.items():
        match = re.fullmatch(rf'{blocks_re}\.(\d+)\.(.+)', name)
        if match:
            rest = _rename(match.group(2), block)
            new = None if rest is None else f'{blocks_dst}.{match.group(1)}.{rest}'
        else:
            new = _rename(name, top)
        if new is None:
            unmapped.append(name)
        else:
            out[new] = value
    if unmapped:
        raise ValueError(f'{what} keys without an equivalent in mae_mm\'s ViT: {sorted(unmapped)}; '
                         f'this model has parts (e.g. a pre-norm, qk-norm) MAEViT does not have')
    return out


def _split_prefix(state_dict: StateDict, prefix: str) -> Tuple[StateDict, StateDict]:
    """(keys under ``prefix``, with it stripped), (all the other keys)."""
    inside = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return inside, {k: v for k, v in state_dict.items() if not k.startswith(prefix)}


# ---- classifier heads --------------------------------------------------------------------

_BN_KEYS = {'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'}
# official head names -> mmpretrain ImageClassifier's (LinearClsHead, ClsBatchNormNeck)
_HEAD_TO_MMPRETRAIN = (('head.0.', 'neck.bn.'), ('head.1.', 'head.fc.'), ('head.', 'head.fc.'))


def _is_head(names: Iterable[str]) -> bool:
    """Whether official names are a classifier head: a Linear (``head.weight/bias``), or a
    linear probe's BatchNorm1d (``head.0.*``, running statistics at least) then Linear
    (``head.1.weight/bias``)."""
    names = set(names)
    if names == {'head.weight', 'head.bias'}:
        return True
    bn = {n[len('head.0.'):] for n in names if n.startswith('head.0.')}
    fc = {n[len('head.1.'):] for n in names if n.startswith('head.1.')}
    return (fc == {'weight', 'bias'} and {'running_mean', 'running_var'} <= bn <= _BN_KEYS
            and len(bn) + len(fc) == len(names))


def _split_head(state_dict: StateDict) -> Tuple[StateDict, StateDict]:
    """(the classifier head, the rest) of official names; no head if the ``head.*`` keys are
    not one of :func:`_is_head`'s layouts (they stay with the rest)."""
    head = {k: v for k, v in state_dict.items() if k.startswith('head.')}
    if not _is_head(head):
        return {}, state_dict
    return head, {k: v for k, v in state_dict.items() if k not in head}


def head_to_mmpretrain(head: StateDict) -> StateDict:
    """Official head names -> an mmpretrain ``ImageClassifier``'s: the Linear
    (``head.*`` / ``head.1.*``) -> ``head.fc.*``, a probe's BatchNorm (``head.0.*``) ->
    ``neck.bn.*``.

    Args:
        head (dict): :attr:`ConvertedCheckpoint.head`.
    """
    return {_rename(k, _HEAD_TO_MMPRETRAIN): v for k, v in head.items()}


def _split_mmpretrain_head(state_dict: StateDict) -> Tuple[StateDict, StateDict]:
    """(the classifier head in official names, the rest) of an ``ImageClassifier``'s keys:
    ``head.fc.*`` and, with a BatchNorm neck, ``neck.bn.*``; no head if those keys are not
    one (they stay with the rest)."""
    parts = {k: v for k, v in state_dict.items() if k.startswith(('head.', 'neck.bn.'))}
    probe = any(k.startswith('neck.bn.') for k in parts)
    table = (('neck.bn.', 'head.0.'), ('head.fc.', 'head.1.' if probe else 'head.'))
    head = {_rename(k, table): v for k, v in parts.items()}
    if None in head or not _is_head(head):
        return {}, state_dict
    return head, {k: v for k, v in state_dict.items() if k not in parts}


# ---- official / timm / mae_mm: the names are already ours ----------------------------------

def _read_official(state_dict: StateDict, fmt: str) -> ConvertedCheckpoint:
    head, rest = _split_head(state_dict)
    other = {k: v for k, v in rest.items() if k.startswith('head.')}  # a head of another kind
    decoder = {k: v for k, v in rest.items() if is_decoder_key(k)}
    encoder = {k: v for k, v in rest.items() if k not in other and not is_decoder_key(k)}
    return ConvertedCheckpoint(fmt, encoder, decoder, head, other)


def _read_mae_mm(state_dict: StateDict) -> ConvertedCheckpoint:
    head, state_dict = _split_mmpretrain_head(state_dict)
    encoder, rest = _split_prefix(state_dict, 'backbone.')
    neck, other = _split_prefix(rest, 'neck.')
    decoder = {k: v for k, v in neck.items() if is_decoder_key(k)}
    other.update({'neck.' + k: v for k, v in neck.items() if not is_decoder_key(k)})  # e.g. FPN
    return ConvertedCheckpoint('mae_mm', encoder, decoder, head, other)


# ---- mmpretrain: MAEViT (VisionTransformer) and MAEPretrainDecoder -------------------------

_MMPRETRAIN_BLOCK = (('ln1.', 'norm1.'), ('ln2.', 'norm2.'), ('attn.qkv.', 'attn.qkv.'),
                     ('attn.proj.', 'attn.proj.'), ('attn.gamma1.weight', 'ls1.gamma'),
                     ('ffn.layers.0.0.', 'mlp.fc1.'), ('ffn.layers.1.', 'mlp.fc2.'),
                     ('ffn.gamma2.weight', 'ls2.gamma'))
_MMPRETRAIN_ENCODER = (('cls_token', 'cls_token'), ('pos_embed', 'pos_embed'),
                       ('patch_embed.projection.', 'patch_embed.proj.'),
                       ('ln1.', 'norm.'),  # final_norm
                       ('ln2.', 'fc_norm.'))  # out_type='avg_featmap'
_MMPRETRAIN_DECODER = (('mask_token', 'mask_token'), ('decoder_pos_embed', 'decoder_pos_embed'),
                       ('decoder_embed.', 'decoder_embed.'), ('ln1.', 'decoder_norm.'),
                       ('decoder_pred.', 'decoder_pred.'))


def _read_mmpretrain(state_dict: StateDict) -> ConvertedCheckpoint:
    prefixed = any(k.startswith('backbone.') for k in state_dict)
    backbone, rest = _split_prefix(state_dict, 'backbone.') if prefixed else (state_dict, {})
    encoder = _rename_all(backbone, _MMPRETRAIN_ENCODER, _MMPRETRAIN_BLOCK, 'layers', 'blocks',
                          'mmpretrain backbone')
    head, rest = _split_mmpretrain_head(rest)
    neck, other = _split_prefix(rest, 'neck.')
    decoder = {}
    if 'mask_token' in neck:  # MAEPretrainDecoder; any other neck stays with 'other'
        decoder = _rename_all(neck, _MMPRETRAIN_DECODER, _MMPRETRAIN_BLOCK, 'decoder_blocks',
                              'decoder_blocks', 'mmpretrain MAEPretrainDecoder')
    else:
        other.update({'neck.' + k: v for k, v in neck.items()})
    return ConvertedCheckpoint('mmpretrain', encoder, decoder, head, other)


# ---- Hugging Face transformers: ViTMAEForPreTraining, ViTMAEModel, ViTForImageClassification

_HF_LAYER = (('layernorm_before.', 'norm1.'), ('layernorm_after.', 'norm2.'),
             ('attention.attention.query.', 'attn.q.'), ('attention.attention.key.', 'attn.k.'),
             ('attention.attention.value.', 'attn.v.'), ('attention.output.dense.', 'attn.proj.'),
             ('intermediate.dense.', 'mlp.fc1.'), ('output.dense.', 'mlp.fc2.'))
_HF_ENCODER = (('embeddings.cls_token', 'cls_token'),
               ('embeddings.position_embeddings', 'pos_embed'),
               ('embeddings.patch_embeddings.projection.', 'patch_embed.proj.'),
               ('layernorm.', 'norm.'))
_HF_DECODER = (('mask_token', 'mask_token'), ('decoder_pos_embed', 'decoder_pos_embed'),
               ('decoder_embed.', 'decoder_embed.'), ('decoder_norm.', 'decoder_norm.'),
               ('decoder_pred.', 'decoder_pred.'))


def _merge_qkv(state_dict: StateDict) -> StateDict:
    """HF's separate ``attn.q/k/v`` projections -> one ``attn.qkv`` (rows q, then k, then v)."""
    out = {}
    for name, value in state_dict.items():
        match = re.fullmatch(r'(.+\.attn)\.([qkv])\.(weight|bias)', name)
        if not match:
            out[name] = value
        elif match.group(2) == 'q':
            base, kind = match.group(1), match.group(3)
            out[f'{base}.qkv.{kind}'] = torch.cat(
                [state_dict[f'{base}.{p}.{kind}'] for p in 'qkv'], dim=0)
    return out


def _read_hf(state_dict: StateDict) -> ConvertedCheckpoint:
    state_dict = {k[len('vit.'):] if k.startswith('vit.') else k: v for k, v in state_dict.items()}
    decoder, rest = _split_prefix(state_dict, 'decoder.')
    roots = ('embeddings.', 'encoder.', 'layernorm.')
    vit = {k: v for k, v in rest.items() if k.startswith(roots)}
    other = {k: v for k, v in rest.items() if not k.startswith(roots)}  # pooler, classifier
    head = {'head.' + k[len('classifier.'):]: v for k, v in other.items()
            if k.startswith('classifier.')}
    if _is_head(head):  # the Linear on the class token after the final norm
        other = {k: v for k, v in other.items() if not k.startswith('classifier.')}
    else:
        head = {}
    encoder = _rename_all(vit, _HF_ENCODER, _HF_LAYER, r'encoder\.layer', 'blocks', 'HF ViTMAE')
    decoder = _rename_all(decoder, _HF_DECODER, _HF_LAYER, 'decoder_layers', 'decoder_blocks',
                          'HF ViTMAE decoder')
    return ConvertedCheckpoint('hf', _merge_qkv(encoder), _merge_qkv(decoder), head, other)


# ---- detection ----------------------------------------------------------------------------

def _unwrap(obj) -> Tuple[StateDict, str, dict]:
    """A loaded file -> (its state dict, the container key holding it or '', its meta)."""
    if not isinstance(obj, dict):
        raise TypeError(f'a checkpoint must be a dict, got {type(obj).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(obj.get(key), dict):
            meta = obj.get('meta')
            return obj[key], key, dict(meta) if isinstance(meta, dict) else {}
    return obj, '', {}


def detect_format(state_dict: StateDict, container: str = '') -> str:
    """The format of a state dict (see the module's table), from its parameter names.

    Args:
        state_dict (dict): The parameters.
        container (str): The key of the file's dict that held them ('model' marks an
            official facebookresearch/mae file). Defaults to ''.
    """
    def has(*prefixes: str) -> bool:
        return any(k.startswith(prefixes) for k in state_dict)

    if has('backbone.blocks.', 'backbone.patch_embed.proj.'):
        return 'mae_mm'
    if has('backbone.layers.', 'backbone.patch_embed.projection.', 'layers.0.ln1.',
           'patch_embed.projection.'):
        return 'mmpretrain'
    if has('vit.embeddings.', 'embeddings.patch_embeddings.'):
        return 'hf'
    if has('blocks.', 'patch_embed.proj.'):
        return 'official' if container == 'model' else 'timm'
    sample = sorted(state_dict)[:8]
    raise ValueError(f'cannot tell the checkpoint format from its keys (first ones: {sample}); '
                     f'mae_mm reads {FORMATS} ViT checkpoints: pass one of those')


def read_checkpoint(checkpoint: Union[str, Path, dict]) -> ConvertedCheckpoint:
    """Read any supported checkpoint into official names.

    Args:
        checkpoint (str | Path | dict): A file, folder or URL (see :func:`load_file`), or an
            already loaded checkpoint / state dict.

    Returns:
        ConvertedCheckpoint: The tensors by role, in official names.
    """
    obj = checkpoint if isinstance(checkpoint, dict) else load_file(checkpoint)
    state_dict, container, meta = _unwrap(obj)
    fmt = detect_format(state_dict, container)
    if fmt == 'mae_mm':
        converted = _read_mae_mm(state_dict)
    elif fmt == 'mmpretrain':
        converted = _read_mmpretrain(state_dict)
    elif fmt == 'hf':
        converted = _read_hf(state_dict)
    else:
        converted = _read_official(state_dict, fmt)
    converted.meta = meta
    return converted
