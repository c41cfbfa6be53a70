"""Fixtures of the checkpoint tests: a tiny randomised MAE and its mae_mm checkpoint file."""
import pytest
import torch
from ckpt_helpers import randomised, tiny_mae

from mae_mm.models import MAE


@pytest.fixture
def mae() -> MAE:
    return randomised(tiny_mae())


@pytest.fixture
def mae_mm_file(mae, tmp_path) -> str:
    """``mae`` saved as mmengine does: ``{'state_dict': backbone.* / neck.*, 'meta'}``."""
    path = str(tmp_path / 'mae_mm.pth')
    torch.save({'state_dict': mae.state_dict(), 'meta': {'epoch': 1}}, path)
    return path
