# ADE20K fine-tuning as mmseg's MAE UperNet config runs it: AdamW lr 1e-4, wd 0.05, layer-wise lr
# decay 0.65, 1500 linear warm-up iterations then poly decay to 0 at 160k iterations (total batch
# 16), fp16 on GPUs. The paper gives 100 epochs at batch 16 (about 126k iterations).
max_iters = 160000
warmup_iters = 1500
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mae_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    # MMEngine's RuntimeInfoHook, reading the losses once per log interval, not every step
    runtime_info=dict(type='mae_mm.DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # crash-safe checkpoints (atomic writes, RNG state) and a stop at the first NaN / Inf loss
    checkpoint=dict(type='mae_mm.SafeCheckpointHook', by_epoch=False, interval=16000,
                    max_keep_ckpts=2),
    non_finite=dict(type='mae_mm.NonFiniteLossHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
