"""The built-in image set is written whole or not at all."""
import os

import numpy as np
import pytest

from mae_mm.datasets import builtin

PHOTOS = [np.full((64, 96, 3), 40 * i, dtype=np.uint8) for i in range(3)]  # 6 tiles each at 32


def photos_then_crash(count: int):
    """Stand-in for the photographs: ``count`` of them, then an interruption."""
    def photos():
        yield from PHOTOS[:count]
        raise KeyboardInterrupt
    return photos


def test_an_interrupted_first_run_leaves_no_partial_set(tmp_path, monkeypatch):
    """The set used to be written in place: after an interruption the folder kept the tiles
    written so far, and every later run trained on that partial set."""
    dst = str(tmp_path / 'demo_images')
    monkeypatch.setattr(builtin, '_photos', photos_then_crash(2))
    with pytest.raises(KeyboardInterrupt):
        builtin.make_demo_images(dst, tile=32)
    assert not os.path.isdir(dst) or not os.listdir(dst)
    assert os.listdir(tmp_path) in ([], ['demo_images'])  # no temporary folder left either
    monkeypatch.setattr(builtin, '_photos', lambda: iter(PHOTOS))
    assert builtin.make_demo_images(dst, tile=32) == 18
    assert builtin.make_demo_images(dst, tile=32) == 18  # idempotent


def test_a_folder_with_other_files_gets_the_images(tmp_path, monkeypatch):
    (tmp_path / 'README.txt').write_text('my notes')
    monkeypatch.setattr(builtin, '_photos', lambda: iter(PHOTOS))
    assert builtin.make_demo_images(str(tmp_path), tile=32) == 18
    assert sorted(os.listdir(tmp_path))[-1] == 'photo02_tile05.png'
    assert (tmp_path / 'README.txt').read_text() == 'my notes'
