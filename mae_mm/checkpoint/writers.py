"""Writing a :class:`ConvertedCheckpoint` as mae_mm, official or backbone-only checkpoints.

=========  ===================================================================================
writer     what it writes
=========  ===================================================================================
mae_mm     mmengine ``{'state_dict', 'meta'}``: ``backbone.*`` (encoder), ``neck.*`` (decoder),
           a classifier head as mmpretrain's ``head.fc.*`` (+ ``neck.bn.*`` of a linear probe)
official   facebookresearch/mae's ``{'model': ...}``: encoder, decoder and head, official names
backbone   the encoder alone, a bare state dict in official names
=========  ===================================================================================

No writer writes :attr:`ConvertedCheckpoint.other`.
"""
import math
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import torch

from mae_mm.models.layers.pos_embed import resize_pos_embed
from .formats import ConvertedCheckpoint, head_to_mmpretrain, read_checkpoint


def num_extra_tokens(pos_embed: torch.Tensor) -> int:
    """Rows of a (1, extra + s * s, D) position embedding that precede its square grid."""
    n = pos_embed.shape[1]
    for extra in (0, 1):
        if math.isqrt(n - extra)**2 == n - extra:
            return extra
    raise ValueError(f'position embedding of shape {tuple(pos_embed.shape)} is neither a square '
                     f'grid nor a class token plus one')


def resize_to_img_size(ckpt: ConvertedCheckpoint, img_size: int) -> ConvertedCheckpoint:
    """The checkpoint with ``pos_embed`` (and ``decoder_pos_embed``) resized bicubically to the
    patch grid of ``img_size`` square images; the class-token row is kept."""
    patch = ckpt.encoder['patch_embed.proj.weight'].shape[-1]
    if img_size % patch:
        raise ValueError(f'img_size {img_size} is not a multiple of the checkpoint\'s patch size '
                         f'{patch}; use e.g. {img_size // patch * patch}')
    grid = (img_size // patch, img_size // patch)

    def resized(parts: Dict[str, torch.Tensor], key: str) -> Dict[str, torch.Tensor]:
        if key not in parts:
            return parts
        return {**parts, key: resize_pos_embed(parts[key], grid, num_extra_tokens(parts[key]))}

    return replace(ckpt, encoder=resized(ckpt.encoder, 'pos_embed'),
                   decoder=resized(ckpt.decoder, 'decoder_pos_embed'))


def to_mae_mm(ckpt: ConvertedCheckpoint) -> dict:
    """An mmengine checkpoint of mae_mm's ``MAE`` or classifier (mmpretrain ``ImageClassifier``):
    ``backbone.*``, + ``neck.*`` if a decoder, + ``head.fc.*`` (and ``neck.bn.*``) if a head."""
    state_dict = {'backbone.' + k: v for k, v in ckpt.encoder.items()}
    state_dict.update({'neck.' + k: v for k, v in ckpt.decoder.items()})
    state_dict.update(head_to_mmpretrain(ckpt.head))
    return {'state_dict': state_dict, 'meta': {**ckpt.meta, 'converted_from': ckpt.format}}


def to_official(ckpt: ConvertedCheckpoint) -> dict:
    """facebookresearch/mae's layout: ``{'model': encoder + decoder + head}``, official names."""
    return {'model': {**ckpt.encoder, **ckpt.decoder, **ckpt.head}}


def to_backbone(ckpt: ConvertedCheckpoint) -> dict:
    """The encoder alone as a bare state dict (official names, no prefix) for downstream use."""
    return dict(ckpt.encoder)


WRITERS: Dict[str, Callable[[ConvertedCheckpoint], dict]] = {
    'mae_mm': to_mae_mm, 'official': to_official, 'backbone': to_backbone}


def convert_checkpoint(src: Union[str, Path, dict], dst: Union[str, Path], to: str,
                       img_size: Optional[int] = None) -> ConvertedCheckpoint:
    """Read ``src`` in any supported format and save it to ``dst`` in format ``to``.

    Args:
        src (str | Path | dict): The source checkpoint (see :func:`read_checkpoint`).
        dst (str | Path): The file to write.
        to (str): 'mae_mm', 'official' or 'backbone'.
        img_size (int, optional): Resize the position embeddings to this image size.

    Returns:
        ConvertedCheckpoint: What was read (after resizing), for reporting.
    """
    if to not in WRITERS:
        raise ValueError(f'unknown target format {to!r}; choose one of {sorted(WRITERS)}')
    ckpt = read_checkpoint(src)
    if img_size is not None:
        ckpt = resize_to_img_size(ckpt, img_size)
    torch.save(WRITERS[to](ckpt), str(dst))
    return ckpt
