# The built-in segmentation demo: UperNet on the 6-block demo ViT (patch 8) with 64 px crops
# of a small synthetic ADE20K-format set (7 real ADE20K classes drawn with their own textures).
# Same model, recipe and mmseg pipeline as configs/upernet_vit-b_ade20k.py, scaled down to run
# in a few minutes on 2 CPU cores, fp32:
#   python tools/dataset_tools/make_ade20k_demo.py data/ade20k_demo
#   python tools/train.py configs/demo/mae_vit-tiny_pretrain_demo.py   # the MAE checkpoint
#   python tools/train.py configs/demo/upernet_vit-tiny_ade20k_demo.py
#   python tools/test.py configs/demo/upernet_vit-tiny_ade20k_demo.py \
#       work_dirs/upernet_vit-tiny_ade20k_demo/iter_300.pth
_base_ = ['../upernet_vit-b_ade20k.py']
crop_size = (64, 64)
embed_dims = 192
norm_cfg = dict(type='BN', requires_grad=True)  # one process on the CPU: no SyncBN
data_root = 'data/ade20k_demo'
max_iters = 300
warmup_iters = 30

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch='demo',
        img_size=crop_size,
        out_indices=(1, 2, 3, 5),
        drop_path_rate=0.0,
        init_cfg=dict(checkpoint='work_dirs/mae_vit-tiny_pretrain_demo/epoch_200.pth')),
    neck=dict(embed_dim=embed_dims, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[embed_dims] * 4, channels=64, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=embed_dims, channels=32, norm_cfg=norm_cfg),
    test_cfg=dict(crop_size=crop_size, stride=(43, 43)))

# the generated images are 128 x 96: the short side 96 plays ADE20K's 512
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(512, 96), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 96), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=5e-4))  # fp32 on the CPU
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
