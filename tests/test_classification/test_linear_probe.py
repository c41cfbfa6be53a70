"""Linear probing: the frozen encoder's class token through BatchNorm (no affine) into the head,
and only the head learns."""
import torch
from mmengine.optim import build_optim_wrapper

from cls_helpers import LINPROBE_DEMO, build_classifier, config, digit_batch


def probe():
    cfg = config(LINPROBE_DEMO)
    return cfg, build_classifier(cfg)


def test_only_the_head_is_trainable_and_the_batchnorm_has_no_parameters():
    _, model = probe()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.fc.weight', 'head.fc.bias'}
    bn = model.neck.bn
    assert isinstance(bn, torch.nn.BatchNorm1d) and not bn.affine
    assert list(model.neck.parameters()) == []
    # the feature is the class token after the encoder's final (frozen) norm
    backbone = model.backbone
    assert backbone.out_type == 'cls' and backbone.frozen_stages == backbone.num_layers
    assert not backbone.norm.weight.requires_grad and not backbone.norm.bias.requires_grad


def test_only_the_head_receives_gradients():
    _, model = probe()
    model.train()
    data = model.data_preprocessor(digit_batch(8), True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {'head.fc.weight', 'head.fc.bias'}
    assert model.head.fc.weight.grad.abs().sum() > 0


def test_training_steps_change_the_head_and_bn_statistics_only():
    cfg, model = probe()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(optim_wrapper.optimizer).__name__ == 'LARS'
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    for _ in range(3):
        model.train_step(digit_batch(8), optim_wrapper)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {'head.fc.weight', 'neck.bn.running_mean', 'neck.bn.running_var'} <= changed
    assert not any(k.startswith('backbone.') for k in changed), sorted(changed)
