"""Writers and the converter CLI: round trips are exact, exports load where they are meant to."""
import os.path as osp
import subprocess

import pytest
import torch
from ckpt_helpers import TINY, mae, mae_mm_file, tiny_classifier, tiny_mae  # noqa: F401
from conftest import run_tool

from mae_mm.checkpoint import (convert_checkpoint, load_backbone_checkpoint, load_file,
                               read_checkpoint)
from mae_mm.models import MAEViT


def fixed_mask(batch: int = 2, patches: int = 16) -> torch.Tensor:
    """12 of 16 patches masked, a different set per sample."""
    mask = torch.ones(batch, patches)
    for b in range(batch):
        mask[b, torch.randperm(patches, generator=torch.Generator().manual_seed(b))[:4]] = 0
    return mask


def test_mae_mm_to_official_and_back_is_bit_identical(mae, mae_mm_file, tmp_path):
    convert_checkpoint(mae_mm_file, tmp_path / 'official.pth', 'official')
    assert read_checkpoint(str(tmp_path / 'official.pth')).format == 'official'
    assert set(load_file(str(tmp_path / 'official.pth'))) == {'model'}
    convert_checkpoint(tmp_path / 'official.pth', tmp_path / 'back.pth', 'mae_mm')
    back = load_file(str(tmp_path / 'back.pth'))
    assert back['meta']['converted_from'] == 'official'
    model = tiny_mae()
    model.load_state_dict(back['state_dict'], strict=True)
    x, mask = torch.randn(2, 3, 32, 32), fixed_mask()
    latent, _, ids = mae.backbone(x, mask)
    latent2, _, ids2 = model.backbone(x, mask)
    assert torch.equal(mae.neck(latent, ids), model.neck(latent2, ids2))
    assert torch.equal(mae.backbone(x)[0], model.backbone(x)[0])


# official names of a classifier's head: fine-tuned Linear; linear probe BatchNorm1d, Linear
OFFICIAL_HEAD = {False: ['head.bias', 'head.weight'],
                 True: ['head.0.num_batches_tracked', 'head.0.running_mean', 'head.0.running_var',
                        'head.1.bias', 'head.1.weight']}


@pytest.fixture(params=[False, True], ids=['finetuned', 'linprobe'])
def classifier_file(request, tmp_path) -> tuple:
    """(a tiny classifier saved as tools/train.py saves it, its state dict, linear probe?)."""
    model = tiny_classifier(probe=request.param)
    path = str(tmp_path / 'classifier.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return path, model.state_dict(), request.param


def test_classifier_to_official_and_back_keeps_every_tensor(classifier_file, tmp_path):
    src, state_dict, probe = classifier_file
    convert_checkpoint(src, tmp_path / 'official.pth', 'official')
    official = load_file(str(tmp_path / 'official.pth'))['model']
    assert sorted(k for k in official if k.startswith('head.')) == OFFICIAL_HEAD[probe]
    convert_checkpoint(tmp_path / 'official.pth', tmp_path / 'back.pth', 'mae_mm')
    back = load_file(str(tmp_path / 'back.pth'))['state_dict']
    assert sorted(back) == sorted(state_dict)
    for key, value in state_dict.items():
        assert back[key].dtype == value.dtype and torch.equal(back[key], value), key
    tiny_classifier(probe).load_state_dict(back, strict=True)


def test_backbone_export_at_another_size_loads_into_a_detection_vit(mae, mae_mm_file, tmp_path):
    convert_checkpoint(mae_mm_file, tmp_path / 'vit.pth', 'backbone', img_size=64)
    exported = load_file(str(tmp_path / 'vit.pth'))
    assert set(exported) == set(mae.backbone.state_dict())  # official names, no prefix, no decoder
    assert exported['pos_embed'].shape == (1, 1 + 8 * 8, 32)
    vit = MAEViT(arch=TINY, img_size=64, out_type='featmap', use_rel_pos=True, window_size=4,
                 global_attn_indexes=(1, ), out_indices=(0, 1), with_cls_token=False)
    report = load_backbone_checkpoint(vit, str(tmp_path / 'vit.pth'))
    assert report.resized == {}
    assert report.dropped == {'class token, unused by this backbone (with_cls_token=False)':
                              ['cls_token']}
    assert report.new_keys == [f'blocks.{i}.attn.rel_pos_{a}' for i in range(2) for a in 'hw']
    assert torch.equal(vit.pos_embed, exported['pos_embed'])


def run_convert(*args: str) -> subprocess.CompletedProcess:
    return run_tool('model_converters/convert.py', *args, timeout=300, check=False)


@pytest.mark.parametrize('to, detected, keys', [('mae_mm', 'mae_mm', 'state_dict'),
                                                ('official', 'official', 'model'),
                                                ('backbone', 'timm', 'cls_token')])
def test_cli_writes_each_format(mae, mae_mm_file, tmp_path, to, detected, keys):
    dst = str(tmp_path / f'{to}.pth')
    proc = run_convert(mae_mm_file, dst, '--to', to, '--img-size', '48')
    assert proc.returncode == 0, proc.stderr
    assert 'mae_mm format' in proc.stdout and f'wrote {dst} ({to} format' in proc.stdout
    assert keys in load_file(dst)
    ckpt = read_checkpoint(dst)
    assert ckpt.format == detected
    assert ckpt.encoder['pos_embed'].shape == (1, 1 + 6 * 6, 32)
    assert torch.equal(ckpt.encoder['blocks.1.attn.qkv.weight'],
                       mae.backbone.state_dict()['blocks.1.attn.qkv.weight'])
    assert bool(ckpt.decoder) == (to != 'backbone')


def test_cli_bad_size_fails_with_a_message(mae_mm_file, tmp_path):
    proc = run_convert(mae_mm_file, str(tmp_path / 'x.pth'), '--to', 'official', '--img-size', '50')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert 'img_size 50 is not a multiple of the checkpoint\'s patch size 8' in proc.stderr
    assert not osp.exists(tmp_path / 'x.pth')


@pytest.mark.parametrize('classifier_file', [True], ids=['linprobe'], indirect=True)
@pytest.mark.parametrize('to', ['mae_mm', 'official', 'backbone'])
def test_cli_writes_a_classifiers_head_except_to_backbone(classifier_file, tmp_path, to):
    src, state_dict, probe = classifier_file
    dst = str(tmp_path / f'{to}.pth')
    proc = run_convert(src, dst, '--to', to)
    assert proc.returncode == 0, proc.stderr
    head = OFFICIAL_HEAD[probe]
    assert f'decoder 0 tensors, head {len(head)} tensors, other 0' in proc.stdout
    written = read_checkpoint(dst)
    if to == 'backbone':
        assert f'left out (not part of the backbone format): {", ".join(head)}' in proc.stdout
        assert written.head == {}
    else:
        assert 'left out' not in proc.stdout
        assert f'({to} format, {len(state_dict)} tensors)' in proc.stdout
        assert sorted(written.head) == head
