"""Mixed precision without loss scaling where none is needed (bf16)."""
import torch
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import OptimWrapper

from mae_mm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(MMEngineAmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper`` that skips the gradient scaler for bfloat16.

    bf16 has fp32's exponent range, so scaling the loss buys nothing, while the scaler
    costs an unscale pass over every gradient and a host synchronisation per step (its
    inf check). fp16 keeps the scaler. Takes the arguments of MMEngine's wrapper.
    """

    @property
    def scales_loss(self) -> bool:
        return self.cast_dtype != torch.bfloat16

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.scales_loss:
            return super().backward(loss, **kwargs)
        return OptimWrapper.backward(self, loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.scales_loss:
            return super().step(**kwargs)
        return OptimWrapper.step(self, **kwargs)
