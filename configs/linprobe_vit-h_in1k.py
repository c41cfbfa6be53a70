# MAE linear probing, ViT-H/14 on ImageNet-1k (1600-epoch pretraining).
# The ViT-B protocol with the 32 blocks of ViT-H frozen.
_base_ = ['linprobe_vit-b_in1k.py']
model = dict(
    backbone=dict(arch='h', frozen_stages=32,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-h_pretrain_1600e/epoch_1600.pth')),
    neck=dict(input_features=1280),
    head=dict(in_channels=1280))
