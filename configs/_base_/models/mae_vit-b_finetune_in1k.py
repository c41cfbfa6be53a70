# mmpretrain's ImageClassifier over the MAE encoder, fine-tuned end to end (official recipe,
# ViT-B/16): global average pooling of the patch tokens through its own LayerNorm (`fc_norm`,
# the official global pool; out_type='cls' takes the class token after the final norm instead),
# drop path 0.1, the position embedding learned from the checkpoint's sin-cos values, a linear
# head initialised N(0, 2e-5) (truncated), label smoothing 0.1 on Mixup 0.8 / CutMix 1.0 targets.
# init_cfg.checkpoint: a mae_mm pretraining checkpoint or any format mae_mm.checkpoint reads
# (official MAE, mmpretrain, timm, HF), loaded strictly; the pretraining-only keys are dropped.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mae_mm.MAEViT',
        arch='b',
        img_size=224,
        out_type='avg',
        drop_path_rate=0.1,
        pos_embed_trainable=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/mae_vit-b_pretrain_1600e/epoch_1600.pth')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
