# Runtime shared by the pretraining and classification configs (host: mmpretrain).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mae_mm'], allow_failed_imports=False)

default_hooks = dict(
    # MMEngine's RuntimeInfoHook, reading the losses once per log interval, not every step
    runtime_info=dict(type='mae_mm.DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes, old checkpoints removed only after the new one is complete, RNG state
    checkpoint=dict(type='mae_mm.SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a NaN / Inf loss stops training before anything is saved
    non_finite=dict(type='mae_mm.NonFiniteLossHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
