"""linear_probe_benchmark: the demo pretraining config adapted to the digits."""
import argparse
import importlib.util
import os.path as osp

from conftest import REPO


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'linear_probe_benchmark.py')
    spec = importlib.util.spec_from_file_location('linear_probe_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretraining_pipeline_is_adapted_to_the_digits(tmp_path):
    """Its crop and masking steps take the digits' size and the model's patch; flips go."""
    tool = load_tool()
    args = argparse.Namespace(pretrain_lr=1e-3, pretrain_epochs=4, work_dir=str(tmp_path), seed=0)
    cfg = tool.pretrain_config(args, str(tmp_path), size=32)
    steps = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    crop, mask = steps['mae_mm.RandomResizedCrop'], steps['mae_mm.RandomMasking']
    assert crop['scale'] == 32 and crop['crop_ratio_range'] == (0.35, 1.0)
    assert mask['patch_size'] == cfg.patch_size == cfg.model.backbone.patch_size
    assert 'RandomFlip' not in steps and cfg.model.backbone.img_size == 32
