# ViTDet's fine-tuning recipe: 100 epochs of COCO train2017 at a total batch of 64, AdamW
# (lr 1e-4, betas 0.9 / 0.999, wd 0.1) with layer-wise lr decay, 250 warm-up iterations, lr x 0.1
# at 88.9 and 96.3 epochs, mixed precision (GPUs only).
num_gpus = 16
total_batch = 64
max_epochs = 100
num_train_images = 118_000  # COCO train2017, as the recipe counts them
max_iters = max_epochs * num_train_images // total_batch  # 184375
lr_steps = (163_889 / 184_375, 177_546 / 184_375)  # ViTDet's steps, as fractions of training
val_interval = 5000

optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='mae_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[round(max_iters * s) for s in lr_steps], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# --auto-scale-lr rescales the lr when the real total batch differs from the recipe's
auto_scale_lr = dict(enable=False, base_batch_size=total_batch)
