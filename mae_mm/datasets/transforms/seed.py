"""Seed the random transforms of one sample from the seed its index carries."""
import random

import numpy as np
from mmcv.transforms import BaseTransform

from mae_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SeedSample(BaseTransform):
    """Put first in a training pipeline with ``mae_mm.SeededSampler``.

    Seeds NumPy's global generator and Python's ``random`` from ``results['sample_idx']``'s
    seed, so the crops, flips and masks that follow are a function of (run seed, epoch,
    index) alone. Without a seeded index (another sampler) it does nothing.
    """

    def transform(self, results: dict) -> dict:
        seed = getattr(results.get('sample_idx'), 'seed', None)
        if seed is not None:
            np.random.seed(seed)
            random.seed(seed)
        return results
