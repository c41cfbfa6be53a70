# Linear probing of the MAE encoder (official recipe, ViT-B/16): the whole encoder frozen
# (frozen_stages = its 12 blocks, which also freezes the patch embedding, tokens, position
# embedding and the final norm), the class token after the final norm as the feature, a
# BatchNorm without affine parameters (MAE's normalisation of the features) and a linear head
# initialised N(0, 0.01) (truncated): the head is the only thing that learns.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mae_mm.MAEViT',
        arch='b',
        img_size=224,
        out_type='cls',
        frozen_stages=12,
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/mae_vit-b_pretrain_1600e/epoch_1600.pth')),
    neck=dict(type='ClsBatchNormNeck', input_features=768, affine=False, eps=1e-6),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.01)),
)
