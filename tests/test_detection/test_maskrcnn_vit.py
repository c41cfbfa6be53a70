"""Mask R-CNN on MAEViT built from the real configs: both pyramids train a step on COCO-format
data, strict transfer of a pretraining checkpoint (224 -> 1024 position embedding), and
window attention as configured."""
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mae_mm.checkpoint import load_backbone_checkpoint
from mae_mm.models import MAEViT
from mae_mm.models.necks import SimpleFPN, ViTPyramid
from mae_mm.registry import build_model

from det_helpers import CONFIGS, DEMO, build_detector, coco_demo, load_config  # noqa: F401

PRETRAIN_DEMO = osp.join(CONFIGS, 'demo', 'mae_vit-tiny_pretrain_demo.py')
VIT_B = osp.join(CONFIGS, 'maskrcnn_vit-b_coco.py')
DEMO_FPN = osp.join(CONFIGS, 'demo', 'maskrcnn_vit-tiny_fpn_coco_demo.py')  # paper's pyramid
REL_POS = re.compile(r'blocks\.\d+\.attn\.rel_pos_[hw]')
SMALL_VIT = dict(embed_dims=64, num_layers=4, num_heads=2)


def save_pretrain(path: str, **backbone) -> str:
    """A real MAE of the demo pretraining config (randomised weights), saved as mmengine does."""
    cfg = Config.fromfile(PRETRAIN_DEMO).model
    cfg.backbone.update(backbone)
    torch.manual_seed(0)
    mae = build_model(cfg)
    with torch.no_grad():
        for p in mae.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    torch.save({'state_dict': mae.state_dict(), 'meta': {}}, path)
    return path


def one_batch(cfg: Config, model, n: int = 2, split: str = 'train'):
    """``n`` samples through mmdet's CocoDataset, the split's pipeline and the preprocessor."""
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    return model.data_preprocessor(pseudo_collate([dataset[i] for i in range(n)]),
                                   split == 'train')


@pytest.mark.parametrize('variant', ['vitdet', 'paper'])
def test_demo_detector_trains_a_step_and_predicts_masks(coco_demo, variant):
    cfg = load_config(DEMO_FPN if variant == 'paper' else DEMO, coco_demo,
                      **{'model.backbone.init_cfg': None})
    torch.manual_seed(0)
    model = build_detector(cfg)
    neck = model.neck[0] if variant == 'paper' else model.neck
    assert isinstance(neck, ViTPyramid if variant == 'paper' else SimpleFPN)
    data = one_batch(cfg, model)
    losses = model(**data, mode='loss')
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(losses)
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    no_grad = [n for n, p in model.backbone.named_parameters()  # rel-pos tables included
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not no_grad
    model.eval()
    with torch.no_grad():
        pred = model(**one_batch(cfg, model, 1, split='val'), mode='predict')[0]
    assert pred.pred_instances.masks.shape[1:] == (128, 128)  # full-size binary masks
    assert len(pred.pred_instances.bboxes) == len(pred.pred_instances.masks)


@pytest.mark.parametrize('variant', ['vitdet', 'paper'])
def test_roi_features_are_the_pyramids_features_under_each_box(coco_demo, variant):
    """mmcv's RoIAlign on the neck's outputs equals torchvision's: the pyramid hands it maps
    in the memory layout it assumes (a channels-last view once fed it wrong features)."""
    from torchvision.ops import roi_align
    cfg = load_config(DEMO_FPN if variant == 'paper' else DEMO, coco_demo,
                      **{'model.backbone.init_cfg': None})
    model = build_detector(cfg).eval()
    rois = torch.tensor([[0, 10.0, 20.0, 60.0, 70.0], [1, 40.0, 8.0, 120.0, 100.0]])
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(2, 3, 128, 128))
        got = model.roi_head.bbox_roi_extractor(feats[:4], rois)  # both boxes map to level 0
    expected = roi_align(feats[0], rois, (7, 7), spatial_scale=0.25, aligned=True)
    torch.testing.assert_close(got, expected)


def test_pretrain_checkpoint_loads_strictly_into_the_detector(coco_demo, tmp_path):
    ckpt = save_pretrain(str(tmp_path / 'mae.pth'))
    cfg = load_config(DEMO, coco_demo, **{'model.backbone.init_cfg.checkpoint': ckpt})
    model = build_detector(cfg)
    model.init_weights()
    source = torch.load(ckpt, weights_only=True)['state_dict']
    own = model.backbone.state_dict()
    # every pretrained block tensor arrived unchanged; the patch embedding too
    for key, value in own.items():
        if key.startswith(('blocks.', 'patch_embed.')) and not REL_POS.search(key):
            assert torch.equal(value, source['backbone.' + key]), key
    # relative positions are new and start at zero
    assert all(not v.any() for k, v in own.items() if REL_POS.search(k))
    # loading again directly reports the new keys by name: exactly the relative positions
    report = load_backbone_checkpoint(model.backbone, ckpt)
    assert report.new_keys == sorted(k for k in own if REL_POS.search(k))
    assert len(report.new_keys) == 2 * 6
    assert report.resized['pos_embed'] == ((1, 65, 192), (1, 257, 192))  # 8x8 -> 16x16 grid


def test_checkpoint_that_does_not_fit_fails_listing_the_keys(coco_demo, tmp_path):
    deeper = save_pretrain(str(tmp_path / 'deeper.pth'),
                           arch=dict(embed_dims=192, num_layers=8, num_heads=3, patch_size=8))
    cfg = load_config(DEMO, coco_demo, **{'model.backbone.init_cfg.checkpoint': deeper})
    model = build_detector(cfg)
    with pytest.raises(KeyError) as err:
        model.init_weights()
    message = str(err.value)
    assert 'unexpected in the checkpoint' in message
    assert 'blocks.6.attn.qkv.weight' in message and 'blocks.7.mlp.fc2.bias' in message
    assert 'num_layers=8' in message  # what the checkpoint implies, next to the fix

    # a renamed tensor is missing on one side and unexpected on the other: both are named
    good = save_pretrain(str(tmp_path / 'good.pth'))
    state = torch.load(good, weights_only=True)
    state['state_dict']['backbone.blocks.0.attn.qkv_w'] = state['state_dict'].pop(
        'backbone.blocks.0.attn.qkv.weight')
    torch.save(state, str(tmp_path / 'renamed.pth'))
    model = build_detector(load_config(
        DEMO, coco_demo, **{'model.backbone.init_cfg.checkpoint': str(tmp_path / 'renamed.pth')}))
    with pytest.raises(KeyError, match=r"missing in the checkpoint: \['blocks.0.attn.qkv.weight'\]"
                       r"(.|\n)*unexpected in the checkpoint: \['blocks.0.attn.qkv_w'\]"):
        model.init_weights()


def test_vit_b_config_resizes_pos_embed_224_to_1024_bicubically(tmp_path):
    """The full config's loading path, on a narrower ViT so that the test stays small."""
    pretrained = MAEViT(arch=SMALL_VIT, img_size=224, patch_size=16)
    with torch.no_grad():
        pretrained.pos_embed.normal_()  # something bicubic interpolation cannot get right by luck
    ckpt = str(tmp_path / 'official.pth')
    torch.save({'model': pretrained.state_dict()}, ckpt)  # facebookresearch/mae's layout
    cfg = load_config(VIT_B, **{'model.backbone.global_attn_indexes': (1, 3),
                                'model.backbone.init_cfg.checkpoint': ckpt,
                                'model.neck.in_channels': 64})
    cfg.model.backbone.arch = SMALL_VIT
    model = build_detector(cfg)
    assert model.backbone.patch_embed.grid_size == (64, 64)
    model.init_weights()
    grid = pretrained.pos_embed[:, 1:].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(64, 64), mode='bicubic', align_corners=False)
    loaded = model.backbone.pos_embed.detach()
    assert loaded.shape == (1, 1 + 64 * 64, 64)
    torch.testing.assert_close(loaded[:, 1:], expected.permute(0, 2, 3, 1).reshape(1, -1, 64))
    assert model.backbone.pos_embed.requires_grad  # fine-tuned, as in ViTDet


def test_vit_b_configs_attention_layout():
    """ViT-B ViTDet: window 14 except in blocks 2, 5, 8, 11; the paper variant reads those."""
    for name, neck_type in (('maskrcnn_vit-b_coco.py', SimpleFPN),
                            ('maskrcnn_vit-b_fpn_coco.py', ViTPyramid)):
        cfg = load_config(osp.join(CONFIGS, name), **{'model.backbone.init_cfg': None})
        model = build_detector(cfg)
        windows = [blk.window_size for blk in model.backbone.blocks]
        assert windows == [14, 14, 0] * 4
        assert all(blk.attn.rel_pos_h.shape == ((27, 64) if w else (127, 64))
                   for blk, w in zip(model.backbone.blocks, windows))
        assert not hasattr(model.backbone, 'cls_token') or model.backbone.cls_token is None
        neck = model.neck if neck_type is SimpleFPN else model.neck[0]
        assert isinstance(neck, neck_type)
        if neck_type is ViTPyramid:
            assert model.backbone.out_indices == (2, 5, 8, 11)
        del model


def test_window_covering_the_map_equals_global_attention_in_the_detector_backbone():
    cfg = load_config(DEMO, **{'model.backbone.init_cfg': None}).model.backbone
    cfg = {k: v for k, v in cfg.items() if k not in ('type', 'init_cfg')}
    cfg.update(img_size=64, window_size=8)  # 64 px, patch 8: one 8x8 window is the whole map
    windowed = MAEViT(**cfg)
    with torch.no_grad():
        for name, p in windowed.named_parameters():
            if REL_POS.search(name):
                p.normal_(std=0.1)  # non-zero relative positions must agree too
    global_ = MAEViT(**dict(cfg, window_size=0))
    global_.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(windowed(x)[0], global_(x)[0], rtol=1e-5, atol=1e-5)
