# The built-in demo: a 6-block ViT (patch 8) pretrained with MAE on 64 px crops of real
# photographs that ship with scikit-image / scikit-learn (written to data/demo_images on
# first use). Runs in a few minutes on 2 CPU cores, fp32:
#   python tools/train.py configs/demo/mae_vit-tiny_pretrain_demo.py
_base_ = ['../mae_vit-b_pretrain.py']
img_size = 64
patch_size = 8
model = dict(
    backbone=dict(arch='demo', img_size=img_size, patch_size=patch_size),
    neck=dict(decoder_embed_dims=128, decoder_depth=2, decoder_num_heads=4),
    compile=False,  # minutes of 2-core CPU steps: compiling would cost more than it saves
)
train_pipeline = [
    *_base_.train_pipeline[:2],  # seed, load
    dict(_base_.train_pipeline[2], scale=img_size),  # crop
    _base_.train_pipeline[3],  # flip
    dict(_base_.train_pipeline[4], patch_size=patch_size),  # mask
    *_base_.train_pipeline[5:],  # pack
]
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    prefetch_factor=2,
    pin_memory=False,
    drop_last=False,
    dataset=dict(_delete_=True, type='mae_mm.BuiltinImages', data_root='data/demo_images',
                 pipeline=train_pipeline))
# fp32 on the CPU (bf16 matmuls are ~500x slower there); a short run needs a larger lr than
# the linear scaling rule gives at batch 16
max_epochs = 200
warmup_epochs = 10
optim_wrapper = dict(type='OptimWrapper', _delete_=True,
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05),
                     constructor=_base_.optim_wrapper.constructor,
                     paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], T_max=max_epochs - warmup_epochs, begin=warmup_epochs,
         end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=50, max_keep_ckpts=2))
custom_hooks = [dict(type='mae_mm.ReconstructionHook', interval=50, num_images=6)]
env_cfg = dict(dist_cfg=dict(backend='gloo'))
