"""Speed options leave the numerics unchanged: compiled vs eager, bf16 wrapper semantics."""
import copy
from collections import Counter

import pytest
import torch
from conftest import tiny_mae, with_moved_norms
from mmpretrain.structures import DataSample

from mae_mm.benchmark.saved import saved_activations
from mae_mm.models import MAE

TINY = dict(embed_dims=32, num_layers=2, num_heads=4)


def fixed_batch():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 16)
    mask[0, 4:] = 1
    mask[1, :12] = 1
    return x, [DataSample().set_mask(m) for m in mask]


def grads_of(model: MAE, loss: torch.Tensor) -> dict:
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))


def saved_groups(model: MAE) -> Counter:
    """Bytes the graph of the fixed batch's loss keeps for backward, by (shape, dtype)."""
    x, samples = fixed_batch()
    groups = saved_activations(lambda: model.loss(x, samples)['loss'], [*model.parameters(), x])
    return Counter({(g.shape, g.dtype): g.nbytes for g in groups})


def saved_for_backward(model: MAE) -> int:
    """Bytes the graph of the fixed batch's loss keeps for backward."""
    return sum(saved_groups(model).values())


@pytest.mark.slow
@pytest.mark.parametrize('compile', [True, dict(activation_memory_budget=0.1),
                                     dict(recompute_gelu=True, recompute_norm=True),
                                     dict(fold_norm=True),
                                     dict(fold_norm=True, fuse_bias_grad=True)])
def test_compiled_model_matches_eager(compile):
    """model.compile (with or without recomputation, with folded norms, with fc1's bias
    gradient summed per sample): the same loss and gradients for every parameter, the same
    state dict."""
    eager_model = with_moved_norms(tiny_mae())
    compiled_model = with_moved_norms(tiny_mae(compile=compile))
    assert eager_model.compile_cfg is None
    assert compiled_model.compile_cfg == ({} if compile is True else compile)
    x, samples = fixed_batch()
    eager = eager_model.loss(x, samples)['loss']
    compiled = compiled_model.loss(x, samples)['loss']
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    grads, grads_c = grads_of(eager_model, eager), grads_of(compiled_model, compiled)
    assert grads_c.keys() == grads.keys() and len(grads) == 48
    for name in grads:
        torch.testing.assert_close(grads_c[name], grads[name], rtol=1e-4, atol=1e-6, msg=name)
    assert compiled_model.state_dict().keys() == eager_model.state_dict().keys()
    copy.deepcopy(compiled_model)  # no compiled state is held by the model


@pytest.mark.slow
def test_memory_budget_keeps_fewer_activations():
    """A lower activation_memory_budget saves fewer bytes for backward, each budget compiled
    on its own in one process (not the code compiled for the previous budget)."""
    saved = [saved_for_backward(tiny_mae(compile=c)) for c in
             (True, dict(activation_memory_budget=0.5), dict(activation_memory_budget=0.1))]
    assert saved[0] > saved[1] > saved[2], saved


@pytest.mark.slow
def test_recompute_gelu_keeps_only_the_hidden_layer_input():
    """recompute_gelu: the compiled graph no longer keeps GELU's outputs, and nothing else
    changes: exactly their bytes less (fp32; the encoder's 2 blocks on 2 x 5 tokens, width
    128; the decoder's one block on the 2 x 12 masked tokens it predicts, width 64)."""
    gelu_outputs = 4 * (2 * 2 * 5 * 128 + 2 * 12 * 64)
    assert saved_for_backward(tiny_mae(compile=True)) - gelu_outputs == saved_for_backward(
        tiny_mae(compile=dict(recompute_gelu=True)))


@pytest.mark.slow
def test_recompute_norm_keeps_only_the_norm_inputs():
    """recompute_norm: the compiled graph no longer keeps the blocks' LayerNorm outputs (fp32:
    the encoder's 2 x 2 on 2 x 5 tokens, width 32; the decoder's norm1 on all 2 x 17 tokens
    and norm2 on the 2 x 12 it predicts, width 16) nor their per-token statistics, and keeps
    nothing in their place."""
    before = saved_groups(tiny_mae(compile=True))
    after = saved_groups(tiny_mae(compile=dict(recompute_norm=True)))
    assert not after - before
    removed = before - after
    outputs = {key: n for key, n in removed.items() if key[0][-1] != 1}
    assert outputs == {((10, 32), torch.float32): 4 * 10 * 32 * 4,
                       ((34, 16), torch.float32): 34 * 16 * 4,
                       ((24, 16), torch.float32): 24 * 16 * 4}
    assert set(removed) - set(outputs) <= {((2, 5, 1), torch.float32),
                                           ((2, 17, 1), torch.float32),
                                           ((2, 12, 1), torch.float32)}


@pytest.mark.slow
def test_fold_norm_keeps_no_norm_inputs():
    """fold_norm: the compiled graph keeps one token-width tensor less per LayerNorm (fp32: the
    encoder's 2 x 2 on 2 x 5 tokens, width 32; the decoder's norm1 on all 2 x 17 tokens and
    norm2 on the 2 x 12 it predicts, width 16). It keeps the folded weights instead, which do
    not grow with the batch: compared here is what two more images add."""
    def tokens_of_two_images(model: MAE) -> int:
        x, samples = fixed_batch()
        sizes = []
        for images, masks in ((x, samples), (torch.cat([x, x]), samples + samples)):
            groups = saved_activations(lambda: model.loss(images, masks)['loss'],
                                       [*model.parameters(), images])
            sizes.append(sum(g.nbytes for g in groups if g.shape[-1] > 1))  # no token stats
        return sizes[1] - sizes[0]

    removed = (tokens_of_two_images(tiny_mae(compile=dict(dynamic=False)))
               - tokens_of_two_images(tiny_mae(compile=dict(fold_norm=True, dynamic=False))))
    assert removed == 4 * (4 * 10 * 32 + 34 * 16 + 24 * 16)


def test_compile_option_is_checked():
    parts = dict(backbone=dict(type='MAEViT', arch=TINY, img_size=32, patch_size=8),
                 neck=dict(type='MAEDecoder'), head=dict(type='MAEHead'))
    with pytest.raises(TypeError, match=r"compile must be True, False or a dict.*'yes'"):
        MAE(**parts, compile='yes')
    with pytest.raises(ValueError, match=r'activation_memory_budget must be a number in '
                                         r'\(0, 1\], got 1.5'):
        MAE(**parts, compile=dict(activation_memory_budget=1.5))
    with pytest.raises(ValueError, match='recompute_norm and compile.fold_norm.*only one'):
        MAE(**parts, compile=dict(recompute_norm=True, fold_norm=True))


def test_grouped_constructor_merges_groups_with_the_same_options():
    """Three groups (decay, no decay, no decay by custom key) instead of one per tensor; the
    same update as MMEngine's constructor."""
    from mmengine.optim import build_optim_wrapper
    wrapper_cfg = dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
                       paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                          custom_keys=dict(pos_embed=dict(decay_mult=0.0),
                                                           cls_token=dict(decay_mult=0.0),
                                                           mask_token=dict(decay_mult=0.0))))
    x, samples = fixed_batch()
    params = {}
    for constructor in ('DefaultOptimWrapperConstructor', 'mae_mm.GroupedOptimWrapperConstructor'):
        model = tiny_mae()
        wrapper = build_optim_wrapper(model, dict(wrapper_cfg, constructor=constructor))
        groups = wrapper.optimizer.param_groups
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert sum(len(g['params']) for g in groups) == len(trainable) == 48
        for _ in range(3):
            wrapper.update_params(model.loss(x, samples)['loss'])
        params[constructor] = (len(groups), model.state_dict())
    (n_default, default), (n_grouped, grouped) = params.values()
    assert n_default == 48 and n_grouped == 3
    for name in default:
        torch.testing.assert_close(grouped[name], default[name], rtol=0, atol=0, msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='AmpOptimWrapper needs a GPU')
def test_bf16_wrapper_has_no_scaler_and_fp16_keeps_it():
    from mmengine.optim import build_optim_wrapper
    model = tiny_mae().cuda()
    for dtype, scales in (('bfloat16', False), ('float16', True)):
        wrapper = build_optim_wrapper(model, dict(type='mae_mm.AmpOptimWrapper', dtype=dtype,
                                                  optimizer=dict(type='AdamW', lr=1e-3)))
        assert wrapper.scales_loss is scales
        x, samples = fixed_batch()
        with wrapper.optim_context(model):
            loss = model.loss(x.cuda(), [s.to('cuda') for s in samples])['loss']
        wrapper.update_params(loss)
        assert all(torch.isfinite(p).all() for p in model.parameters())
