"""mae_mm.RandomResizedCrop: mmpretrain's crop, resized in torch with PIL's filters."""
import numpy as np
import pytest
from mmpretrain.datasets.transforms import RandomResizedCrop as PeerCrop
from PIL import Image
from skimage import data

from mae_mm.benchmark.pipeline import peer_pipeline
from mae_mm.datasets.transforms import RandomResizedCrop

PHOTOS = [data.astronaut(), data.coffee(), data.camera()]  # camera: grey, (H, W)


def crop_both(img: np.ndarray, seed: int, **kwargs) -> tuple:
    """Our and mmpretrain's ('pillow') result from the same random state."""
    np.random.seed(seed)
    ours = RandomResizedCrop(**kwargs)(dict(img=img.copy()))
    np.random.seed(seed)
    peer = PeerCrop(backend='pillow', **kwargs)(dict(img=img.copy()))
    return ours, peer


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('scale', [224, (48, 80)])
def test_same_crop_and_filter_as_mmpretrain_pillow(scale, interpolation):
    """The same crop box and PIL's filter: values agree up to rounding (a crop one pixel off
    differs by more, see below)."""
    kwargs = dict(scale=scale, crop_ratio_range=(0.05, 1.0), interpolation=interpolation)
    means = []
    for img in PHOTOS:
        for seed in range(6):
            ours, peer = crop_both(img, seed, **kwargs)
            assert ours['img'].dtype == np.uint8 and ours['img'].flags.c_contiguous
            assert ours['img'].shape == peer['img'].shape == peer['img_shape'] == ours['img_shape']
            diff = np.abs(ours['img'].astype(int) - peer['img'])
            means.append(diff.mean())
            if interpolation == 'bilinear':  # no overshoot to clip
                assert diff.max() <= 1
    assert max(means) < 0.3 and np.mean(means) < 0.08, means


def test_one_pixel_off_is_detected():
    """The tolerance above is tight enough to see a crop shifted by one pixel."""
    t = RandomResizedCrop(scale=224, crop_ratio_range=(0.05, 1.0), interpolation='bicubic')
    means = []
    for img in PHOTOS:
        for seed in range(6):
            np.random.seed(seed)
            top, left, h, w = t.rand_crop_params(img)
            np.random.seed(seed)
            ours = t(dict(img=img))['img']
            shifted = img[top + 1:top + 1 + h, left:left + w]
            pil = np.asarray(Image.fromarray(shifted).resize((224, 224), Image.BICUBIC))
            means.append(np.abs(ours.astype(int) - pil).mean())
    assert min(means) > 1, means  # 3-7 levels on these photographs


def test_other_backends_are_mmpretrains():
    img = PHOTOS[1]
    for backend in ('pillow', 'cv2'):
        np.random.seed(3)
        ours = RandomResizedCrop(scale=32, backend=backend)(dict(img=img.copy()))['img']
        np.random.seed(3)
        peer = PeerCrop(scale=32, backend=backend)(dict(img=img.copy()))['img']
        np.testing.assert_array_equal(ours, peer)


def test_filter_without_torch_path_is_refused():
    with pytest.raises(ValueError, match=r"'nearest'.*backend='pillow'"):
        RandomResizedCrop(scale=32, interpolation='nearest')
    RandomResizedCrop(scale=32, interpolation='nearest', backend='pillow')


def test_benchmark_peer_swaps_only_the_crop():
    pipeline = [dict(type='mae_mm.LoadImageFromFile'),
                dict(type='mae_mm.RandomResizedCrop', scale=224, interpolation='bicubic'),
                dict(type='RandomFlip', prob=0.5)]
    assert peer_pipeline(pipeline) == [
        pipeline[0], dict(type='mmpretrain.RandomResizedCrop', scale=224,
                          interpolation='bicubic', backend='pillow'), pipeline[2]]
