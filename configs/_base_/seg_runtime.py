# Runtime of the segmentation configs: host mmseg, mae_mm's modules imported by name.
_base_ = 'mmseg::_base_/default_runtime.py'
default_scope = 'mmseg'
custom_imports = dict(imports=['mae_mm'], allow_failed_imports=False)
randomness = dict(seed=0)
# default_hooks (mae_mm's DeferredRuntimeInfoHook, SafeCheckpointHook, NonFiniteLossHook) are
# set in schedules/upernet_ade20k_160k.py: MMEngine refuses a key set in two bases
