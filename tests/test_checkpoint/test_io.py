"""Reading files: weights_only always, yet mmengine / official training checkpoints open."""
import argparse
import os
import pickle

import numpy as np
import pytest
import torch
from ckpt_helpers import mae  # noqa: F401 (a fixture)
from mmengine.logging import HistoryBuffer
from safetensors.torch import save_file

from mae_mm.checkpoint import load_file, read_checkpoint


class RunsCode:
    """An object whose unpickling would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_a_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'ran'
    torch.save({'model': {}, 'payload': RunsCode(str(marker))}, tmp_path / 'bad.pth')
    with pytest.raises(pickle.UnpicklingError, match='weights_only=True.*re-save its weights'):
        load_file(str(tmp_path / 'bad.pth'))
    assert not marker.exists()


def test_training_checkpoints_with_history_buffers_and_args_open(mae, tmp_path):
    buffer = HistoryBuffer()
    for loss in (0.9, 0.7):
        buffer.update(loss)
    hub = {'log_scalars': {'train/loss': buffer}, 'runtime_info': {'eta': np.float64(1.5)}}
    torch.save({'meta': {'epoch': 2}, 'state_dict': mae.state_dict(), 'message_hub': hub},
               tmp_path / 'mmengine.pth')
    loaded = load_file(str(tmp_path / 'mmengine.pth'))
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer) and restored.mean() == pytest.approx(0.8)
    assert read_checkpoint(loaded).format == 'mae_mm'
    # facebookresearch/mae's main_pretrain.py saves its argparse arguments next to the model
    torch.save({'model': {}, 'epoch': 3, 'args': argparse.Namespace(mask_ratio=0.75)},
               tmp_path / 'official.pth')
    assert load_file(str(tmp_path / 'official.pth'))['args'].mask_ratio == 0.75


def test_safetensors_hf_folder_and_file_url(mae, tmp_path, monkeypatch):
    tensors = {k: v.contiguous() for k, v in mae.backbone.state_dict().items()}
    save_file(tensors, str(tmp_path / 'model.safetensors'))
    for path in (tmp_path / 'model.safetensors', tmp_path):  # a file, then its folder
        loaded = load_file(str(path))
        assert all(torch.equal(loaded[k], v) for k, v in tensors.items())
    torch.save(tensors, tmp_path / 'vit.pth')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    loaded = load_file(f'file://{tmp_path}/vit.pth')
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())
    assert os.path.isfile(tmp_path / 'hub' / 'hub' / 'checkpoints' / 'vit.pth')


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth does not exist'):
        load_file(str(tmp_path / 'nothing.pth'))
    with pytest.raises(FileNotFoundError, match='without \\*.safetensors'):
        load_file(str(tmp_path))


@pytest.mark.slow
def test_real_training_checkpoint_loads_into_a_downstream_vit(tiny_pretrain_ckpt):
    """The demo pretraining run's own checkpoint (message hub, optimizer state and all)."""
    from mae_mm.checkpoint import load_backbone_checkpoint
    from mae_mm.models import MAEViT
    vit = MAEViT(arch='demo', img_size=128, out_type='featmap', with_cls_token=False,
                 use_rel_pos=True, window_size=8, global_attn_indexes=(2, 5), out_indices=(5, ))
    report = load_backbone_checkpoint(vit, tiny_pretrain_ckpt)
    assert report.source_format == 'mae_mm' and report.loaded
    assert set(report.new_keys) == {f'blocks.{i}.attn.rel_pos_{a}' for i in range(6) for a in 'hw'}


def test_checkpoint_globals_nest(tmp_path):
    """Loading a pretrained backbone (an inner context) inside a resuming run (the outer one)
    must leave the run's allowlist in place: resume read MMEngine's records after it."""
    from mae_mm.checkpoint import mmengine_checkpoint_globals
    path = str(tmp_path / 'run.pth')
    torch.save({'message_hub': {'loss': HistoryBuffer([1.0, 2.0], [1, 1])}}, path)
    with mmengine_checkpoint_globals():
        with mmengine_checkpoint_globals():
            pass
        record = torch.load(path, weights_only=True)
    assert record['message_hub']['loss'].mean() == 1.5
