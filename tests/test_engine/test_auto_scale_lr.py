"""--auto-scale-lr counts accumulated steps in the real batch (MMEngine's scaling does not)."""
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import PRETRAIN_DEMO, demo_overrides
from mae_mm.engine.cli import enable_auto_scale_lr

DEMO_LR = 1e-3  # the demo config's AdamW lr


@pytest.mark.parametrize('accumulate', [1, 4])
def test_lr_follows_the_batch_including_accumulated_steps(tmp_path, demo_images, accumulate):
    cfg = Config.fromfile(PRETRAIN_DEMO)
    cfg.merge_from_dict({**demo_overrides(demo_images, epochs=1, batch=8), 'work_dir': str(tmp_path),
                         'optim_wrapper.accumulative_counts': accumulate,
                         'auto_scale_lr.base_batch_size': 64})
    enable_auto_scale_lr(cfg)
    runner = Runner.from_cfg(cfg)
    optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(optim_wrapper, runner.auto_scale_lr)  # what Runner.train does first
    # 1 process x 8 images x `accumulate` steps per update, against the recipe's 64
    expected = DEMO_LR * 8 * accumulate / 64
    groups = optim_wrapper.optimizer.param_groups
    assert [group['lr'] for group in groups] == pytest.approx([expected] * len(groups))


def test_auto_scale_lr_needs_the_recipe_batch():
    cfg = Config.fromfile(PRETRAIN_DEMO)
    cfg.pop('auto_scale_lr')
    with pytest.raises(ValueError, match='auto_scale_lr.base_batch_size'):
        enable_auto_scale_lr(cfg)
