from .non_finite_loss_hook import NonFiniteLossHook
from .reconstruction_hook import ReconstructionHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['NonFiniteLossHook', 'ReconstructionHook', 'SafeCheckpointHook']
