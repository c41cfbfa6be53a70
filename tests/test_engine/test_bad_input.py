"""Bad input fails early with a message naming the value and the fix."""
import numpy as np
import pytest
from mmengine.config import Config

from mae_mm.datasets import ClassBalancedDataset, SampleIndex, SeededSampler
from mae_mm.datasets.transforms import LoadImageFromFile, RandomMasking, SeedSample
from mae_mm.engine.preflight import check_data_roots
from mae_mm.models import MAEViT


def loader_cfg(root) -> Config:
    return Config(dict(train_dataloader=dict(dataset=dict(type='CustomDataset', data_root=str(root)))))


def test_missing_or_empty_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_root '.*nope' does not exist.*data_root=PATH"):
        check_data_roots(loader_cfg(tmp_path / 'nope'))
    (tmp_path / 'empty' / 'sub').mkdir(parents=True)
    (tmp_path / 'empty' / 'sub' / 'notes.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match='holds no image files'):
        check_data_roots(loader_cfg(tmp_path / 'empty'))
    (tmp_path / 'empty' / 'sub' / 'a.JPG').write_bytes(b'')
    check_data_roots(loader_cfg(tmp_path / 'empty'))


def test_wrapped_dataset_error_names_its_config_key(tmp_path):
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
        dict(type='CustomDataset', data_root=str(tmp_path)),
        dict(type='RepeatDataset', times=2,
             dataset=dict(type='CustomDataset', data_root=str(tmp_path / 'nope')))]))))
    (tmp_path / 'a.png').write_bytes(b'')
    key = 'train_dataloader.dataset.datasets.1.dataset.data_root'
    with pytest.raises(FileNotFoundError, match=rf"^{key} '.*nope' does not exist.*"
                                                rf"--cfg-options {key}=PATH"):
        check_data_roots(cfg)


def test_builtin_images_need_no_data_root_beforehand(tmp_path):
    import mae_mm  # noqa: F401  (registers mae_mm.BuiltinImages)
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='mae_mm.BuiltinImages',
                                                         data_root=str(tmp_path / 'new')))))
    check_data_roots(cfg)


def test_corrupt_image_is_named_or_skipped(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match=r"cannot read image '.*broken\.jpg'.*skip_corrupt=True"):
        LoadImageFromFile()(dict(img_path=str(bad)))
    loader = LoadImageFromFile(skip_corrupt=True)
    assert loader(dict(img_path=str(bad))) is None
    assert loader(dict(img_path=str(tmp_path / 'missing.png'))) is None
    assert loader.skipped == 2


def test_wrong_config_types():
    with pytest.raises(TypeError, match=r"mask_ratio must be a number.*'0\.75' \(str\)"):
        MAEViT(arch='tiny', mask_ratio='0.75')
    with pytest.raises(TypeError, match=r"img_size must be an int.*'224' \(str\)"):
        MAEViT(arch='tiny', img_size='224')
    with pytest.raises(TypeError, match='patch_size must be an int'):
        RandomMasking(patch_size=16.0)


def test_seeded_sampler_makes_augmentation_a_function_of_seed_epoch_index():
    sampler = SeededSampler(list(range(10)), shuffle=True, seed=3)
    sampler.set_epoch(2)
    first = list(sampler)
    assert sorted(int(i) for i in first) == list(range(10))
    again = list(sampler)
    assert [i.seed for i in first] == [i.seed for i in again]
    sampler.set_epoch(3)
    assert {i.seed for i in first}.isdisjoint({i.seed for i in sampler})
    masking = RandomMasking(patch_size=8)
    img = np.zeros((64, 64, 3), np.uint8)

    def mask_of(index):
        return masking(SeedSample()(dict(sample_idx=index, img=img)))['mask']

    idx = first[0]
    np.random.seed(0)
    a = mask_of(idx)
    np.random.seed(123)  # whatever state the worker is in
    assert (mask_of(idx) == a).all()
    import pickle
    assert pickle.loads(pickle.dumps(idx)).seed == idx.seed  # survives worker transport
    assert isinstance(idx, SampleIndex) and int(idx) == idx


def _three_image_dataset(root) -> dict:
    (root / 'cls').mkdir()
    for name in ('a.png', 'b.png', 'c.png'):
        (root / 'cls' / name).write_bytes(b'')
    return dict(data_root=str(root), pipeline=[SeedSample()], lazy_init=False)


def test_the_seed_reaches_the_sample_through_dataset_wrappers(tmp_path):
    """RepeatDataset and ConcatDataset map the index with % and -, ClassBalancedDataset looks
    it up in a list; a plain int lost the seed, and crops and masks came from the worker's
    random state instead."""
    from mmengine.dataset import ConcatDataset, RepeatDataset
    from mmpretrain.datasets import CustomDataset
    data = _three_image_dataset(tmp_path)
    repeated = RepeatDataset(CustomDataset(**data), times=4)
    concat = ConcatDataset([CustomDataset(**data), CustomDataset(**data)])
    balanced = ClassBalancedDataset(CustomDataset(**data), oversample_thr=4.0)
    assert len(balanced) == 6  # one class: every image repeated sqrt(4 / 1) times
    for dataset, index in ((repeated, 10), (concat, 4), (concat, 1), (balanced, 5)):
        sample_idx = dataset[SampleIndex(index, seed=7)]['sample_idx']
        assert getattr(sample_idx, 'seed', None) == 7, (type(dataset).__name__, index)
    assert type(balanced[5]['sample_idx']) is int  # an index without a seed stays plain


def test_seeded_sampler_refuses_mmengines_class_balanced_dataset(tmp_path):
    from mmengine.dataset import ClassBalancedDataset as MMEngineClassBalancedDataset
    from mmengine.dataset import RepeatDataset
    from mmpretrain.datasets import CustomDataset
    data = _three_image_dataset(tmp_path)
    balanced = dict(type='ClassBalancedDataset', oversample_thr=4.0,
                    dataset=dict(type='mmpretrain.CustomDataset', **data))
    for dataset in (MMEngineClassBalancedDataset(CustomDataset(**data), 4.0),
                    RepeatDataset(balanced, times=2)):  # also wrapped, as a config nests it
        with pytest.raises(TypeError, match=r"use dict\(type='mae_mm.ClassBalancedDataset'"):
            SeededSampler(dataset, seed=0)
    SeededSampler(RepeatDataset(dict(balanced, type='mae_mm.ClassBalancedDataset'), times=2),
                  seed=0)

