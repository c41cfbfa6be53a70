"""The strict backbone loader: what may differ is derived from the backbone, the rest fails."""
import logging

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from ckpt_helpers import TINY, mae, mae_mm_file  # noqa: F401 (fixtures)
from mmengine.logging import MMLogger

from mae_mm.checkpoint import CheckpointKeyError, load_backbone_checkpoint
from mae_mm.models import MAEViT
from mae_mm.models.layers import PatchEmbed


class Records(logging.Handler):
    """Collects the messages of mmengine's current logger."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log():
    logger, handler = MMLogger.get_current_instance(), Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_pretrain_checkpoint_into_a_dense_backbone_reports_only_new_parts(mae, mae_mm_file, log):
    vit = MAEViT(arch=TINY, img_size=64, out_type='featmap', with_cls_token=False,
                 use_rel_pos=True, window_size=4, global_attn_indexes=(1, ), layer_scale_init=0.1,
                 final_norm=False, out_indices=(0, 1))
    report = load_backbone_checkpoint(vit, mae_mm_file)
    assert report.source_format == 'mae_mm'
    assert report.new_keys == sorted(f'blocks.{i}.{name}' for i in range(2) for name in (
        'attn.rel_pos_h', 'attn.rel_pos_w', 'ls1.gamma', 'ls2.gamma'))
    dropped = {k for keys in report.dropped.values() for k in keys}
    assert dropped == set(mae.neck.state_dict()) | {'norm.weight', 'norm.bias', 'cls_token'}
    assert report.resized == {'pos_embed': ((1, 17, 32), (1, 65, 32))}  # 4x4 -> 8x8 grid
    src = mae.backbone.state_dict()
    for k in report.loaded:
        if k != 'pos_embed':
            assert torch.equal(vit.state_dict()[k], src[k]), k
    text = '\n'.join(log)
    assert 'blocks.{0-1}.attn.rel_pos_h' in text and 'blocks.{0-1}.ls2.gamma' in text
    assert 'cls_token' in text and 'decoder_pred.weight' in text


def test_avg_pooling_backbone_takes_fc_norm_as_new_and_drops_norm(mae_mm_file):
    vit = MAEViT(arch=TINY, img_size=32, out_type='avg')
    report = load_backbone_checkpoint(vit, mae_mm_file)
    assert report.new_keys == ['fc_norm.bias', 'fc_norm.weight']
    assert ['norm.weight', 'norm.bias'] in report.dropped.values()


def test_init_cfg_pretrained_loads_through_init_weights(mae, mae_mm_file):
    vit = MAEViT(arch=TINY, img_size=32, out_type='raw',
                 init_cfg=dict(type='Pretrained', checkpoint=mae_mm_file))
    vit.init_weights()
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(vit(x)[0], mae.backbone(x)[0])


def test_init_cfg_as_a_list_loads_and_other_types_raise(mae, mae_mm_file):
    """MMEngine allows a list of init configs; a type MAEViT would ignore is an error."""
    vit = MAEViT(arch=TINY, img_size=32, out_type='raw',
                 init_cfg=[dict(type='Pretrained', checkpoint=mae_mm_file)])
    vit.init_weights()
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(vit(x)[0], mae.backbone(x)[0])
    vit = MAEViT(arch=TINY, img_size=32, init_cfg=dict(type='TruncNormal', layer='Linear'))
    with pytest.raises(ValueError, match="'TruncNormal'.*remove"):
        vit.init_weights()


@pytest.mark.parametrize('edit, error, names', [
    (lambda sd: sd.pop('backbone.blocks.1.mlp.fc1.weight'), KeyError, ['blocks.1.mlp.fc1.weight']),
    (lambda sd: sd.update({'backbone.blocks.0.attn.q_norm.weight': torch.ones(8)}), KeyError,
     ['blocks.0.attn.q_norm.weight']),
    (lambda sd: sd.update({'backbone.blocks.0.mlp.fc2.bias': torch.ones(33)}), ValueError,
     ['blocks.0.mlp.fc2.bias: checkpoint (33,) vs backbone (32,)']),
])
def test_bad_checkpoints_fail_naming_the_keys(mae, edit, error, names):
    sd = dict(mae.state_dict())
    edit(sd)
    vit = MAEViT(arch=TINY, img_size=32)
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    with pytest.raises(error) as info:
        load_backbone_checkpoint(vit, {'state_dict': sd})
    message = str(info.value)
    assert all(name in message for name in names) and 'Fix:' in message
    assert all(torch.equal(v, before[k]) for k, v in vit.state_dict().items())  # nothing loaded


def test_wrong_arch_is_a_key_error_that_describes_the_checkpoint(mae):
    vit = MAEViT(arch=dict(TINY, num_layers=3), img_size=32)
    with pytest.raises(CheckpointKeyError, match=r'implies embed_dims=32, patch_size=8, '
                       r'num_layers=2[\s\S]*missing in the checkpoint: \[.blocks\.2\.'):
        load_backbone_checkpoint(vit, {'state_dict': mae.state_dict()})


def test_pos_embed_224_to_1024_is_bicubic_on_the_grid():
    torch.manual_seed(0)
    src = MAEViT(arch=dict(embed_dims=32, num_layers=1, num_heads=4, patch_size=16), img_size=224)
    with torch.no_grad():
        src.pos_embed.normal_()
    dst = MAEViT(arch=dict(embed_dims=32, num_layers=1, num_heads=4, patch_size=16), img_size=1024)
    report = load_backbone_checkpoint(dst, src.state_dict())
    assert report.resized['pos_embed'] == ((1, 197, 32), (1, 4097, 32))
    grid = src.pos_embed[:, 1:].reshape(1, 14, 14, 32).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(64, 64), mode='bicubic', align_corners=False)
    assert torch.equal(dst.pos_embed[:, 1:], want.permute(0, 2, 3, 1).reshape(1, 4096, 32))
    assert torch.equal(dst.pos_embed[:, :1], src.pos_embed[:, :1])


def test_non_square_checkpoint_reloads_into_its_own_backbone():
    """A model fine-tuned on non-square inputs (e.g. 512 x 1024 segmentation crops) loads back
    as it was; only a non-square grid of another size is unknowable, and says so."""
    src = MAEViT(arch=TINY, img_size=(32, 64), out_type='featmap', pos_embed_trainable=True)
    with torch.no_grad():
        src.pos_embed.normal_()
    dst = MAEViT(arch=TINY, img_size=(32, 64), out_type='featmap', pos_embed_trainable=True)
    report = load_backbone_checkpoint(dst, src.state_dict())
    assert torch.equal(dst.pos_embed, src.pos_embed)
    assert report.resized == {}
    other = MAEViT(arch=TINY, img_size=(32, 48), out_type='featmap')
    with pytest.raises(ValueError, match=r'\(1, 33, 32\) fits neither the backbone\'s \(4, 6\) '
                       r'patch grid nor a square one[\s\S]*img_size'):
        load_backbone_checkpoint(other, src.state_dict())


def test_pos_embed_class_row_is_dropped_for_a_backbone_without_one():
    """A backbone with official names whose position embedding covers the patches only."""
    backbone = nn.Module()
    backbone.patch_embed = PatchEmbed(32, 8, 3, 32)
    backbone.pos_embed = nn.Parameter(torch.zeros(1, 16, 32))
    src = MAEViT(arch=dict(embed_dims=32, num_layers=1, num_heads=4, patch_size=8), img_size=32)
    state = {k: v for k, v in src.state_dict().items()
             if k.startswith(('patch_embed', 'pos_embed'))}
    with torch.no_grad():
        state['pos_embed'] = torch.randn(1, 17, 32)
    report = load_backbone_checkpoint(backbone, state)
    assert torch.equal(backbone.pos_embed, state['pos_embed'][:, 1:])
    assert report.resized == {'pos_embed': ((1, 17, 32), (1, 16, 32))}


def test_pos_embed_without_a_class_row_gets_a_zero_one():
    """A position embedding of the patches only: the class token takes no position."""
    dst = MAEViT(arch=dict(embed_dims=32, num_layers=1, num_heads=4, patch_size=8), img_size=32)
    state = {k: v.clone() for k, v in dst.state_dict().items()}
    state['pos_embed'] = torch.randn(1, 16, 32)
    with torch.no_grad():
        dst.pos_embed.fill_(1.0)  # so that the zero row must come from the loader
    report = load_backbone_checkpoint(dst, state)
    assert torch.equal(dst.pos_embed[:, 1:], state['pos_embed'])
    assert torch.equal(dst.pos_embed[:, :1], torch.zeros(1, 1, 32))
    assert report.resized == {'pos_embed': ((1, 16, 32), (1, 17, 32))}


def test_official_finetuned_checkpoint_into_a_backbone_with_a_final_norm():
    """facebookresearch/mae fine-tuning output: fc_norm and a classifier head, no norm."""
    src = MAEViT(arch=TINY, img_size=32, out_type='avg')
    state = dict(src.state_dict())
    state.update({'head.weight': torch.zeros(10, 32), 'head.bias': torch.zeros(10)})
    vit = MAEViT(arch=TINY, img_size=32, out_type='featmap')
    report = load_backbone_checkpoint(vit, {'model': state})
    assert report.source_format == 'official'
    assert report.new_keys == ['norm.bias', 'norm.weight']
    assert report.dropped == {
        "source model's other parts": ['head.bias', 'head.weight'],
        'pooled-feature norm of a classifier, unused by this backbone': ['fc_norm.weight',
                                                                         'fc_norm.bias']}


def test_finetuned_rel_pos_tables_are_resized_to_another_img_size():
    """A detector / segmenter backbone fine-tuned at 32 px reused at 48 px: its learned
    relative positions are resized like its position embedding, not refused."""
    vitdet = dict(arch=TINY, out_type='featmap', with_cls_token=False, use_rel_pos=True,
                  window_size=2, global_attn_indexes=(1,))
    src = MAEViT(img_size=32, **vitdet)
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    dst = MAEViT(img_size=48, **vitdet)
    report = load_backbone_checkpoint(dst, src.state_dict())
    table = src.blocks[1].attn.rel_pos_h  # global block: 2 x 4 - 1 -> 2 x 6 - 1 offsets
    want = F.interpolate(table.t()[None], size=11, mode='linear')[0].t()
    assert torch.equal(dst.blocks[1].attn.rel_pos_h, want)
    assert report.resized['blocks.1.attn.rel_pos_w'] == ((7, 8), (11, 8))
    assert torch.equal(dst.blocks[0].attn.rel_pos_h, src.blocks[0].attn.rel_pos_h)  # window 2

    src = MAEViT(arch=TINY, img_size=32, out_type='featmap', use_rel_pos_bias=True)
    with torch.no_grad():
        src.blocks[0].attn.rel_pos_bias.relative_position_bias_table.normal_()
    dst = MAEViT(arch=TINY, img_size=48, out_type='featmap', use_rel_pos_bias=True)
    report = load_backbone_checkpoint(dst, src.state_dict())
    old = src.blocks[0].attn.rel_pos_bias.relative_position_bias_table
    new = dst.blocks[0].attn.rel_pos_bias.relative_position_bias_table
    assert report.resized['blocks.0.attn.rel_pos_bias.relative_position_bias_table'] == (
        (7 * 7 + 3, 4), (11 * 11 + 3, 4))
    offsets = old[:-3].t().reshape(1, 4, 7, 7)
    want = F.interpolate(offsets, size=(11, 11), mode='bicubic', align_corners=False)
    assert torch.equal(new[:-3], want.reshape(4, -1).t())
    assert torch.equal(new[-3:], old[-3:])  # the class token's rows
