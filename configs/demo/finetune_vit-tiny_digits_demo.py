# The built-in classification demo: the ViT-B fine-tuning recipe at tiny scale, fine-tuning
# the demo encoder (6 blocks, patch 8) on scikit-learn's handwritten digits written as an
# ImageNet-layout folder (data/digits, 1438 train / 359 val images, 32 px). On 2 CPU cores:
#   python -m mae_mm.datasets.digits data/digits
#   python tools/train.py configs/demo/finetune_vit-tiny_digits_demo.py \
#       [--cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth]
#   python tools/test.py configs/demo/finetune_vit-tiny_digits_demo.py \
#       work_dirs/finetune_vit-tiny_digits_demo/epoch_10.pth
# The default checkpoint is the demo pretraining's (configs/demo/mae_vit-tiny_pretrain_demo.py,
# 64 px: its position embedding is resized to the 32-px grid when it loads);
# model.backbone.init_cfg=None runs the same protocol from a randomly initialised encoder.
_base_ = ['../finetune_vit-b_in1k.py']
img_size = 32
data_root = 'data/digits'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
model = dict(
    backbone=dict(arch='demo', img_size=img_size,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-tiny_pretrain_demo/epoch_200.pth')),
    head=dict(num_classes=len(classes), in_channels=192))
data_preprocessor = dict(num_classes=len(classes))
# digits: crops keep most of the digit, and no flip (a mirrored digit is another shape)
train_pipeline = [
    _base_.train_pipeline[0],
    dict(_base_.train_pipeline[1], scale=img_size, crop_ratio_range=(0.35, 1.0)),
    *_base_.train_pipeline[3:],
]
test_pipeline = [
    _base_.test_pipeline[0],
    dict(_base_.test_pipeline[1], scale=int(img_size / _base_.crop_pct)),
    dict(_base_.test_pipeline[2], crop_size=img_size),
    _base_.test_pipeline[3],
]
dataset = dict(type='ImageNet', data_root=data_root, metainfo=dict(classes=classes))
loader = dict(batch_size=32, num_workers=0, persistent_workers=False, pin_memory=False)
train_dataloader = dict(**loader, dataset=dict(**dataset, split='train', pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(**dataset, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
# a short run on a small set needs a larger lr than the recipe's 5e-4 x batch / 256:
# 2e-3 at batch 32, 10 epochs with 1 of warm-up
lr = 2e-3
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=1),
    dict(_base_.param_scheduler[1], begin=1, eta_min_ratio=_base_.min_lr / lr),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
