# Runtime of the detection configs: host mmdet, mae_mm's modules imported by name.
_base_ = 'mmdet::_base_/default_runtime.py'
default_scope = 'mmdet'
custom_imports = dict(imports=['mae_mm'], allow_failed_imports=False)
randomness = dict(seed=0)
# crash-safe checkpoints (atomic writes, RNG state), a stop at the first NaN / Inf loss, and
# the losses read from the device once per log interval, not every step
default_hooks = dict(checkpoint=dict(type='mae_mm.SafeCheckpointHook'),
                     non_finite=dict(type='mae_mm.NonFiniteLossHook'),
                     runtime_info=dict(type='mae_mm.DeferredRuntimeInfoHook'))
