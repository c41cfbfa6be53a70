"""Partial fine-tuning (the paper's Figure 9): the patch embedding and the first N blocks stay
bit-identical through training steps; the rest trains."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from cls_helpers import FINETUNE_DEMO, build_classifier, config, digit_batch


@pytest.mark.parametrize('frozen', [0, 3])
def test_frozen_blocks_stay_bit_identical(frozen):
    cfg = config(FINETUNE_DEMO)
    model = build_classifier(cfg, frozen_stages=frozen)
    cfg.optim_wrapper.optimizer.lr = 1e-3  # large enough that every trained tensor moves
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert all(not blk.training for blk in model.backbone.blocks[:frozen])  # no drop path there
    for _ in range(2):
        model.train_step(digit_batch(8), optim_wrapper)  # Mixup / CutMix, label smoothing, AdamW
    after = model.state_dict()

    frozen_prefixes = ('backbone.patch_embed.', 'backbone.pos_embed', 'backbone.cls_token',
                       *(f'backbone.blocks.{i}.' for i in range(frozen)))
    for key in before:
        same = torch.equal(before[key], after[key])
        if key.startswith(frozen_prefixes):
            assert same, f'{key} changed although frozen_stages={frozen}'
        else:
            assert not same, f'{key} did not train'


def test_frozen_stages_out_of_range_is_an_error():
    with pytest.raises(ValueError, match=r'frozen_stages must lie in \[-1, 6\]'):
        build_classifier(config(FINETUNE_DEMO), frozen_stages=7)
