# The built-in linear-probing demo: the linear-probe protocol (frozen encoder, class token,
# BatchNorm without affine, linear head, LARS) on the demo encoder (6 blocks, patch 8) and
# scikit-learn's handwritten digits as an ImageNet-layout folder (data/digits, 32 px):
#   python -m mae_mm.datasets.digits data/digits
#   python tools/train.py configs/demo/linprobe_vit-tiny_digits_demo.py \
#       [--cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth]
# The default checkpoint is the demo pretraining's (configs/demo/mae_vit-tiny_pretrain_demo.py,
# 64 px: its position embedding is resized to the 32-px grid when it loads);
# model.backbone.init_cfg=None runs the same protocol from a randomly initialised encoder.
_base_ = ['../linprobe_vit-b_in1k.py']
img_size = 32
data_root = 'data/digits'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
model = dict(
    backbone=dict(arch='demo', img_size=img_size, frozen_stages=6,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-tiny_pretrain_demo/epoch_200.pth')),
    neck=dict(input_features=192),
    head=dict(num_classes=len(classes), in_channels=192))
data_preprocessor = dict(num_classes=len(classes))
train_pipeline = [
    _base_.train_pipeline[0],
    dict(_base_.train_pipeline[1], scale=img_size, crop_ratio_range=(0.35, 1.0)),
    _base_.train_pipeline[-1],  # no flip: a mirrored digit is another shape
]
test_pipeline = [
    _base_.test_pipeline[0],
    dict(_base_.test_pipeline[1], scale=int(img_size / _base_.crop_pct)),
    dict(_base_.test_pipeline[2], crop_size=img_size),
    _base_.test_pipeline[3],
]
dataset = dict(type='ImageNet', data_root=data_root, metainfo=dict(classes=classes))
loader = dict(batch_size=64, num_workers=0, persistent_workers=False, pin_memory=False)
train_dataloader = dict(**loader, dataset=dict(**dataset, split='train', pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(**dataset, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
# LARS steps are lr x 0.001 x |w| / |grad|: a short run keeps the recipe's lr (not its
# linear scaling to batch 64), 10 epochs with 1 of warm-up
max_epochs = 10
param_scheduler = [
    dict(_base_.param_scheduler[0], end=1),
    dict(_base_.param_scheduler[1], begin=1),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
