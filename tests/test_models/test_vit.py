"""MAEViT properties: masked forward, gradients, frozen position embedding, attention paths."""
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_mae
from mmpretrain.structures import DataSample

from mae_mm.models import MAE, MAEDecoder, MAEViT
from mae_mm.models.layers import Attention, resize_pos_embed, sincos_pos_embed_2d

TINY = dict(embed_dims=32, num_layers=2, num_heads=4)


def test_masked_forward_keeps_exactly_the_visible_tokens():
    vit = MAEViT(arch=TINY, img_size=32, patch_size=8, mask_ratio=0.75)
    x = torch.randn(3, 3, 32, 32)
    latent, mask, ids_restore = vit(x, True)
    assert latent.shape == (3, 1 + 4, 32)  # cls + 16 * 0.25 visible
    assert mask.shape == (3, 16) and (mask.sum(1) == 12).all()
    # the first 4 places of the restored order hold exactly the unmasked positions
    ids_keep = ids_restore.argsort(1)[:, :4]
    assert torch.equal(ids_keep.sort(1).values, (mask == 0).nonzero()[:, 1].view(3, 4))
    # and the latent is the encoder run on exactly those patches of the whole-image embedding
    patches = (vit.patch_embed(x) + vit.pos_embed[:, 1:]).gather(
        1, ids_keep[..., None].expand(-1, -1, 32))
    seq = torch.cat([(vit.cls_token + vit.pos_embed[:, :1]).expand(3, -1, -1), patches], dim=1)
    for block in vit.blocks:
        seq = block(seq)
    torch.testing.assert_close(latent, vit.norm(seq))


def test_given_mask_is_used_and_wrong_shapes_fail():
    vit = MAEViT(arch=TINY, img_size=32, patch_size=8)
    mask = torch.zeros(2, 16)
    mask[:, 4:] = 1
    _, out_mask, _ = vit(torch.randn(2, 3, 32, 32), mask)
    assert torch.equal(out_mask, mask)
    with pytest.raises(ValueError, match='needs \\(2, 16\\)'):
        vit(torch.randn(2, 3, 32, 32), torch.zeros(2, 64))
    bad = mask.clone()
    bad[0, 0] = 1
    with pytest.raises(ValueError, match='must have 12 masked patches'):
        vit(torch.randn(2, 3, 32, 32), bad)


def test_every_trainable_parameter_gets_a_gradient_and_pos_embed_is_frozen():
    torch.manual_seed(0)  # drop path on a small batch could drop one branch for every sample
    model = tiny_mae(drop_path_rate=0.1)
    loss = model.loss(torch.randn(8, 3, 32, 32))['loss']
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'backbone.pos_embed', 'neck.decoder_pos_embed'}


@pytest.mark.parametrize('kwargs', [{}, dict(rel_pos_size=(4, 4)), dict(rel_pos_bias_size=(4, 4))])
def test_fused_attention_equals_plain_attention(kwargs):
    torch.manual_seed(0)
    attn = Attention(32, 4, **kwargs)
    for p in attn.parameters():  # relative terms start at zero: give them values
        torch.nn.init.normal_(p, std=0.1)
    n = 16 + (1 if 'rel_pos_bias_size' in kwargs else 0)
    x = torch.randn(2, n, 32)
    fused = attn(x, (4, 4))
    attn.fused_attn = False
    torch.testing.assert_close(fused, attn(x, (4, 4)), rtol=1e-5, atol=1e-5)


def test_window_covering_the_map_equals_global_attention():
    torch.manual_seed(0)
    common = dict(arch=TINY, img_size=32, patch_size=8, with_cls_token=False, out_type='featmap',
                  use_rel_pos=True, final_norm=False)
    windowed = MAEViT(window_size=4, **common)
    global_ = MAEViT(**common)
    global_.load_state_dict(windowed.state_dict())
    for n, p in windowed.named_parameters():
        if 'rel_pos' in n:
            torch.nn.init.normal_(p, std=0.1)
    global_.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(windowed(x)[0], global_(x)[0])
    # and a smaller, padded window differs (it really is local): the same weights otherwise
    plain = dict(common, use_rel_pos=False)  # no tables, whose size follows the window
    small, whole = MAEViT(window_size=3, **plain), MAEViT(**plain)
    whole.load_state_dict(small.state_dict())
    assert not torch.allclose(small(x)[0], whole(x)[0])


def test_outputs_of_each_type():
    x = torch.randn(2, 3, 32, 32)
    assert MAEViT(arch=TINY, img_size=32, patch_size=8, out_type='cls')(x)[0].shape == (2, 32)
    assert MAEViT(arch=TINY, img_size=32, patch_size=8, out_type='avg')(x)[0].shape == (2, 32)
    maps = MAEViT(arch=TINY, img_size=32, patch_size=8, out_type='featmap', out_indices=(0, 1))(x)
    assert [m.shape for m in maps] == [(2, 32, 4, 4)] * 2
    # another input size: the position embedding is resized on the fly
    assert MAEViT(arch=TINY, img_size=32, patch_size=8, out_type='featmap')(
        torch.randn(1, 3, 48, 64))[0].shape == (1, 32, 6, 8)


def test_mask_tokens_in_encoder_sees_all_patches():
    model = tiny_mae(mask_tokens_in_encoder=True)
    latent, mask, ids_restore = model.backbone(torch.randn(2, 3, 32, 32), True)
    assert latent.shape == (2, 17, 32) and ids_restore is None
    loss = model.loss(torch.randn(2, 3, 32, 32))['loss']
    loss.backward()
    assert model.backbone.encoder_mask_token.grad.abs().sum() > 0


def test_activation_checkpointing_matches():
    torch.manual_seed(0)
    model = tiny_mae()
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 16)
    mask[:, :12] = 1
    samples = [DataSample().set_mask(m) for m in mask]
    loss = model.loss(x, samples)['loss']
    grads = torch.autograd.grad(loss, list(model.parameters())[3])
    model.backbone.with_cp = True
    loss_cp = model.loss(x, samples)['loss']
    grads_cp = torch.autograd.grad(loss_cp, list(model.parameters())[3])
    torch.testing.assert_close(loss, loss_cp)
    torch.testing.assert_close(grads, grads_cp)


def test_sincos_and_resize():
    emb = sincos_pos_embed_2d(16, (4, 4))
    assert emb.shape == (17, 16) and torch.equal(emb[0], torch.zeros(16))
    # first half encodes the column: two patches of the same column share it
    assert torch.equal(emb[1, :8], emb[1 + 4, :8]) and not torch.equal(emb[1, 8:], emb[1 + 4, 8:])
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = resize_pos_embed(pos, (64, 64))
    grid = pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(64, 64), mode='bicubic', align_corners=False)
    torch.testing.assert_close(out[:, 1:], ref.permute(0, 2, 3, 1).reshape(1, -1, 8))
    assert torch.equal(out[:, :1], pos[:, :1])


def test_rectangular_images_get_their_grid_in_encoder_and_decoder():
    model = MAE(backbone=dict(type='MAEViT', arch=TINY, img_size=(16, 64), patch_size=8),
                neck=dict(type='MAEDecoder', decoder_embed_dims=16, decoder_depth=1,
                          decoder_num_heads=2),
                head=dict(type='MAEHead', norm_pix=True))
    # 2 x 8 patches; 16 is square, so a 4 x 4 grid would also fit the token count
    assert torch.equal(model.backbone.pos_embed[0], sincos_pos_embed_2d(32, (2, 8)))
    assert torch.equal(model.neck.decoder_pos_embed[0], sincos_pos_embed_2d(16, (2, 8)))
    assert torch.isfinite(model.loss(torch.randn(2, 3, 16, 64))['loss'])
    # downstream at another size: the (2, 8) embedding is resized as a 2 x 8 map
    vit = MAEViT(arch=TINY, img_size=(16, 64), patch_size=8, out_type='featmap',
                 with_cls_token=False)
    assert vit(torch.randn(1, 3, 32, 32))[0].shape == (1, 32, 4, 4)
    grid = vit.pos_embed[:, 1:].reshape(1, 2, 8, 32).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(4, 4), mode='bicubic', align_corners=False)
    torch.testing.assert_close(vit._pos_embed_for((4, 4))[:, 1:],
                               ref.permute(0, 2, 3, 1).reshape(1, 16, 32))
    with pytest.raises(ValueError, match=r'grid_size \(4, 4\) does not hold num_patches 8'):
        MAEDecoder(num_patches=8, patch_size=8, grid_size=(4, 4))
    with pytest.raises(ValueError, match='num_patches 8 is not a square number'):
        MAEDecoder(num_patches=8, patch_size=8)


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        MAEViT(arch=TINY, img_size=30, patch_size=8)
    with pytest.raises(ValueError, match='mask_ratio must lie in'):
        MAEViT(arch=TINY, img_size=32, patch_size=8, mask_ratio=0.0)
    with pytest.raises(ValueError, match='unknown arch'):
        MAEViT(arch='xl')
    with pytest.raises(ValueError, match='window_size=2 / use_rel_pos=False .* with_cls_token=False'):
        MAEViT(arch=TINY, img_size=32, patch_size=8, window_size=2)
    # the official count keeps int(16 * 0.98) = 15 patches: 0.02 masks one, a valid ratio
    assert MAEViT(arch=TINY, img_size=32, patch_size=8, mask_ratio=0.02).num_masked == 1
    with pytest.raises(ValueError, match='mask_ratio 0.98 masks 16 of 16 .* at most 0.938'):
        MAEViT(arch=TINY, img_size=32, patch_size=8, mask_ratio=0.98)
    with pytest.raises(ValueError, match=r'out_indices \[1, -1\] name a block twice'):
        MAEViT(arch=TINY, img_size=32, patch_size=8, out_indices=(1, -1))
    with pytest.raises(ValueError, match='use_rel_pos_bias .* set with_cls_token=True'):
        MAEViT(arch=TINY, img_size=32, patch_size=8, use_rel_pos_bias=True,
               with_cls_token=False, out_type='featmap')
    with pytest.raises(ValueError, match='needs the backbone.s class token'):
        tiny_mae(with_cls_token=False, out_type='featmap')
    vit = MAEViT(arch=TINY, img_size=32, patch_size=8)
    # same pixel count, other shape: would scramble the patches against the target
    with pytest.raises(ValueError, match=r'img_size \(32, 32\), got \(16, 64\)'):
        vit(torch.randn(2, 3, 16, 64), True)


def test_patch_embedding_as_matmul_equals_the_convolution():
    vit = MAEViT(arch=TINY, img_size=32, patch_size=8)
    x = torch.randn(2, 3, 32, 32)
    full = vit.patch_embed(x)
    torch.testing.assert_close(vit.patch_embed.embed_patches(x), full)
    ids = torch.tensor([[0, 5, 15], [3, 4, 9]])
    torch.testing.assert_close(vit.patch_embed.embed_patches(x, ids),
                               torch.stack([full[0, ids[0]], full[1, ids[1]]]))
