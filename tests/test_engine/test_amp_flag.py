"""tools/train.py --amp switches every wrapper it knows to mixed precision, and refuses the
others rather than train in full precision unannounced."""
import argparse
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO
from mae_mm.engine.optim_wrappers import SkipNonFiniteAmpOptimWrapper
from mae_mm.registry import OPTIM_WRAPPERS


def apply_amp_flag(optim_wrapper: dict) -> dict:
    """The optim_wrapper config after tools/train.py's handling of ``--amp``."""
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(REPO, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    cfg = Config(dict(optim_wrapper=dict(optim_wrapper, optimizer=dict(type='SGD', lr=0.1))))
    args = argparse.Namespace(amp=True, auto_scale_lr=False, resume=None)
    return train_tool.apply_train_args(cfg, args).optim_wrapper.to_dict()


@pytest.mark.parametrize('wrapper, amp', [
    ({}, 'mae_mm.AmpOptimWrapper'),  # MMEngine's default, OptimWrapper
    (dict(type='OptimWrapper'), 'mae_mm.AmpOptimWrapper'),
    (dict(type='mae_mm.SkipNonFiniteOptimWrapper'), 'mae_mm.SkipNonFiniteAmpOptimWrapper'),
])
def test_amp_switches_to_the_mixed_precision_sibling(wrapper, amp):
    result = apply_amp_flag(wrapper)
    assert (result['type'], result['dtype']) == (amp, 'bfloat16')


def test_the_skipping_amp_wrapper_is_the_registered_class():
    assert OPTIM_WRAPPERS.get('mae_mm.SkipNonFiniteAmpOptimWrapper') is SkipNonFiniteAmpOptimWrapper


@pytest.mark.parametrize('kind', ['AmpOptimWrapper', 'mae_mm.AmpOptimWrapper',
                                  'mae_mm.SkipNonFiniteAmpOptimWrapper'])
def test_amp_leaves_mixed_precision_wrappers_alone(kind):
    assert apply_amp_flag(dict(type=kind, dtype='float16')) == dict(
        type=kind, dtype='float16', optimizer=dict(type='SGD', lr=0.1))


def test_amp_refuses_a_wrapper_without_a_known_amp_version():
    with pytest.raises(ValueError, match=r"'OptimWrapperDict'.*mae_mm\.AmpOptimWrapper"):
        apply_amp_flag(dict(type='OptimWrapperDict'))
