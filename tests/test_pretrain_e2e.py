"""End to end: tools/train.py pretrains the demo config on the built-in images."""
import os.path as osp

import pytest
import torch
from PIL import Image

from conftest import read_scalars

pytestmark = pytest.mark.slow


def test_pretraining_writes_checkpoint_and_loss_falls(tiny_pretrain_run, tiny_pretrain_ckpt):
    losses = [r['loss'] for r in read_scalars(tiny_pretrain_run) if 'loss' in r]
    assert len(losses) >= 40
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.8 * first, f'loss did not fall: first {first:.3f}, last {last:.3f}'

    ckpt = torch.load(tiny_pretrain_ckpt, map_location='cpu', weights_only=False)
    keys = ckpt['state_dict'].keys()
    assert any(k.startswith('backbone.blocks.5.') for k in keys)
    assert any(k.startswith('neck.decoder_blocks.') for k in keys)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())


def test_pretraining_writes_reconstruction_figure(tiny_pretrain_run):
    path = osp.join(tiny_pretrain_run, 'vis', 'epoch_8.png')
    img = Image.open(path)
    assert img.size == (4 * 64, 6 * 64)  # 4 panels of 64 px, 6 samples
