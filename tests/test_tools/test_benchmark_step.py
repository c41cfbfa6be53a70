"""Each timed benchmark step is a whole training step of the config's recipe."""
import torch
from mmengine.config import Config

from conftest import REPO
from mae_mm.benchmark.models import make_step, optim_wrapper_cfg
from mae_mm.models import MAE


def test_every_timed_step_updates_the_weights_despite_accumulation():
    """ViT-H's config accumulates 4 steps; a timed step must still run the optimizer."""
    cfg = Config.fromfile(f'{REPO}/configs/mae_vit-h_pretrain.py')
    assert cfg.optim_wrapper.accumulative_counts == 4
    torch.manual_seed(0)
    model = MAE(backbone=dict(type='MAEViT', arch=dict(embed_dims=32, num_layers=1, num_heads=2),
                              img_size=32, patch_size=8),
                neck=dict(type='MAEDecoder', decoder_embed_dims=16, decoder_depth=1,
                          decoder_num_heads=2),
                head=dict(type='MAEHead', norm_pix=True))
    wrapper = optim_wrapper_cfg(cfg.optim_wrapper, 'fp32', ours=True, fused_adamw=False)
    step = make_step(model, torch.randn(2, 3, 32, 32), wrapper, with_masks=True)
    for _ in range(2):
        before = model.backbone.blocks[0].attn.qkv.weight.detach().clone()
        step()
        assert not torch.equal(before, model.backbone.blocks[0].attn.qkv.weight)
