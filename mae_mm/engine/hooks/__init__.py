from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .non_finite_loss_hook import NonFiniteLossHook
from .reconstruction_hook import ReconstructionHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['DeferredRuntimeInfoHook', 'NonFiniteLossHook', 'ReconstructionHook',
           'SafeCheckpointHook']
