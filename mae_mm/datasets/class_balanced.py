"""MMEngine's ClassBalancedDataset, keeping the per-sample seed of ``SeededSampler``."""
from mmengine.dataset import ClassBalancedDataset as MMEngineClassBalancedDataset

from mae_mm.registry import DATASETS
from .samplers import SampleIndex


@DATASETS.register_module()
class ClassBalancedDataset(MMEngineClassBalancedDataset):
    """MMEngine's ``ClassBalancedDataset`` (same arguments, same repeats) for
    ``mae_mm.SeededSampler``.

    MMEngine's looks the wrapped dataset's index up in a list of repeats, which returns a
    plain ``int``: the seed of the :class:`SampleIndex` is lost, and ``SeedSample`` leaves the
    crops, flips and masks to the worker's random state. This one hands the seed on.
    """

    def _get_ori_dataset_idx(self, idx: int) -> int:
        index = super()._get_ori_dataset_idx(idx)
        seed = getattr(idx, 'seed', None)
        return index if seed is None else SampleIndex(index, seed)
