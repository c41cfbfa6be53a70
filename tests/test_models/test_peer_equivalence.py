"""mae_mm against its peers: the same weights (converted) and the same mask give the same numbers.

Peers: mmpretrain's MAE (loss, per-patch predictions, unmasked features) and timm's
VisionTransformer (unmasked features; a fine-tuned or linear-probe classifier's logits).
Relative errors are ||ours - peer|| / ||peer|| in fp32.
"""
import pytest
import torch
from conftest import image_classifier, set_running_stats
from mmpretrain.models.selfsup import MAE as PeerMAE
from mmpretrain.structures import DataSample
from timm.models.vision_transformer import VisionTransformer as TimmViT

from mae_mm.checkpoint import load_backbone_checkpoint, read_checkpoint, to_mae_mm
from mae_mm.models import MAE, MAEViT

IMG, PATCH, DIMS, LAYERS, HEADS = 64, 8, 64, 2, 4  # 64 patches, 48 masked
DEC_DIMS, DEC_LAYERS, DEC_HEADS = 32, 2, 4
L = (IMG // PATCH)**2


def rel_err(ours: torch.Tensor, peer: torch.Tensor) -> float:
    return ((ours - peer).norm() / peer.norm()).item()


def build_peer(norm_pix: bool) -> PeerMAE:
    """mmpretrain's MAE (its own registry names, scope-prefixed so no default scope interferes)."""
    torch.manual_seed(0)
    peer = PeerMAE(
        backbone=dict(type='mmpretrain.MAEViT', img_size=IMG, patch_size=PATCH, mask_ratio=0.75,
                      arch=dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS,
                                feedforward_channels=4 * DIMS)),
        neck=dict(type='mmpretrain.MAEPretrainDecoder', num_patches=L, patch_size=PATCH,
                  in_chans=3, embed_dim=DIMS, decoder_embed_dim=DEC_DIMS,
                  decoder_depth=DEC_LAYERS, decoder_num_heads=DEC_HEADS, mlp_ratio=4),
        head=dict(type='mmpretrain.MAEPretrainHead', norm_pix=norm_pix, patch_size=PATCH,
                  loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')),
        data_preprocessor=dict(type='mmpretrain.SelfSupDataPreprocessor'))
    peer.init_weights()  # sin-cos position embeddings, xavier linears
    with torch.no_grad():  # and every norm / bias away from its trivial init
        for name, p in peer.named_parameters():
            if name.endswith('bias') or 'ln' in name:
                p.add_(torch.randn_like(p) * 0.1)
    return peer.eval()


def build_ours(norm_pix: bool, fused_attn: bool) -> MAE:
    return MAE(backbone=dict(type='MAEViT', img_size=IMG, out_type='raw', fused_attn=fused_attn,
                             arch=dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS,
                                       patch_size=PATCH)),
               neck=dict(type='MAEDecoder', decoder_embed_dims=DEC_DIMS, decoder_depth=DEC_LAYERS,
                         decoder_num_heads=DEC_HEADS, fused_attn=fused_attn),
               head=dict(type='MAEHead', norm_pix=norm_pix)).eval()


def use_mask(peer: PeerMAE, mask: torch.Tensor) -> None:
    """Make the peer's encoder keep the visible patches of ``mask`` (1 = masked), in ascending
    order, instead of drawing its own random subset."""
    ids_shuffle = torch.argsort(mask, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    num_keep = int((mask[0] == 0).sum())

    def random_masking(x, mask_ratio):
        ids_keep = ids_shuffle[:, :num_keep]
        x_kept = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, x.shape[-1]))
        return x_kept, mask, ids_restore

    peer.backbone.random_masking = random_masking


def random_masks(batch: int) -> torch.Tensor:
    noise = torch.rand(batch, L)
    return (noise.argsort(1).argsort(1) >= L // 4).float()  # 48 of 64 masked


def compare_with_mmpretrain(norm_pix: bool, fused_attn: bool) -> dict:
    peer = build_peer(norm_pix)
    ours = build_ours(norm_pix, fused_attn)
    ckpt = to_mae_mm(read_checkpoint({'state_dict': peer.state_dict(), 'meta': {}}))
    ours.load_state_dict(ckpt['state_dict'], strict=True)
    torch.manual_seed(1)
    x, mask = torch.randn(2, 3, IMG, IMG), random_masks(2)
    use_mask(peer, mask)
    samples = [DataSample() for _ in range(2)]
    for sample, row in zip(samples, mask):
        sample.mask = row
    with torch.no_grad():
        latent, peer_mask, ids_restore = peer.backbone(x)
        peer_pred = peer.neck(latent, ids_restore)
        peer_loss = peer.head.loss(peer_pred, x, peer_mask)
        pred, our_mask = ours.reconstruct(x, samples)
        loss = ours.loss(x, samples)['loss']
        peer_feats, feats = peer.backbone(x, mask=None)[0], ours.backbone(x)[0]
    assert torch.equal(our_mask, mask)
    return dict(loss=rel_err(loss, peer_loss), pred=rel_err(pred, peer_pred),
                features=rel_err(feats, peer_feats))


@pytest.mark.parametrize('norm_pix', [True, False])
def test_mmpretrain_mae_converted_gives_the_same_loss_predictions_and_features(norm_pix):
    errors = compare_with_mmpretrain(norm_pix, fused_attn=False)
    assert max(errors.values()) < 1e-5, errors


def test_mmpretrain_mae_with_our_fused_attention():
    errors = compare_with_mmpretrain(norm_pix=True, fused_attn=True)
    assert max(errors.values()) < 1e-4, errors


@pytest.mark.parametrize('global_pool, out_type', [('token', 'raw'), ('token', 'cls'),
                                                   ('avg', 'avg')])
def test_timm_vit_loads_strictly_and_gives_the_same_features(global_pool, out_type):
    torch.manual_seed(0)
    peer = TimmViT(img_size=IMG, patch_size=PATCH, embed_dim=DIMS, depth=LAYERS, num_heads=HEADS,
                   num_classes=10, global_pool=global_pool).eval()
    with torch.no_grad():
        for p in peer.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ours = MAEViT(arch=dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS,
                            patch_size=PATCH), img_size=IMG, out_type=out_type,
                  fused_attn=False).eval()
    report = load_backbone_checkpoint(ours, peer.state_dict())
    assert report.source_format == 'timm' and report.new_keys == []
    assert report.dropped == {"source model's other parts": ['head.bias', 'head.weight']}
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        tokens = peer.forward_features(x)
        want = {'raw': tokens, 'cls': tokens[:, 0],
                'avg': peer.forward_head(tokens, pre_logits=True)}[out_type]
        got = ours(x)[0]
    assert got.shape == want.shape and rel_err(got, want) < 1e-5


@pytest.mark.parametrize('probe', [False, True])
def test_official_classifier_converted_gives_the_same_logits(probe):
    """facebookresearch/mae's fine-tuned model (timm's ViT, global average pooling) or linear
    probe (class token; head = BatchNorm1d without affine, then Linear), as its checkpoint
    holds it, converted to mae_mm and loaded strictly into the classification configs'
    ImageClassifier."""
    torch.manual_seed(0)
    peer = TimmViT(img_size=IMG, patch_size=PATCH, embed_dim=DIMS, depth=LAYERS, num_heads=HEADS,
                   num_classes=10, global_pool='token' if probe else 'avg')
    with torch.no_grad():
        for p in peer.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    if probe:
        peer.head = torch.nn.Sequential(torch.nn.BatchNorm1d(DIMS, affine=False, eps=1e-6),
                                        peer.head)
        set_running_stats(peer)
    peer.eval()
    ckpt = read_checkpoint({'model': peer.state_dict()})
    assert ckpt.format == 'official' and ckpt.other == {}
    assert len(ckpt.head) == (5 if probe else 2)
    ours = image_classifier(dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS,
                                 patch_size=PATCH), IMG, 'cls' if probe else 'avg', probe=probe,
                            fused_attn=False)
    ours.load_state_dict(to_mae_mm(ckpt)['state_dict'], strict=True)
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        want, got = peer(x), ours(x, mode='tensor')
    assert got.shape == want.shape == (2, 10) and rel_err(got, want) < 1e-5


@pytest.mark.parametrize('grid', [(4, 4), (6, 5)])  # the tables' own grid, and resized to another
@pytest.mark.parametrize('fused_attn', [True, False])
def test_decomposed_rel_pos_attention_equals_vitdets(grid, fused_attn):
    """ViTDet's relative positions, as mmpretrain's copy of SAM's (ViTDet's) attention has them."""
    from mmpretrain.models.backbones.vit_sam import Attention as PeerAttention
    from mae_mm.models.layers import Attention
    torch.manual_seed(0)
    ours = Attention(32, 4, fused_attn=fused_attn, rel_pos_size=(4, 4))
    peer = PeerAttention(32, 4, use_rel_pos=True, input_size=(4, 4))
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(std=0.5)  # rel-pos tables too, so that they matter
    peer.load_state_dict(ours.state_dict())
    x = torch.randn(2, grid[0] * grid[1], 32)
    torch.testing.assert_close(ours(x, grid), peer(x.reshape(2, *grid, 32)).reshape(2, -1, 32),
                               rtol=1e-5, atol=1e-5)

