# MAE linear probing, ViT-L/16 on ImageNet-1k: 75.8 top-1 (1600-epoch pretraining).
# The ViT-B protocol with the 24 blocks of ViT-L frozen.
_base_ = ['linprobe_vit-b_in1k.py']
model = dict(
    backbone=dict(arch='l', frozen_stages=24,
                  init_cfg=dict(checkpoint='work_dirs/mae_vit-l_pretrain_1600e/epoch_1600.pth')),
    neck=dict(input_features=1024),
    head=dict(in_channels=1024))
