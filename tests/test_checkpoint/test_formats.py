"""Format detection and key mapping: each format read back to exactly mae_mm's tensors."""
import re

import pytest
import torch
from ckpt_helpers import TINY, mae, randomised, tiny_mae  # noqa: F401 (mae: a fixture)
from conftest import image_classifier
from mmpretrain.models import VisionTransformer

from mae_mm.checkpoint import (detect_format, load_backbone_checkpoint, read_checkpoint,
                                to_mae_mm)
from mae_mm.models import MAEViT

HF_LAYER = {'norm1': 'layernorm_before', 'norm2': 'layernorm_after',
            'attn.proj': 'attention.output.dense', 'mlp.fc1': 'intermediate.dense',
            'mlp.fc2': 'output.dense'}


def to_hf(official: dict) -> dict:
    """Hugging Face ViTMAEForPreTraining names for an official state dict, written out by hand
    from transformers' modeling_vit_mae.py (transformers itself must not be installed)."""
    out = {}
    for name, value in official.items():
        m = re.fullmatch(r'(decoder_blocks|blocks)\.(\d+)\.(\w+(?:\.\w+)?)\.(weight|bias)', name)
        if m:
            decoder = m.group(1) == 'decoder_blocks'
            layers = 'decoder.decoder_layers' if decoder else 'vit.encoder.layer'
            base, part, kind = f'{layers}.{m.group(2)}', m.group(3), m.group(4)
            if part == 'attn.qkv':
                for qkv, chunk in zip(('query', 'key', 'value'), value.chunk(3, dim=0)):
                    out[f'{base}.attention.attention.{qkv}.{kind}'] = chunk
            else:
                out[f'{base}.{HF_LAYER[part]}.{kind}'] = value
        elif name in ('mask_token', 'decoder_pos_embed') or name.startswith('decoder_'):
            out['decoder.' + name] = value
        else:
            top = {'cls_token': 'vit.embeddings.cls_token',
                   'pos_embed': 'vit.embeddings.position_embeddings',
                   'patch_embed.proj.weight': 'vit.embeddings.patch_embeddings.projection.weight',
                   'patch_embed.proj.bias': 'vit.embeddings.patch_embeddings.projection.bias',
                   'norm.weight': 'vit.layernorm.weight', 'norm.bias': 'vit.layernorm.bias'}
            out[top[name]] = value
    return out


def official_of(mae) -> dict:
    """The official flat names of a mae_mm MAE: its backbone and neck without prefixes."""
    return {k.split('.', 1)[1]: v for k, v in mae.state_dict().items()}


def assert_same_tensors(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for k in want:
        assert torch.equal(got[k], want[k]), k


@pytest.mark.parametrize('fmt', ['mae_mm', 'official', 'timm', 'hf'])
def test_each_format_reads_back_to_the_same_encoder_and_decoder(mae, fmt):
    official = official_of(mae)
    saved = {'mae_mm': {'state_dict': mae.state_dict(), 'meta': {}},
             'official': {'model': official},
             'timm': official,
             'hf': to_hf(official)}[fmt]
    ckpt = read_checkpoint(saved)
    assert ckpt.format == fmt
    assert_same_tensors(ckpt.encoder, mae.backbone.state_dict())
    assert_same_tensors(ckpt.decoder, mae.neck.state_dict())
    assert ckpt.other == {}


def test_hf_checkpoint_gives_the_same_reconstruction(mae):
    ckpt = read_checkpoint(to_hf(official_of(mae)))
    other = tiny_mae()
    other.backbone.load_state_dict(ckpt.encoder, strict=True)
    other.neck.load_state_dict(ckpt.decoder, strict=True)
    x, mask = torch.randn(2, 3, 32, 32), torch.zeros(2, 16)
    mask[:, ::4] = 1
    mask[:, 1::4] = 1
    mask[:, 2::4] = 1
    latent, _, ids = mae.backbone(x, mask)
    latent2, _, ids2 = other.backbone(x, mask)
    assert torch.equal(mae.neck(latent, ids), other.neck(latent2, ids2))


def test_hf_image_classifier_keeps_its_classifier_as_the_head():
    """HF ``ViTForImageClassification``: ``classifier`` on the class token after
    ``vit.layernorm``. Converted, it loads strictly into the classification configs' model with
    class-token pooling and gives the logits of HF's definition."""
    torch.manual_seed(0)
    vit = randomised(MAEViT(arch=TINY, img_size=32, out_type='raw', fused_attn=False)).eval()
    classifier = torch.nn.Linear(32, 10)
    hf = to_hf(vit.state_dict())
    hf.update({'classifier.weight': classifier.weight.detach(),
               'classifier.bias': classifier.bias.detach()})
    ckpt = read_checkpoint(hf)
    assert ckpt.format == 'hf' and ckpt.other == {}
    assert torch.equal(ckpt.head['head.weight'], classifier.weight)
    model = image_classifier(TINY, 32, 'cls', fused_attn=False)
    model.load_state_dict(to_mae_mm(ckpt)['state_dict'], strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = classifier(vit(x)[0][:, 0])  # tokens after the final norm -> class token
        got = model(x, mode='tensor')
    assert (got - want).norm() / want.norm() < 1e-5


def test_mmpretrain_layer_scale_and_pooling_norm_map_to_official_names():
    torch.manual_seed(0)
    peer = randomised(VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=128),
        img_size=32, patch_size=8, layer_scale_init_value=0.1, out_type='avg_featmap',
        final_norm=False, norm_cfg=dict(type='LN', eps=1e-6)))
    peer.eval()
    sd = {'backbone.' + k: v for k, v in peer.state_dict().items()}
    sd['head.layers.head.weight'] = torch.zeros(10, 32)  # a classifier head: not the backbone's
    ckpt = read_checkpoint({'state_dict': sd, 'meta': {}})
    assert ckpt.format == 'mmpretrain' and list(ckpt.other) == ['head.layers.head.weight']
    assert {'blocks.1.ls1.gamma', 'blocks.1.ls2.gamma', 'fc_norm.weight'} <= set(ckpt.encoder)
    ours = MAEViT(arch=dict(embed_dims=32, num_layers=2, num_heads=4, patch_size=8), img_size=32,
                  layer_scale_init=0.1, out_type='avg', fused_attn=False).eval()
    ours.load_state_dict(ckpt.encoder, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want, got = peer(x)[0], ours(x)[0]
    assert (got - want).norm() / want.norm() < 1e-5


def test_mmpretrain_final_norm_before_average_pooling_is_kept():
    """mmpretrain's ``out_type='avg_featmap'`` with its default ``final_norm=True`` normalises
    the tokens (``ln1``) before pooling through ``ln2``: the same features with
    ``final_norm=True``, and an error naming that fix where the backbone would drop ``ln1``."""
    torch.manual_seed(0)
    peer = randomised(VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=128),
        img_size=32, patch_size=8, out_type='avg_featmap', final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6)))
    peer.eval()  # (its train() returns None)
    sd = {'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()}, 'meta': {}}
    assert {'norm.weight', 'fc_norm.weight'} <= set(read_checkpoint(sd).encoder)
    ours = MAEViT(arch=TINY, img_size=32, out_type='avg', final_norm=True, fused_attn=False).eval()
    load_backbone_checkpoint(ours, sd)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want, got = peer(x)[0], ours(x)[0]
    assert (got - want).norm() / want.norm() < 1e-5
    with pytest.raises(ValueError, match='before pooling.*final_norm=True'):
        load_backbone_checkpoint(MAEViT(arch=TINY, img_size=32, out_type='avg'), sd)


def test_unconvertible_keys_are_named():
    peer = VisionTransformer(arch=dict(embed_dims=32, num_layers=1, num_heads=4,
                                       feedforward_channels=64), img_size=32, patch_size=8,
                             pre_norm=True)
    with pytest.raises(ValueError, match=r"pre_norm\.weight"):
        read_checkpoint({'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()}})
    with pytest.raises(ValueError, match=r"cannot tell the checkpoint format.*'foo\.weight'"):
        detect_format({'foo.weight': torch.zeros(1)})


def test_a_detector_checkpoint_keeps_its_neck_and_heads_apart(mae):
    """A Mask R-CNN with mae_mm's backbone: the FPN neck and heads are not the decoder."""
    sd = {'backbone.' + k: v for k, v in mae.backbone.state_dict().items()}
    sd.update({'neck.fpn1.0.weight': torch.zeros(4), 'rpn_head.rpn_conv.weight': torch.zeros(4)})
    ckpt = read_checkpoint({'state_dict': sd, 'meta': {}})
    assert ckpt.format == 'mae_mm' and ckpt.decoder == {}
    assert sorted(ckpt.other) == ['neck.fpn1.0.weight', 'rpn_head.rpn_conv.weight']
    assert_same_tensors(ckpt.encoder, mae.backbone.state_dict())


def test_an_mmpretrain_linear_probe_head_is_read_and_written_back():
    """mmpretrain's ImageClassifier: ClsBatchNormNeck's neck.bn.* and LinearClsHead's head.fc.*
    are the official linear probe's head.0.* and head.1.*."""
    vit = VisionTransformer(arch=dict(embed_dims=32, num_layers=1, num_heads=4,
                                      feedforward_channels=64), img_size=32, patch_size=8)
    sd = {'backbone.' + k: v for k, v in vit.state_dict().items()}
    bn = {'running_mean': torch.randn(32), 'running_var': torch.rand(32),
          'num_batches_tracked': torch.tensor(7)}
    fc = {'weight': torch.randn(10, 32), 'bias': torch.randn(10)}
    sd.update({f'neck.bn.{k}': v for k, v in bn.items()})
    sd.update({f'head.fc.{k}': v for k, v in fc.items()})
    ckpt = read_checkpoint({'state_dict': sd, 'meta': {}})
    assert ckpt.format == 'mmpretrain' and ckpt.other == {}
    assert_same_tensors(ckpt.head, {**{f'head.0.{k}': v for k, v in bn.items()},
                                    **{f'head.1.{k}': v for k, v in fc.items()}})
    written = to_mae_mm(ckpt)['state_dict']
    assert_same_tensors({k: v for k, v in written.items() if not k.startswith('backbone.')},
                        {k: v for k, v in sd.items() if not k.startswith('backbone.')})
