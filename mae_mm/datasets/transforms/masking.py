"""Masking transforms: decide per sample which patches the encoder never sees.

Each writes ``results['mask']``, a (L,) uint8 array over the patches in row-major order
(1 = masked, 0 = visible) with exactly ``L - int(L * (1 - mask_ratio))`` ones (the official
code's count), which ``PackInputs`` puts into the data sample. They draw from NumPy's global
generator, which MMEngine seeds per worker from the run's seed, so the same seed gives the
same masks.
"""
import math
from typing import Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mae_mm.registry import TRANSFORMS
from mae_mm.models.layers.masking import check_mask_ratio, num_masked_patches
from mae_mm.models.layers.patch_embed import check_size

ImageSize = Union[int, Tuple[int, int]]  # (H, W), or one side of a square


class _PatchMasking(BaseTransform):
    """Shared part: the patch grid of the image and the fixed count to mask.

    Args:
        patch_size (int): Patch side of the model.
        mask_ratio (float): Fraction of patches to mask, in (0, 1).
        input_size (int | tuple, optional): Image size the grid is computed from; by
            default the size of ``results['img']`` (after cropping).
    """

    def __init__(self, patch_size: int = 16, mask_ratio: float = 0.75,
                 input_size: Optional[ImageSize] = None) -> None:
        check_size('patch_size', patch_size, allow_pair=False)
        if input_size is not None:
            check_size('input_size', input_size, allow_pair=True)
        check_mask_ratio(mask_ratio)
        self.patch_size = patch_size
        self.mask_ratio = mask_ratio
        self.input_size = (input_size, input_size) if isinstance(input_size, int) else input_size

    def grid(self, results: dict) -> Tuple[int, int]:
        h, w = self.input_size or results['img'].shape[:2]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'image size {(h, w)} is not divisible by patch_size '
                             f'{self.patch_size}; crop or resize to a multiple before masking')
        return h // self.patch_size, w // self.patch_size

    def make_mask(self, grid: Tuple[int, int], num_masked: int) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        grid = self.grid(results)
        num_masked = num_masked_patches(grid[0] * grid[1], self.mask_ratio)
        mask = self.make_mask(grid, num_masked)
        results['mask'] = mask.reshape(-1).astype(np.uint8, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(patch_size={self.patch_size}, '
                f'mask_ratio={self.mask_ratio}, input_size={self.input_size})')


@TRANSFORMS.register_module()
class RandomMasking(_PatchMasking):
    """MAE's default: a uniformly random subset of patches (sampling without replacement)."""

    def make_mask(self, grid: Tuple[int, int], num_masked: int) -> np.ndarray:
        num_patches = grid[0] * grid[1]
        mask = np.zeros(num_patches, dtype=np.uint8)
        mask[:num_masked] = 1
        np.random.shuffle(mask)  # a uniformly random arrangement of the fixed count
        return mask


@TRANSFORMS.register_module()
class BlockMasking(_PatchMasking):
    """BEiT-style block-wise masking (the paper's Figure 6, middle).

    Rectangles of random area (at least ``min_block_patches``) and aspect ratio
    (log-uniform in [``min_aspect``, 1 / ``min_aspect``]) are masked until the count is
    reached; a block is accepted only if it adds between 1 and the remaining count of new
    patches. If the attempts run out, random single patches complete the exact count.

    Args:
        min_block_patches (int): Smallest block area in patches. Defaults to 16.
        min_aspect (float): Smallest aspect ratio. Defaults to 0.3.
        max_attempts (int): Block proposals per mask. Defaults to 100.
    """

    def __init__(self, patch_size: int = 16, mask_ratio: float = 0.75,
                 input_size: Optional[ImageSize] = None, min_block_patches: int = 16,
                 min_aspect: float = 0.3, max_attempts: int = 100) -> None:
        super().__init__(patch_size, mask_ratio, input_size)
        if not 0 < min_aspect <= 1:
            raise ValueError(f'min_aspect must lie in (0, 1] (blocks from min_aspect to '
                             f'1 / min_aspect), got {min_aspect}; BEiT uses 0.3')
        self.min_block_patches = min_block_patches
        self.log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
        self.max_attempts = max_attempts

    def _propose(self, grid: Tuple[int, int], remaining: int) -> Tuple[int, int, int, int]:
        """A random rectangle (top, left, height, width) inside the grid."""
        area = np.random.uniform(min(self.min_block_patches, remaining), remaining)
        aspect = math.exp(np.random.uniform(*self.log_aspect))
        h = min(max(int(round(math.sqrt(area * aspect))), 1), grid[0])
        w = min(max(int(round(math.sqrt(area / aspect))), 1), grid[1])
        top = np.random.randint(0, grid[0] - h + 1)
        left = np.random.randint(0, grid[1] - w + 1)
        return top, left, h, w

    def make_mask(self, grid: Tuple[int, int], num_masked: int) -> np.ndarray:
        mask = np.zeros(grid, dtype=np.uint8)
        remaining = num_masked
        for _ in range(self.max_attempts):
            if remaining == 0:
                break
            top, left, h, w = self._propose(grid, remaining)
            block = mask[top:top + h, left:left + w]
            new = int(block.size - block.sum())
            if 0 < new <= remaining:
                block[...] = 1
                remaining -= new
        if remaining:  # top up with random visible patches to the exact count
            flat = mask.reshape(-1)
            flat[np.random.permutation(np.flatnonzero(flat == 0))[:remaining]] = 1
        return mask


@TRANSFORMS.register_module()
class GridMasking(_PatchMasking):
    """Grid-wise masking (the paper's Figure 6, right): keep one patch of every
    ``cell`` x ``cell`` cell, so ``mask_ratio`` is ``1 - 1 / cell**2`` (0.75 for cell 2).

    Args:
        cell (int): Side of the cell of which one patch stays visible. Defaults to 2.
        random_offset (bool): Draw which patch of the cell stays visible per sample
            (the same for every cell); False keeps the top-left one. Defaults to False.
    """

    def __init__(self, patch_size: int = 16, input_size: Optional[ImageSize] = None, cell: int = 2,
                 random_offset: bool = False) -> None:
        if isinstance(cell, bool) or not isinstance(cell, int) or cell < 2:
            raise ValueError(f'cell must be an int of at least 2 (one patch of cell x cell stays '
                             f'visible: mask_ratio 1 - 1 / cell**2), got {cell!r}; the paper '
                             f'uses 2 (mask_ratio 0.75)')
        super().__init__(patch_size, 1.0 - 1.0 / cell**2, input_size)
        self.cell = cell
        self.random_offset = random_offset

    def make_mask(self, grid: Tuple[int, int], num_masked: int) -> np.ndarray:
        if grid[0] % self.cell or grid[1] % self.cell:
            raise ValueError(f'patch grid {grid} is not divisible by the grid cell {self.cell}; '
                             f'use an image size that is a multiple of {self.cell * self.patch_size}')
        dy, dx = np.random.randint(0, self.cell, size=2) if self.random_offset else (0, 0)
        mask = np.ones(grid, dtype=np.uint8)
        mask[dy::self.cell, dx::self.cell] = 0
        return mask
