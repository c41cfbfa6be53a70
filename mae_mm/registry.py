"""mae_mm's registries: children of MMEngine's root registries, scope ``mae_mm``.

Configs of any OpenMMLab host reach these modules as ``type='mae_mm.<Name>'`` after
``custom_imports=dict(imports=['mae_mm'])``. The ``locations`` make the registries import
their modules lazily when they are searched.
"""
import torch.nn as nn
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mae_mm', locations=['mae_mm.models'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mae_mm',
                      locations=['mae_mm.datasets'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mae_mm',
                    locations=['mae_mm.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mae_mm',
                         locations=['mae_mm.datasets'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mae_mm', locations=['mae_mm.engine'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mae_mm',
                          locations=['mae_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mae_mm', locations=['mae_mm.engine'])


def build_model(cfg: dict) -> nn.Module:
    """Build a model part of ours from a config, looking bare names up in mae_mm's scope.

    Without this, a bare ``type='MAEViT'`` built while the default scope is a host's
    ('mmpretrain', 'mmdet', ...) would silently resolve to the host's class of that name.
    A prefixed name (``'mmpretrain.X'``) still reaches the host.
    """
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mae_mm')
    return MODELS.build(cfg)
