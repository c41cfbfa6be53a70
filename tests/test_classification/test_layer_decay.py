"""The fine-tuning configs' optimizer: each parameter's lr and weight decay from its depth."""
import pytest
from mmengine.optim import build_optim_wrapper

from cls_helpers import build_classifier, config
from mae_mm.models.backbones.vit import ARCHS


def expected_layer_id(name: str, num_layers: int) -> int:
    """The official MAE rule: embeddings 0, block i -> i + 1, everything after -> L + 1."""
    local = name[len('backbone.'):] if name.startswith('backbone.') else None
    if local is None:
        return num_layers + 1
    if local.split('.')[0] in ('patch_embed', 'cls_token', 'pos_embed'):
        return 0
    if local.startswith('blocks.'):
        return int(local.split('.')[1]) + 1
    return num_layers + 1


@pytest.mark.parametrize('size,depth,base_lr,decay', [
    ('b', 12, 5e-4, 0.65), ('l', 24, 1e-3, 0.75), ('h', 32, 1e-3, 0.75)])
def test_finetune_config_puts_the_expected_lr_on_each_parameter(size, depth, base_lr, decay):
    cfg = config(f'finetune_vit-{size}_in1k')
    arch = cfg.model.backbone.arch
    assert ARCHS[arch][1] == depth
    # the config's depth and optimizer on a narrow ViT (32 dims) to keep the test light
    cfg.model.head.in_channels = 32
    model = build_classifier(cfg, arch=dict(embed_dims=32, num_layers=depth, num_heads=2,
                                            patch_size=ARCHS[arch][3]), img_size=2 * ARCHS[arch][3])
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    lr = base_lr * 1024 / 256
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    group_of = {id(p): g for g in optimizer.param_groups for p in g['params']}
    for name, param in model.named_parameters():
        group = group_of[id(param)]
        scale = decay**(depth + 1 - expected_layer_id(name, depth))
        assert group['lr'] == pytest.approx(lr * scale, rel=1e-9), name
        no_decay = param.ndim == 1 or name.endswith(('cls_token', 'pos_embed'))
        assert group['weight_decay'] == (0.0 if no_decay else 0.05), name
    head = group_of[id(model.head.fc.weight)]
    embed = group_of[id(model.backbone.patch_embed.proj.weight)]
    last = group_of[id(model.backbone.blocks[depth - 1].attn.qkv.weight)]
    assert head['lr'] == pytest.approx(lr)
    assert last['lr'] == pytest.approx(lr * decay)
    assert embed['lr'] == pytest.approx(lr * decay**(depth + 1))
    # the cosine ends at 1e-6 scaled like each layer's lr (the official schedule)
    assert cfg.param_scheduler[1].eta_min_ratio * lr == pytest.approx(1e-6)
