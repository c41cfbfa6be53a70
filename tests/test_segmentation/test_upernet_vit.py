"""UperNet on MAEViT, built from the real configs: pyramid shapes, gradients, inference modes,
and strict transfer of a pretraining checkpoint."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings

from conftest import PRETRAIN_DEMO, REPO, run_with_block_outputs
from mae_mm.checkpoint import load_backbone_checkpoint
from mae_mm.models import MAEViT
from mae_mm.models.layers import RelativePositionBias
from mae_mm.registry import build_model

TINY = osp.join(REPO, 'configs', 'demo', 'upernet_vit-tiny_ade20k_demo.py')
VIT_B = osp.join(REPO, 'configs', 'upernet_vit-b_ade20k.py')
# what a segmentation backbone adds to a pretrained MAE encoder
ADDED = re.compile(r'blocks\.\d+\.(attn\.rel_pos_bias\.relative_position_bias_table|ls[12]\.gamma)')


def build(path: str, **cfg_options):
    """The model of a config, built by the config's host registry (mmseg / mmpretrain)."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(cfg_options)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    from mmengine.registry import MODELS
    return MODELS.build(cfg.model)


def seg_samples(batch: int, size=(64, 64)):
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=size, pad_shape=size, ori_shape=size))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, *size)))
        samples.append(s)
    return samples


@pytest.fixture(scope='module')
def tiny_segmentor():
    torch.manual_seed(0)
    return build(TINY, **{'model.backbone.init_cfg': None})


@pytest.fixture
def pretrain_file(tmp_path) -> str:
    """A checkpoint of the demo MAE (real model, random weights), saved as mmengine saves it."""
    mae = build(PRETRAIN_DEMO)
    with torch.no_grad():  # no tensor at its initial value: one left unloaded shows
        for p in mae.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    path = str(tmp_path / 'mae_demo.pth')
    torch.save({'state_dict': mae.state_dict(), 'meta': {}}, path)
    return path


def test_backbone_maps_and_pyramid(tiny_segmentor):
    backbone, neck = tiny_segmentor.backbone, tiny_segmentor.neck
    x = torch.randn(2, 3, 64, 64)
    maps, tokens = run_with_block_outputs(backbone, (1, 2, 3, 5), x)
    assert [tuple(m.shape) for m in maps] == [(2, 192, 8, 8)] * 4
    # map k is block out_indices[k]'s patch tokens, class token dropped
    for fmap, block_out in zip(maps, tokens):
        torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), block_out[:, 1:])
    pyramid = neck(maps)  # rescaled by 4, 2, 1, 0.5: strides 2, 4, 8, 16 for patch 8
    assert [tuple(p.shape[-2:]) for p in pyramid] == [(32, 32), (16, 16), (8, 8), (4, 4)]


def test_every_parameter_learns(tiny_segmentor):
    tiny_segmentor.train()
    losses = tiny_segmentor.loss(torch.randn(2, 3, 64, 64), seg_samples(2))
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    frozen = [n for n, p in tiny_segmentor.named_parameters()
              if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not frozen
    names = [n for n, p in tiny_segmentor.backbone.named_parameters() if p.requires_grad]
    assert 'pos_embed' in names and any(ADDED.search(n) for n in names)
    tiny_segmentor.zero_grad()


@pytest.mark.parametrize('size', [(64, 64), (96, 128)])
def test_whole_and_slide_inference(tiny_segmentor, size):
    """Both test modes label every pixel; on one crop-sized image they agree exactly."""
    tiny_segmentor.eval()
    with torch.no_grad():
        for blk in tiny_segmentor.backbone.blocks:  # a learned bias, as after fine-tuning
            blk.attn.rel_pos_bias.relative_position_bias_table.normal_(std=0.5)
    x = torch.randn(1, 3, *size)
    logits = {}
    for mode in ('whole', 'slide'):
        tiny_segmentor.test_cfg.mode = mode
        with torch.no_grad():
            (result,) = tiny_segmentor.predict(x, seg_samples(1, size))
        assert result.pred_sem_seg.data.shape == (1, *size)
        logits[mode] = result.seg_logits.data
    if size == (64, 64):
        assert torch.allclose(logits['whole'], logits['slide'], atol=1e-5)


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_test_step_labels_images_off_the_patch_grid(tiny_segmentor, mode):
    """A test image whose sides are no multiple of the patch (ADE20K's resize to (2048, 512)
    gives e.g. 2048 x 341 for a wide panorama; a slide window is then 341 px tall) is padded
    by the config's data preprocessor and labelled at its own size."""
    from mmseg.structures import SegDataSample
    tiny_segmentor.eval()
    tiny_segmentor.test_cfg.mode = mode
    size = (60, 100)  # the demo's patch is 8
    sample = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size))
    batch = dict(inputs=[torch.randint(0, 256, (3, *size), dtype=torch.uint8)],
                 data_samples=[sample])
    with torch.no_grad():
        (result,) = tiny_segmentor.test_step(batch)
    assert result.pred_sem_seg.data.shape == (1, *size)


def test_rel_pos_bias_on_another_grid_keeps_learned_offsets():
    rpb = RelativePositionBias((4, 4), num_heads=2)
    with torch.no_grad():
        rpb.relative_position_bias_table.normal_()
    native, big = rpb()[0], rpb((6, 7))[0]  # (heads, 1 + 16, 1 + 16), (heads, 1 + 42, 1 + 42)

    def pair(bias, width, key):  # bias of query (0, 0) -> key (row, col) on a grid this wide
        return bias[:, 1, 1 + key[0] * width + key[1]]

    # (0, 0) -> (3, 2): an offset inside the trained span, same bias on both grids
    assert torch.equal(pair(big, 7, (3, 2)), pair(native, 4, (3, 2)))
    # (0, 0) -> (5, 6): beyond the span, clamped to the span's edge (3, 3)
    assert torch.equal(pair(big, 7, (5, 6)), pair(native, 4, (3, 3)))
    assert torch.equal(big[:, 0, 0], native[:, 0, 0])  # class token entries


def test_pretrain_file_loads_strictly_reporting_only_added_keys(pretrain_file):
    check_transfer(build(TINY, **{'model.backbone.init_cfg': None}).backbone, pretrain_file)


@pytest.mark.slow  # the fixture is a real pretraining run through tools/train.py
def test_tiny_pretrain_ckpt_loads_strictly(tiny_pretrain_ckpt):
    check_transfer(build(TINY, **{'model.backbone.init_cfg': None}).backbone, tiny_pretrain_ckpt)


def check_transfer(backbone: MAEViT, path: str) -> None:
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    report = load_backbone_checkpoint(backbone, path)
    own = backbone.state_dict()
    assert report.new_keys and all(ADDED.fullmatch(k) for k in report.new_keys)
    assert set(report.new_keys) | set(report.loaded) == set(own)
    assert set(report.dropped) == {'MAE pretraining decoder', 'final norm unused by this backbone '
                                   '(it pools through fc_norm or has no final norm)'}
    for key in report.loaded:
        assert torch.equal(own[key], state['backbone.' + key]), key
    for key in report.new_keys:  # zero bias tables, layer scale at its initial value
        assert torch.all(own[key] == (0.0 if 'bias_table' in key else 1.0)), key


def test_vit_b_config_takes_a_224_pretrain_checkpoint():
    """The paper's setting: a ViT-B/16 pretrained at 224 px into the 512 px UperNet backbone."""
    cfg = Config.fromfile(VIT_B).model.backbone
    cfg.init_cfg = None
    backbone = build_model(cfg)
    pretrained = MAEViT(arch='b', img_size=224)
    ckpt = {'state_dict': {'backbone.' + k: v for k, v in pretrained.state_dict().items()}}
    report = load_backbone_checkpoint(backbone, ckpt)
    assert report.resized == {'pos_embed': ((1, 197, 768), (1, 1025, 768))}
    assert len(report.new_keys) == 12 * 3 and all(ADDED.fullmatch(k) for k in report.new_keys)
    assert torch.equal(backbone.blocks[11].mlp.fc2.weight, pretrained.blocks[11].mlp.fc2.weight)
