"""The ImageNet fine-tuning and linear-probing configs follow the official MAE recipes."""
import pytest
import torch

from cls_helpers import build_classifier, config
from mae_mm.checkpoint import load_backbone_checkpoint
from mae_mm.models import MAEViT


def steps(pipeline) -> dict:
    return {t.type.split('.')[-1]: t for t in pipeline}


@pytest.mark.parametrize('size,base_lr,decay,epochs,drop_path,dims', [
    ('b', 5e-4, 0.65, 100, 0.1, 768), ('l', 1e-3, 0.75, 50, 0.2, 1024),
    ('h', 1e-3, 0.75, 50, 0.3, 1280), ('h-448', 1e-3, 0.75, 50, 0.3, 1280),
    ('l-partial', 1e-3, 0.75, 50, 0.2, 1024)])
def test_finetune_recipe(size, base_lr, decay, epochs, drop_path, dims):
    cfg = config(f'finetune_vit-{size}_in1k')
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['mae_mm'], allow_failed_imports=False)
    accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
    assert cfg.num_gpus == 8
    total = cfg.num_gpus * cfg.train_dataloader.batch_size * accumulate
    assert total == 1024 == cfg.auto_scale_lr.base_batch_size
    assert (cfg.train_dataloader.batch_size, accumulate) == {
        'b': (128, 1), 'l': (64, 2), 'l-partial': (64, 2), 'h': (32, 4), 'h-448': (8, 16)}[size]
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.betas, opt.weight_decay) == ('AdamW', (0.9, 0.999), 0.05)
    assert opt.lr == pytest.approx(base_lr * total / 256)
    assert cfg.optim_wrapper.constructor == 'mae_mm.LayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == decay
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 5)
    assert (cosine.type, cosine.begin) == ('CosineAnnealingLR', 5) and 'end' not in cosine
    assert cfg.train_cfg.max_epochs == epochs

    backbone = cfg.model.backbone
    assert backbone.type == 'mae_mm.MAEViT' and backbone.out_type == 'avg'
    assert backbone.drop_path_rate == drop_path and backbone.pos_embed_trainable
    assert backbone.init_cfg.type == 'Pretrained'
    # partial fine-tuning (Figure 9) tunes the last block of 24; the others tune everything
    assert backbone.get('frozen_stages', -1) == (23 if size == 'l-partial' else -1)
    head = cfg.model.head
    assert head.in_channels == dims and head.num_classes == 1000
    assert head.init_cfg == dict(type='TruncNormal', layer='Linear', std=2e-5)
    assert head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')
    assert cfg.model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                           dict(type='CutMix', alpha=1.0)]

    img = 448 if size == 'h-448' else 224
    assert backbone.get('img_size') == img
    train = steps(cfg.train_dataloader.dataset.pipeline)
    assert train['RandomResizedCrop'].scale == img
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    assert train['RandomResizedCrop'].type == 'mae_mm.RandomResizedCrop'
    ra = train['RandAugment']
    assert (ra.policies, ra.num_policies, ra.magnitude_level, ra.magnitude_std) == (
        'timm_increasing', 2, 9, 0.5)
    assert train['RandomErasing'].erase_prob == 0.25 and train['RandomErasing'].mode == 'rand'
    test = steps(cfg.test_dataloader.dataset.pipeline)
    assert test['ResizeEdge'].scale == img * 8 // 7 and test['ResizeEdge'].interpolation == 'bicubic'
    assert test['CenterCrop'].crop_size == img
    assert cfg.test_evaluator == dict(type='Accuracy', topk=(1, 5))


@pytest.mark.parametrize('size,depth,dims', [('b', 12, 768), ('l', 24, 1024), ('h', 32, 1280)])
def test_linprobe_recipe(size, depth, dims):
    cfg = config(f'linprobe_vit-{size}_in1k')
    total = 8 * cfg.train_dataloader.batch_size
    assert total == 16384 == cfg.auto_scale_lr.base_batch_size
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.weight_decay) == ('LARS', 0.9, 0.0)
    assert opt.lr == pytest.approx(0.1 * total / 256)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.eta_min) == (10, 10, 0.0)
    assert cfg.train_cfg.max_epochs == 90
    backbone = cfg.model.backbone
    assert backbone.out_type == 'cls' and backbone.frozen_stages == depth
    assert cfg.model.neck == dict(type='ClsBatchNormNeck', input_features=dims, affine=False,
                                  eps=1e-6)
    assert cfg.model.head.in_channels == dims
    assert cfg.model.head.init_cfg.std == 0.01
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert train == ['LoadImageFromFile', 'mae_mm.RandomResizedCrop', 'RandomFlip', 'PackInputs']


def test_448_variant_loads_a_224_checkpoint_with_the_position_embedding_resized():
    """The ViT-H/448 config's backbone (narrowed to 32 dims) takes a 224-px pretraining
    checkpoint: the 16x16 position grid is resized to 32x32, everything else loads as is."""
    cfg = config('finetune_vit-h-448_in1k')
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, patch_size=14)
    cfg.model.head.in_channels = 32
    model = build_classifier(cfg, arch=arch)
    assert model.backbone.patch_embed.grid_size == (32, 32)
    pretrained = MAEViT(arch=arch, img_size=224)
    state = {'backbone.' + k: v for k, v in pretrained.state_dict().items()}
    report = load_backbone_checkpoint(model.backbone, {'state_dict': state, 'meta': {}})
    assert report.resized['pos_embed'] == ((1, 1 + 16 * 16, 32), (1, 1 + 32 * 32, 32))
    assert report.new_keys == ['fc_norm.bias', 'fc_norm.weight']
    assert torch.equal(model.backbone.blocks[1].mlp.fc2.weight, pretrained.blocks[1].mlp.fc2.weight)
