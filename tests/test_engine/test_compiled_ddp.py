"""The configs' default on many GPUs: the compiled model inside MMEngine's DDP wrapper.

Dynamo splits a graph compiled inside DDP's forward at DDP's bucket boundaries, so each
bucket's gradients are all-reduced while the backward of the layers before it still runs.
Two gloo processes, each with half of a batch, must get the gradients of one eager process
with the whole batch, through a backward made of several compiled pieces.
"""
import os.path as osp

import pytest
import torch
from mmengine.model import MMDistributedDataParallel
from mmpretrain.structures import DataSample

from conftest import run_gloo, tiny_mae
from mae_mm.models import MAE

pytestmark = pytest.mark.slow

BUCKET_MB = 1  # the smallest DDP bucket Dynamo accepts (its first bucket is 1 MB)


def small_mae(compile=False) -> MAE:
    """About 6 MB of parameters: several 1 MB buckets."""
    return tiny_mae(embed_dims=256, decoder_embed_dims=128, compile=compile)


def batch(rows: slice = slice(None)):
    """Four images (4, 3, 32, 32) with 12 of 16 patches masked each, or the given rows."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 32, 32, generator=gen)
    mask = torch.zeros(4, 16)
    for row in mask:
        row[torch.randperm(16, generator=gen)[:12]] = 1
    return x[rows], [DataSample().set_mask(m) for m in mask[rows]]


def compiled_pieces(grad_fn) -> int:
    """How many compiled graphs the backward from ``grad_fn`` runs through."""
    seen, stack = set(), [grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(next_fn for next_fn, _ in node.next_functions)
    return sum('CompiledFunctionBackward' in type(node).__name__ for node in seen)


def rank_step(rank: int, compile, out_dir: str) -> None:
    """One training step's gradients on half of the batch, saved to ``out_dir``."""
    model = small_mae(compile)
    ddp = MMDistributedDataParallel(module=model, device_ids=None,
                                    bucket_cap_mb=BUCKET_MB, broadcast_buffers=False)
    x, samples = batch(slice(2 * rank, 2 * rank + 2))
    loss = ddp(x, samples, mode='loss')['loss']
    pieces = compiled_pieces(loss.grad_fn)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    torch.save(dict(pieces=pieces, grads=grads), osp.join(out_dir, f'rank{rank}.pt'))


@pytest.mark.parametrize('compile', [True, dict(activation_memory_budget=0.5)])
def test_compiled_model_under_ddp_overlaps_and_matches_one_eager_process(tmp_path, compile):
    run_gloo(rank_step, args=(compile, str(tmp_path)), timeout=600)  # compiling takes minutes
    model = small_mae()
    x, samples = batch()
    model.loss(x, samples)['loss'].backward()
    expected = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    for rank in range(2):
        result = torch.load(tmp_path / f'rank{rank}.pt')
        # one piece would reduce every gradient only after the whole backward
        assert result['pieces'] > 1, result['pieces']
        assert result['grads'].keys() == expected.keys()
        for name, grad in expected.items():
            torch.testing.assert_close(result['grads'][name], grad, rtol=1e-4, atol=1e-6,
                                       msg=name)
