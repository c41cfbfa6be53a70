# The official MAE linear-probing schedule: LARS (momentum 0.9, wd 0, trust coefficient
# 0.001, biases excluded from the trust ratio), lr = 0.1 x total batch / 256, 10 warm-up
# epochs then cosine to 0, 90 epochs, total batch 16384.
total_batch = 16384
base_lr = 0.1
max_epochs = 90
warmup_epochs = 10
optim_wrapper = dict(
    optimizer=dict(type='LARS', lr=base_lr * total_batch / 256, momentum=0.9, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'.bias': dict(lars_exclude=True)}),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # ends at train_cfg.max_epochs (the Runner's default `end`)
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=total_batch)
