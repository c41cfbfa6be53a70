"""mae_mm's Triton kernel for short sequences computes what SDPA computes.

On the CPU the kernel runs in Triton's interpreter (TRITON_INTERPRET=1, in a child process:
the flag is read when Triton compiles the kernels at import); on a GPU it runs compiled.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mae_mm.models.layers import short_attention as kernel_module
from mae_mm.models.layers.attention import Attention
from mae_mm.models.layers.short_attention import (KERNEL_TOKENS, MAX_TOKENS, short_attention,
                                                  short_attention_supported)

ROOT = Path(__file__).resolve().parents[2]
triton_missing = pytest.mark.skipif(kernel_module.triton is None, reason='Triton is not installed')


def sdpa_reference(qkv: torch.Tensor, heads: int) -> torch.Tensor:
    """The same attention through F.scaled_dot_product_attention."""
    b, n, width = qkv.shape
    q, k, v = qkv.reshape(b, n, 3, heads, width // (3 * heads)).permute(2, 0, 3, 1, 4).unbind(0)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, width // 3)


INTERPRETED = f'''
import sys
import torch
sys.path.insert(0, {str(Path(__file__).parent)!r})
from mae_mm.models.layers import attention
from mae_mm.models.layers.short_attention import short_attention
from test_short_attention import sdpa_reference
torch.manual_seed(0)
# 50 tokens, a full tile, a short 5; the decoder's 197 (4 query tiles over 256 keys) and 129
# (a last query tile of padding only); each without and with the projection's bias apart
for b, n, heads, head_dims in [(2, 50, 3, 16), (1, 64, 2, 32), (3, 5, 1, 16), (2, 197, 2, 32),
                               (1, 129, 1, 16)]:
    qkv = torch.randn(b, n, 3 * heads * head_dims)
    grad = torch.randn(b, n, heads * head_dims)
    for bias in (None, torch.randn(3 * heads * head_dims)):
        ours_in, ref_in = qkv.clone().requires_grad_(), qkv.clone().requires_grad_()
        if bias is None:
            ours, ref = short_attention(ours_in, heads, head_dims), sdpa_reference(ref_in, heads)
        else:
            ours_bias, ref_bias = bias.clone().requires_grad_(), bias.clone().requires_grad_()
            ours = short_attention(ours_in, heads, head_dims, ours_bias)
            ref = sdpa_reference(ref_in + ref_bias, heads)
        ours.backward(grad)
        ref.backward(grad)
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-5, atol=1e-5)
        if bias is not None:  # a sum over b * n gradients, summed in another order
            torch.testing.assert_close(ours_bias.grad, ref_bias.grad, rtol=1e-5, atol=1e-4)
        print('ok')
# every logit below -88 (q . k / sqrt(d) = -240): exp(-lse) of a padding key overflows fp32
for n in (5, 150):
    q, k, v = torch.ones(1, n, 16), torch.full((1, n, 16), -60.0), torch.randn(1, n, 16)
    ours_in = torch.cat([q, k, v], -1).requires_grad_()
    ref_in = ours_in.detach().clone().requires_grad_()
    short_attention(ours_in, 1, 16).sum().backward()
    sdpa_reference(ref_in, 1).sum().backward()
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-5, atol=1e-5)
    print('ok')
# an Attention layer handing the kernel qkv's bias (fuse_bias_grad), its LayerNorm folded in
# or not, against SDPA: every parameter's gradient (the kernel is let run on the CPU here)
attention.short_attention_supported = lambda *args, **kwargs: True
for folded in (False, True):
    ours, ref = attention.Attention(32, 2, fuse_bias_grad=True), attention.Attention(32, 2)
    ref.short_attn = False
    norms = [torch.nn.LayerNorm(32) for _ in range(2)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.normal_(), norm.bias.normal_()
    norms[1].load_state_dict(norms[0].state_dict())
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 50, 32)
    outs = [layer(x, norm=norm if folded else None) for layer, norm in zip((ours, ref), norms)]
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for out in outs:
        out.square().sum().backward()
    params = [list(ours.parameters()) + list(norms[0].parameters()),
              list(ref.parameters()) + list(norms[1].parameters())]
    for p_ours, p_ref in zip(*params):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, rtol=1e-4, atol=1e-4)
    print('ok')
'''


def wrap_triton_runs_interpreted_kernels() -> bool:
    """Whether this torch's ``wrap_triton`` launches kernels that TRITON_INTERPRET=1 made
    (torch 2.14 does; 2.11, the GPU machine's, refuses them)."""
    from torch.library import wrap_triton
    from triton.runtime.interpreter import InterpretedFunction
    try:
        wrap_triton(InterpretedFunction(sdpa_reference))
    except RuntimeError:
        return False
    return True


@triton_missing
def test_kernel_matches_sdpa_in_triton_interpreter():
    """Forward and backward (q, k and v gradients) equal SDPA's in fp32, for 50 tokens, a full
    tile of 64 and a short 5 (padding rows and keys must not leak in), for the decoder's 197 and
    129 (query tiles over a 256-key tile), and with every logit far below zero (padding keys must
    not overflow into the gradients). With the projection's bias handed to the kernel, the bias
    gradient it sums equals autograd's, alone and through an Attention layer (folded norm too)."""
    if not wrap_triton_runs_interpreted_kernels():
        pytest.skip(f"torch {torch.__version__}'s wrap_triton does not launch Triton's "
                    'interpreted kernels (2.14 does); on a GPU the compiled tests check them')
    env = dict(os.environ, TRITON_INTERPRET='1', PYTHONPATH=f'{ROOT}{os.pathsep}'
               f'{os.environ.get("PYTHONPATH", "")}')
    run = subprocess.run([sys.executable, '-c', INTERPRETED], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count('ok') == 14


def test_supported_inputs():
    """Only half-precision CUDA sequences of at most 64 tokens (256 when asked) with
    power-of-two heads; longer ones are refused with the fix."""
    cpu = torch.zeros(2, 50, 3 * 64, dtype=torch.bfloat16)
    assert not short_attention_supported(cpu, 64)
    meta = torch.empty(2, 50, 3 * 64, dtype=torch.bfloat16, device='meta')
    assert not short_attention_supported(meta, 64)  # not CUDA
    if torch.cuda.is_available() and kernel_module.triton is not None:
        cuda = torch.zeros(2, MAX_TOKENS, 3 * 64, dtype=torch.bfloat16, device='cuda')
        assert short_attention_supported(cuda, 64)
        assert not short_attention_supported(cuda.float(), 64)
        assert not short_attention_supported(cuda[:, :1].expand(2, MAX_TOKENS + 1, -1), 64)
        assert not short_attention_supported(cuda[..., :3 * 80], 80)  # ViT-H/14's heads
        decoder = cuda[:, :1].expand(2, 197, -1)
        assert short_attention_supported(decoder, 64, max_tokens=KERNEL_TOKENS)
        assert not short_attention_supported(decoder, 64, max_tokens=1000)
    with pytest.raises(ValueError, match='at most 256 tokens, got 257'):
        short_attention(torch.zeros(1, 257, 3 * 16), 1, 16)


def test_cpu_attention_is_unchanged_by_the_flags():
    """Off CUDA the flags change nothing: the same SDPA numbers and gradients, bit for bit,
    under bf16 autocast too."""
    torch.manual_seed(0)
    on = Attention(32, 2, fuse_bias_grad=True)
    off = Attention(32, 2, short_attn=False)
    off.load_state_dict(on.state_dict())
    x = torch.randn(2, 10, 32)
    for dtype in (torch.float32, torch.bfloat16):
        with torch.autocast('cpu', dtype, enabled=dtype != torch.float32):
            outs = on(x), off(x)
        assert torch.equal(*outs)
        grads = [torch.autograd.grad(out.float().sum(), layer.qkv.bias)[0]
                 for out, layer in zip(outs, (on, off))]
        assert torch.equal(*grads)


def test_attention_asks_with_the_projection_dtype(monkeypatch):
    """The layer decides on the kernel before projecting, asking with the dtype the qkv
    projection will have: autocast's for fp32 and bf16 tokens, fp64 tokens' own (autocast
    leaves them), the tokens' own without autocast."""
    from mae_mm.models.layers import attention
    asked = []
    monkeypatch.setattr(attention, 'short_attention_supported',
                        lambda qkv, head_dims, dtype: asked.append(dtype) or False)
    layer = Attention(32, 2)
    for dtype, autocast, expected in [(torch.float32, True, torch.bfloat16),
                                      (torch.bfloat16, True, torch.bfloat16),
                                      (torch.float64, True, torch.float64),
                                      (torch.float32, False, torch.float32)]:
        with torch.autocast('cpu', torch.bfloat16, enabled=autocast):
            layer.to(dtype)(torch.randn(2, 10, 32, dtype=dtype))
        assert asked.pop() == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason='the compiled kernel needs CUDA')
@triton_missing
@pytest.mark.parametrize('compiled', [False, True])
@pytest.mark.parametrize('fuse_bias_grad', [False, True])
def test_attention_layer_matches_sdpa_on_gpu(compiled, fuse_bias_grad):
    """An encoder attention layer under bf16 autocast, kernel vs SDPA: outputs and every
    parameter's gradient agree to bf16 rounding, eager and under torch.compile (two batch
    sizes, so the second compiles with a dynamic batch), with qkv's bias handed to the kernel
    or not."""
    torch.manual_seed(0)
    ours = Attention(128, 2, fuse_bias_grad=fuse_bias_grad).cuda()
    ref = Attention(128, 2, short_attn=False).cuda()
    ref.load_state_dict(ours.state_dict())
    run_ours = torch.compile(ours) if compiled else ours
    for batch in (8, 5):
        x = torch.randn(batch, 50, 128, device='cuda')
        with torch.autocast('cuda', torch.bfloat16):
            out_ours, out_ref = run_ours(x), ref(x)
        torch.testing.assert_close(out_ours, out_ref, rtol=2e-2, atol=2e-2)
        grads_ours = torch.autograd.grad(out_ours.float().square().sum(), list(ours.parameters()))
        grads_ref = torch.autograd.grad(out_ref.float().square().sum(), list(ref.parameters()))
        for g_ours, g_ref in zip(grads_ours, grads_ref):
            torch.testing.assert_close(g_ours, g_ref, rtol=5e-2, atol=5e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='the compiled kernel needs CUDA')
@triton_missing
@pytest.mark.parametrize('compiled, warps', [(False, None), (True, None), (False, 2), (False, 8)])
def test_decoder_length_matches_sdpa_on_gpu(compiled, warps, monkeypatch):
    """The decoder's 197 tokens (query tiles over 256 keys) in bf16: output and qkv gradient
    as close to fp32 SDPA as bf16 SDPA's are, eager and compiled, and launched with each warp
    count attention_benchmark.py --warps tries."""
    if warps:
        monkeypatch.setattr(kernel_module, 'NUM_WARPS', warps)
    torch.manual_seed(0)
    qkv = torch.randn(8, 197, 3 * 4 * 32, device='cuda')
    grad = torch.randn(8, 197, 4 * 32, device='cuda')
    kernel = torch.compile(short_attention) if compiled else short_attention
    results = {}
    for name, fn, dtype in [('exact', sdpa_reference, torch.float32),
                            ('sdpa', sdpa_reference, torch.bfloat16),
                            ('ours', lambda x, h: kernel(x, h, 32), torch.bfloat16)]:
        x = qkv.to(dtype).requires_grad_()
        out = fn(x, 4)
        out.backward(grad.to(dtype))
        results[name] = (out.float(), x.grad.float())
    for i in range(2):  # output, gradient
        exact = results['exact'][i]
        sdpa_err = (results['sdpa'][i] - exact).abs().max()
        assert (results['ours'][i] - exact).abs().max() <= 2 * sdpa_err
