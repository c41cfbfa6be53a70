"""Checkpoints of MAE-family ViTs: reading any format, writing ours, loading strictly.

``mae_mm.models`` imports this package lazily (inside ``MAEViT.init_weights``), so importing
it here at module level creates no cycle.
"""
from .formats import FORMATS, ConvertedCheckpoint, detect_format, read_checkpoint
from .io import load_file, mmengine_checkpoint_globals
from .loading import CheckpointKeyError, LoadReport, load_backbone_checkpoint
from .writers import (WRITERS, convert_checkpoint, resize_to_img_size, to_backbone, to_mae_mm,
                      to_official)

__all__ = [
    'FORMATS', 'WRITERS', 'CheckpointKeyError', 'ConvertedCheckpoint', 'LoadReport',
    'convert_checkpoint', 'detect_format', 'load_backbone_checkpoint', 'load_file',
    'mmengine_checkpoint_globals',
    'read_checkpoint', 'resize_to_img_size', 'to_backbone', 'to_mae_mm', 'to_official'
]
