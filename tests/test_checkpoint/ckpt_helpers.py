"""Tiny models and fixtures shared by the checkpoint tests.

Test modules import from here by name (pytest puts this folder on sys.path). There is no
conftest.py in this folder on purpose: other tests ``from conftest import ...`` the top-level
one, and a second module named conftest would shadow it.
"""
import pytest
import torch
import conftest
from conftest import image_classifier, set_running_stats

from mae_mm.models import MAE

TINY = dict(embed_dims=32, num_layers=2, num_heads=4, patch_size=8)


def tiny_mae(img_size: int = 32, **backbone) -> MAE:
    """mae_mm's MAE at a few thousand parameters: 2 blocks of 32, decoder 1 block of 16."""
    return conftest.tiny_mae(img_size=img_size, out_type='raw', **backbone).eval()


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Give every tensor (position embeddings and norms included) distinct random values, so
    that a tensor mapped to the wrong place cannot go unnoticed."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    return model


def tiny_classifier(probe: bool) -> torch.nn.Module:
    """The classification configs' ImageClassifier at TINY size, every tensor random: fine-tuned
    (average pooling, ``head.fc.*``) or linear probe (class token, ``neck.bn.*``, ``head.fc.*``)."""
    torch.manual_seed(0)
    model = image_classifier(TINY, 32, 'cls' if probe else 'avg', probe=probe)
    return set_running_stats(randomised(model))


@pytest.fixture
def mae() -> MAE:
    return randomised(tiny_mae())


@pytest.fixture
def mae_mm_file(mae, tmp_path) -> str:
    """``mae`` saved as mmengine does: ``{'state_dict': backbone.* / neck.*, 'meta'}``."""
    path = str(tmp_path / 'mae_mm.pth')
    torch.save({'state_dict': mae.state_dict(), 'meta': {'epoch': 1}}, path)
    return path
