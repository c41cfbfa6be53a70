"""Per-sample random seeds that survive restarts, worker processes and ranks.

``SeededSampler`` yields indices that carry a seed derived from (run seed, epoch, index);
the ``SeedSample`` transform, first in a pipeline, seeds NumPy and Python's ``random``
with it before the random crops, flips and masks run. A sample's augmentation then depends
on nothing else: resuming mid-run, changing the number of workers, or splitting the batch
over processes reproduces it exactly.
"""
from typing import Iterator

from mmengine.dataset import ClassBalancedDataset as MMEngineClassBalancedDataset
from mmengine.dataset import DefaultSampler

from mae_mm.registry import DATA_SAMPLERS


class SampleIndex(int):
    """An ``int`` dataset index with the ``seed`` of the sample it selects.

    The seed survives the index arithmetic of MMEngine's dataset wrappers (``RepeatDataset``
    takes ``index % len``, ``ConcatDataset`` subtracts the lengths of the datasets before), so
    the wrapped dataset's sample still carries it.
    """

    seed: int

    def __new__(cls, index: int, seed: int) -> 'SampleIndex':
        obj = super().__new__(cls, index)
        obj.seed = seed
        return obj

    def __reduce__(self):  # keep the seed when sent to worker processes
        return SampleIndex, (int(self), self.seed)

    def __mod__(self, other: int) -> 'SampleIndex':
        return SampleIndex(int(self) % other, self.seed)

    def __sub__(self, other: int) -> 'SampleIndex':
        return SampleIndex(int(self) - other, self.seed)

    def __add__(self, other: int) -> 'SampleIndex':
        return SampleIndex(int(self) + other, self.seed)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed mixing the run seed, the epoch and the dataset index."""
    x = (seed * 0x9E3779B1 + epoch * 0x85EBCA77 + index * 0xC2B2AE3D) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    return (x * 0x846CA68B) & 0xFFFFFFFF


def _wrapped(dataset) -> Iterator:
    """``dataset`` and every dataset it wraps (``.dataset`` / ``.datasets``), outermost first."""
    yield dataset
    for inner in [getattr(dataset, 'dataset', None), *getattr(dataset, 'datasets', [])]:
        if inner is not None:
            yield from _wrapped(inner)


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """MMEngine's ``DefaultSampler`` (same arguments and order) with per-sample seeds.

    Raises:
        TypeError: The dataset is, or wraps, MMEngine's ``ClassBalancedDataset``, which drops
            the seeds; ``mae_mm.ClassBalancedDataset`` keeps them.
    """

    def __init__(self, dataset, *args, **kwargs) -> None:
        from .class_balanced import ClassBalancedDataset
        for inner in _wrapped(dataset):
            if (isinstance(inner, MMEngineClassBalancedDataset)
                    and not isinstance(inner, ClassBalancedDataset)):
                raise TypeError("MMEngine's ClassBalancedDataset drops the per-sample seeds of "
                                "mae_mm.SeededSampler, so augmentations would not repeat after "
                                "a resume; use dict(type='mae_mm.ClassBalancedDataset', ...) "
                                "(same arguments)")
        super().__init__(dataset, *args, **kwargs)

    def __iter__(self):
        for index in super().__iter__():
            yield SampleIndex(index, sample_seed(self.seed, self.epoch, index))
