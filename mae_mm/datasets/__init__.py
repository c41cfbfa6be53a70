from .builtin_dataset import BuiltinImages
from .class_balanced import ClassBalancedDataset
from .samplers import SampleIndex, SeededSampler
from .transforms import *  # noqa: F401,F403

__all__ = ['BuiltinImages', 'ClassBalancedDataset', 'SampleIndex', 'SeededSampler']
