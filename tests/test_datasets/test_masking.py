"""Masking transforms: exact counts, uniformity, the paper's block / grid patterns, seeding."""
import numpy as np
import pytest

from mae_mm.datasets.transforms import BlockMasking, GridMasking, RandomMasking
from mae_mm.models.layers import num_masked_patches

IMG = np.zeros((64, 64, 3), dtype=np.uint8)  # an 8 x 8 grid at patch 8


def official_num_masked(num_patches: int, ratio: float) -> int:
    """The official code's count: it keeps ``int(L * (1 - mask_ratio))`` patches."""
    return num_patches - int(num_patches * (1 - ratio))


@pytest.mark.parametrize('ratio', [0.1, 0.5, 0.75, 0.9])
@pytest.mark.parametrize('cls', [RandomMasking, BlockMasking])
def test_exact_count(cls, ratio):
    t = cls(patch_size=8, mask_ratio=ratio)
    for _ in range(50):
        mask = t({'img': IMG})['mask']
        assert mask.shape == (64,) and mask.dtype == np.uint8
        assert mask.sum() == official_num_masked(64, ratio)


@pytest.mark.parametrize('num_patches', [49, 64, 196, 256, 1024])
def test_counts_are_the_official_codes(num_patches):
    """round(L * ratio) kept one patch more than the official code at 0.2, 0.4, 0.7, 0.9,
    0.95 of 196 patches (the paper's mask-ratio sweep and Figure 3 ratios)."""
    for ratio in [r / 100 for r in range(5, 100, 5)] + [0.75]:
        want = official_num_masked(num_patches, ratio)
        if 0 < want < num_patches:
            assert num_masked_patches(num_patches, ratio) == want, ratio
    assert num_masked_patches(196, 0.9) == 177  # 19 visible, as the official code keeps


def test_random_masking_is_uniform_over_positions():
    """Chi-square test: each position is masked with probability 0.75 over many draws."""
    np.random.seed(0)
    t = RandomMasking(patch_size=8, mask_ratio=0.75)
    draws = 4000
    counts = sum(t({'img': IMG})['mask'].astype(np.int64) for _ in range(draws))
    expected = draws * 0.75
    chi2 = (((counts - expected)**2) / expected).sum() + (((counts - expected)**2) / (draws - expected)).sum()
    # 63 degrees of freedom: the 99.9% quantile is about 103
    assert chi2 < 103, f'chi2 = {chi2:.1f}'


def test_block_masking_makes_contiguous_blocks():
    """Block masks have far fewer masked/visible boundaries than random ones of equal count."""
    np.random.seed(0)

    def boundaries(mask):
        m = mask.reshape(8, 8).astype(int)
        return np.abs(np.diff(m, axis=0)).sum() + np.abs(np.diff(m, axis=1)).sum()

    block = np.mean([boundaries(BlockMasking(8, 0.5, min_block_patches=4)({'img': IMG})['mask'])
                     for _ in range(200)])
    rand = np.mean([boundaries(RandomMasking(8, 0.5)({'img': IMG})['mask']) for _ in range(200)])
    assert block < 0.6 * rand, (block, rand)


def test_grid_masking_keeps_one_of_every_2x2():
    mask = GridMasking(patch_size=8)({'img': IMG})['mask'].reshape(8, 8)
    assert mask.sum() == 48
    assert (mask[0::2, 0::2] == 0).all() and (mask[1::2, :] == 1).all() and (mask[:, 1::2] == 1).all()
    offsets = {tuple(np.argwhere(GridMasking(8, random_offset=True)({'img': IMG})['mask']
                                 .reshape(8, 8)[:2, :2] == 0)[0]) for _ in range(100)}
    assert len(offsets) == 4


def test_same_seed_same_masks():
    for cls in (RandomMasking, BlockMasking):
        t = cls(patch_size=8, mask_ratio=0.75)
        np.random.seed(3)
        a = [t({'img': IMG})['mask'] for _ in range(5)]
        np.random.seed(3)
        b = [t({'img': IMG})['mask'] for _ in range(5)]
        assert all((x == y).all() for x, y in zip(a, b))


def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match='mask_ratio must lie in'):
        RandomMasking(mask_ratio=1.0)
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        RandomMasking(patch_size=16)({'img': np.zeros((60, 64, 3), np.uint8)})
    with pytest.raises(ValueError, match='not divisible by the grid cell'):
        GridMasking(patch_size=8)({'img': np.zeros((56, 56, 3), np.uint8)})
    for cell in (1, 0, 2.0):  # mask_ratio 0 / a ZeroDivisionError / a TypeError in slicing
        with pytest.raises(ValueError, match=f'cell must be an int of at least 2.*got {cell}'):
            GridMasking(patch_size=8, cell=cell)
    with pytest.raises(ValueError, match='min_aspect must lie in .*got 0'):  # math domain error
        BlockMasking(patch_size=8, min_aspect=0)
