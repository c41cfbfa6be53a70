"""Stochastic depth: drop a sample's whole residual branch with probability p."""
import torch
import torch.nn as nn


class DropPath(nn.Module):
    """Zero each sample's branch with probability ``p`` in training, scaling the rest by 1/(1-p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f'p={self.p}'
