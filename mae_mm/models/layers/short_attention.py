"""Fused attention on CUDA (Triton) for sequences short enough that a head's keys fit one tile.

MAE's encoder sees only the visible patches: 50 tokens for ViT-B/L at 224 px and 75% masking.
A whole head's sequence then fits in one tile: the program reads q, k, v straight from the qkv
projection's (B, N, 3 * H * d) output, computes the softmax in registers and writes the output
in the (B, N, H * d) layout ``proj`` reads, with no transposes around it. The backward pass
recomputes the probabilities from the saved log-sum-exp, as flash attention does. On an H100,
compiled, forward + backward of ViT-B's (512 images, 12 heads, 50 tokens, 64) took 0.43 ms
against 0.67 ms through ``F.scaled_dot_product_attention``, with the same rounding error
against fp32 (``tools/analysis_tools/attention_benchmark.py``, docs/benchmarks.md).

Sequences of up to 256 tokens (MAE's decoder: 197) are split into tiles of 64, with 64 x 64
probabilities in registers at a time: a forward program per query tile runs over the key tiles
with a running softmax; the backward has a program per key tile (dk, dv, over the query tiles)
and one per query tile (dq, over the key tiles). Models send the kernel sequences of at most
``MAX_TOKENS`` (64), the case timed above; longer ones keep SDPA until the kernel is timed
against it there (``attention_benchmark.py`` does, and ``benchmark.py --short-attn-tokens 256``
for the whole step).

Given the qkv projection's bias apart (``bias``, ``Attention``'s ``fuse_bias_grad``), the kernel
adds it as it reads q, k and v, and the backward writes each (image, tile)'s sums of dq, dk and
dv over its tokens, from which the bias gradient is a sum over the batch: autograd would read
the whole qkv gradient again for it (3 tensors of tokens x width a block).
"""
from typing import Optional, Tuple

import torch

try:
    import triton
    import triton.language as tl
    from torch.library import triton_op, wrap_triton
except ImportError:  # no Triton (e.g. a CPU-only install): SDPA is used instead
    triton = None

MAX_TOKENS = 64  # the longest sequence models send to the kernel (timed); longer ones use SDPA
KERNEL_TOKENS = 256  # the longest sequence the kernel takes (query tiles of 64 over 256 keys)
TILE = 64  # query / key rows per tile; up to 64 tokens the whole sequence is one
NUM_WARPS = 4  # of 2, 4 and 8, the fastest on an H100 for ViT-B/L's 50 x 64 heads


def short_attention_fits(tokens: int, head_dims: int, dtype: torch.dtype,
                         max_tokens: Optional[int] = None) -> bool:
    """Whether sequences of ``tokens`` in heads of ``head_dims`` and ``dtype`` are within the
    kernel's limits, on whatever device.

    Args:
        tokens (int): Sequence length N.
        head_dims (int): Width of a head.
        dtype (torch.dtype): The qkv projection's dtype.
        max_tokens (int, optional): The longest sequence to accept, at most ``KERNEL_TOKENS``.
            Defaults to the module's ``MAX_TOKENS``, read at the call.
    """
    max_tokens = MAX_TOKENS if max_tokens is None else min(max_tokens, KERNEL_TOKENS)
    return (dtype in (torch.bfloat16, torch.float16) and tokens <= max_tokens
            and 16 <= head_dims <= 128 and head_dims & (head_dims - 1) == 0)


def short_attention_supported(qkv: torch.Tensor, head_dims: int,
                              max_tokens: Optional[int] = None,
                              dtype: Optional[torch.dtype] = None) -> bool:
    """Whether :func:`short_attention` handles this (B, N, 3 * heads * head_dims) input: on
    CUDA with Triton, within :func:`short_attention_fits`.

    Args:
        qkv (Tensor): The qkv projection's output, or its (B, N, D) input with ``dtype``.
        head_dims (int): Width of a head.
        max_tokens (int, optional): See :func:`short_attention_fits`.
        dtype (torch.dtype, optional): The projection's dtype, when ``qkv`` is its input.
            Defaults to ``qkv.dtype``.
    """
    return (triton is not None and qkv.is_cuda
            and short_attention_fits(qkv.shape[1], head_dims,
                                     qkv.dtype if dtype is None else dtype, max_tokens))


def short_attention(qkv: torch.Tensor, num_heads: int, head_dims: int,
                    bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v per head, from the qkv projection's output.

    Args:
        qkv (Tensor): (B, N, 3 * heads * head_dims), rows ordered q, k, v as ``Attention.qkv``
            writes them; N <= 256, see :func:`short_attention_supported`.
        num_heads (int): Heads.
        head_dims (int): Width of a head, a power of two from 16 to 128. A Python int, the
            kernel is built for it (the token and batch counts may vary).
        bias (Tensor, optional): (3 * heads * head_dims,) the projection's bias, when ``qkv``
            was computed without it: the kernel adds it (rounded to qkv's dtype) and its
            gradient is summed in the backward kernel. Defaults to None.

    Returns:
        Tensor: (B, N, heads * head_dims), heads side by side, as ``Attention.proj`` reads.
    """
    if qkv.shape[1] > KERNEL_TOKENS:
        raise ValueError(f'short_attention takes at most {KERNEL_TOKENS} tokens, got '
                         f'{qkv.shape[1]}; use F.scaled_dot_product_attention for longer ones')
    if bias is not None:
        bias = bias.contiguous()
    out, _ = torch.ops.mae_mm.short_attention_fwd(qkv.contiguous(), bias, num_heads, head_dims)
    return out


def kernel_constants(head_dims: int, has_bias: bool) -> dict:
    """The compile-time arguments every kernel here is launched with, besides its tile sizes."""
    return dict(scale=head_dims**-0.5, head_dims=head_dims, has_bias=has_bias)


def _bias_arg(qkv: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``bias``, or without one a 1-element stand-in for its pointer that the kernels never read
    (not ``qkv`` itself: Inductor gives each tensor argument of a user kernel its own buffer, a
    copy)."""
    return qkv.new_empty(1) if bias is None else bias


def _padded(tokens: int) -> int:
    """A sequence of N tokens padded to whole tiles: one (TILE), two or four."""
    return TILE if tokens <= TILE else 2 * TILE if tokens <= 2 * TILE else KERNEL_TOKENS


if triton is not None:

    @triton.jit
    def _load_rows(base, rows, tokens, stride_token, head_dims: tl.constexpr):
        """(len(rows), head_dims) of one head, token ``rows[i]`` in row i; rows past the
        sequence read 0."""
        d = tl.arange(0, head_dims)
        return tl.load(base + rows[:, None] * stride_token + d[None, :],
                       mask=rows[:, None] < tokens, other=0.0)

    @triton.jit
    def _load_qkv(base, bias, rows, tokens, stride_token, head_dims: tl.constexpr,
                  has_bias: tl.constexpr):
        """:func:`_load_rows` of q, k or v, plus its (head_dims,) ``bias`` when ``has_bias``,
        rounded to qkv's dtype as the biased projection's output is; padding rows stay 0."""
        x = _load_rows(base, rows, tokens, stride_token, head_dims)
        if has_bias:
            b = tl.load(bias + tl.arange(0, head_dims)).to(tl.float32)
            x = tl.where(rows[:, None] < tokens, x.to(tl.float32) + b[None, :], 0.0).to(x.dtype)
        return x

    @triton.jit
    def _store_sums(bias_sums, x, row, part: tl.constexpr, heads, head,
                    head_dims: tl.constexpr):
        """x's (len, head_dims) sum over its rows into ``row`` of the (rows, 3 * heads *
        head_dims) fp32 ``bias_sums``, at q, k or v (``part`` 0, 1, 2) of ``head``."""
        d = tl.arange(0, head_dims)
        tl.store(bias_sums + (row * 3 + part) * heads * head_dims + head * head_dims + d,
                 tl.sum(x, axis=0))

    @triton.jit
    def _store_rows(base, x, rows, tokens, stride_token, head_dims: tl.constexpr):
        """Write (len(rows), head_dims) ``x`` back as :func:`_load_rows` reads it."""
        d = tl.arange(0, head_dims)
        tl.store(base + rows[:, None] * stride_token + d[None, :],
                 x.to(base.dtype.element_ty), mask=rows[:, None] < tokens)

    @triton.jit
    def _probs(q, k, lse_rows, keys, tokens, scale: tl.constexpr):
        """softmax probabilities (len(q), len(k)) from the forward's log-sum-exp of each query.

        Padding keys are masked: their logit is 0, and exp(0 - lse) overflows when a row's
        logits all lie below -88, which would put inf * 0 into dq.
        """
        p = tl.exp(tl.dot(q, tl.trans(k)) * scale - lse_rows[:, None])
        return tl.where(keys[None, :] < tokens, p, 0.0)

    @triton.jit
    def _dlogits(p, do, v, delta, scale: tl.constexpr):
        """d loss / d logits (len(p), len(v)) in do's dtype; delta = rowsum(do * o)."""
        return (p * (tl.dot(do, tl.trans(v)) - delta[:, None]) * scale).to(do.dtype)

    @triton.jit
    def _tile(heads, tokens, head_dims: tl.constexpr, block: tl.constexpr, block_n: tl.constexpr):
        """On a grid of (image, head, tile), tiles fastest: this program's (image, head) index,
        its tile's rows, and the offsets of the head's first q and output elements."""
        pid = tl.program_id(0) // (block_n // block)
        rows = tl.program_id(0) % (block_n // block) * block + tl.arange(0, block)
        image, head = pid // heads, pid % heads
        heads_dims = heads * head_dims
        return (pid, rows, image * tokens * 3 * heads_dims + head * head_dims,
                image * tokens * heads_dims + head * head_dims)

    @triton.jit
    def _sums_row(heads, block: tl.constexpr, block_n: tl.constexpr):
        """On a grid of (image, head, tile), this program's row of ``bias_sums``: image * tiles
        + tile."""
        tiles = block_n // block
        return tl.program_id(0) // (heads * tiles) * tiles + tl.program_id(0) % tiles

    @triton.jit
    def _fwd_kernel(qkv, bias, out, lse, tokens, heads, scale: tl.constexpr,
                    head_dims: tl.constexpr, has_bias: tl.constexpr, block: tl.constexpr):
        """Sequences of one tile: a program per (image, head)."""
        pid = tl.program_id(0)  # one (image, head)
        image, head = pid // heads, pid % heads
        heads_dims = heads * head_dims
        base = qkv + image * tokens * 3 * heads_dims + head * head_dims  # this head's q row 0
        bias = bias + head * head_dims  # this head's q bias
        n = tl.arange(0, block)
        q = _load_qkv(base, bias, n, tokens, 3 * heads_dims, head_dims, has_bias)
        k = _load_qkv(base + heads_dims, bias + heads_dims, n, tokens, 3 * heads_dims, head_dims,
                      has_bias)
        v = _load_qkv(base + 2 * heads_dims, bias + 2 * heads_dims, n, tokens, 3 * heads_dims,
                      head_dims, has_bias)
        logits = tl.dot(q, tl.trans(k)) * scale  # (block, block) fp32, keys along dim 1
        logits = tl.where(n[None, :] < tokens, logits, float('-inf'))
        row_max = tl.max(logits, axis=1)
        p = tl.exp(logits - row_max[:, None])  # unnormalised, in (0, 1]: bf16 keeps it well
        row_sum = tl.sum(p, axis=1)
        o = tl.dot(p.to(v.dtype), v) / row_sum[:, None]  # (block, head_dims)
        _store_rows(out + image * tokens * heads_dims + head * head_dims, o, n, tokens,
                    heads_dims, head_dims)
        tl.store(lse + pid * block + n, row_max + tl.log(row_sum))

    @triton.jit
    def _fwd_tiled_kernel(qkv, bias, out, lse, tokens, heads, scale: tl.constexpr,
                          head_dims: tl.constexpr, has_bias: tl.constexpr, block: tl.constexpr,
                          block_n: tl.constexpr):
        """Longer sequences: a program per (image, head, query tile) runs over the key tiles
        with a running softmax (flash attention's forward)."""
        pid, m, offset, out_offset = _tile(heads, tokens, head_dims, block, block_n)  # m: queries
        heads_dims = heads * head_dims
        base = qkv + offset
        bias = bias + pid % heads * head_dims  # this head's q bias
        q = _load_qkv(base, bias, m, tokens, 3 * heads_dims, head_dims, has_bias)
        row_max = tl.full((block,), float('-inf'), dtype=tl.float32)
        row_sum = tl.zeros((block,), dtype=tl.float32)
        acc = tl.zeros((block, head_dims), dtype=tl.float32)  # unnormalised output
        for j in range(0, tl.cdiv(tokens, block)):
            n = j * block + tl.arange(0, block)
            k = _load_qkv(base + heads_dims, bias + heads_dims, n, tokens, 3 * heads_dims,
                          head_dims, has_bias)
            v = _load_qkv(base + 2 * heads_dims, bias + 2 * heads_dims, n, tokens,
                          3 * heads_dims, head_dims, has_bias)
            logits = tl.dot(q, tl.trans(k)) * scale  # (block, block) fp32
            logits = tl.where(n[None, :] < tokens, logits, float('-inf'))
            new_max = tl.maximum(row_max, tl.max(logits, axis=1))  # finite: key 0 is real
            rescale = tl.exp(row_max - new_max)  # of what earlier key tiles summed
            p = tl.exp(logits - new_max[:, None])
            row_sum = row_sum * rescale + tl.sum(p, axis=1)
            acc = acc * rescale[:, None] + tl.dot(p.to(v.dtype), v)
            row_max = new_max
        _store_rows(out + out_offset, acc / row_sum[:, None], m, tokens, heads_dims, head_dims)
        # every row of the tile, padding rows too (finite: their q is 0), for the backward
        tl.store(lse + pid * block_n + m, row_max + tl.log(row_sum))

    @triton.jit
    def _bwd_kernel(qkv, bias, out, grad_out, lse, grad_qkv, bias_sums, tokens, heads,
                    scale: tl.constexpr, head_dims: tl.constexpr, has_bias: tl.constexpr,
                    block: tl.constexpr):
        """Sequences of one tile: a program per (image, head) computes dq, dk and dv (and,
        with ``has_bias``, their sums over the tokens, row ``image`` of ``bias_sums``)."""
        pid = tl.program_id(0)
        image, head = pid // heads, pid % heads
        heads_dims = heads * head_dims
        base = qkv + image * tokens * 3 * heads_dims + head * head_dims
        bias = bias + head * head_dims
        out_offset = image * tokens * heads_dims + head * head_dims
        n = tl.arange(0, block)
        q = _load_qkv(base, bias, n, tokens, 3 * heads_dims, head_dims, has_bias)
        k = _load_qkv(base + heads_dims, bias + heads_dims, n, tokens, 3 * heads_dims, head_dims,
                      has_bias)
        v = _load_qkv(base + 2 * heads_dims, bias + 2 * heads_dims, n, tokens, 3 * heads_dims,
                      head_dims, has_bias)
        o = _load_rows(out + out_offset, n, tokens, heads_dims, head_dims)
        do = _load_rows(grad_out + out_offset, n, tokens, heads_dims, head_dims)
        p = _probs(q, k, tl.load(lse + pid * block + n), n, tokens, scale)  # (block, block)
        dv = tl.dot(tl.trans(p.to(do.dtype)), do)
        delta = tl.sum(do.to(tl.float32) * o.to(tl.float32), axis=1)
        ds = _dlogits(p, do, v, delta, scale)
        dq = tl.dot(ds, k)
        dk = tl.dot(tl.trans(ds), q)
        grad = grad_qkv + image * tokens * 3 * heads_dims + head * head_dims
        _store_rows(grad, dq, n, tokens, 3 * heads_dims, head_dims)
        _store_rows(grad + heads_dims, dk, n, tokens, 3 * heads_dims, head_dims)
        _store_rows(grad + 2 * heads_dims, dv, n, tokens, 3 * heads_dims, head_dims)
        if has_bias:  # padding rows of dq, dk and dv are 0
            _store_sums(bias_sums, dq, image, 0, heads, head, head_dims)
            _store_sums(bias_sums, dk, image, 1, heads, head, head_dims)
            _store_sums(bias_sums, dv, image, 2, heads, head, head_dims)

    @triton.jit
    def _bwd_kv_kernel(qkv, bias, out, grad_out, lse, grad_qkv, bias_sums, tokens, heads,
                       scale: tl.constexpr, head_dims: tl.constexpr, has_bias: tl.constexpr,
                       block: tl.constexpr, block_n: tl.constexpr):
        """Longer sequences, dk and dv: a program per (image, head, key tile) loops over the
        query tiles (:func:`_bwd_q_kernel` computes dq alongside)."""
        pid, n, offset, out_offset = _tile(heads, tokens, head_dims, block, block_n)  # n: keys
        heads_dims = heads * head_dims
        base = qkv + offset
        bias = bias + pid % heads * head_dims
        k = _load_qkv(base + heads_dims, bias + heads_dims, n, tokens, 3 * heads_dims, head_dims,
                      has_bias)
        v = _load_qkv(base + 2 * heads_dims, bias + 2 * heads_dims, n, tokens, 3 * heads_dims,
                      head_dims, has_bias)
        dk = tl.zeros((block, head_dims), dtype=tl.float32)
        dv = tl.zeros((block, head_dims), dtype=tl.float32)
        for i in range(0, tl.cdiv(tokens, block)):  # query tiles with a real row
            m = i * block + tl.arange(0, block)
            q = _load_qkv(base, bias, m, tokens, 3 * heads_dims, head_dims, has_bias)
            o = _load_rows(out + out_offset, m, tokens, heads_dims, head_dims)
            do = _load_rows(grad_out + out_offset, m, tokens, heads_dims, head_dims)
            p = _probs(q, k, tl.load(lse + pid * block_n + m), n, tokens, scale)
            dv += tl.dot(tl.trans(p.to(do.dtype)), do)
            delta = tl.sum(do.to(tl.float32) * o.to(tl.float32), axis=1)
            dk += tl.dot(tl.trans(_dlogits(p, do, v, delta, scale)), q)
        _store_rows(grad_qkv + offset + heads_dims, dk, n, tokens, 3 * heads_dims, head_dims)
        _store_rows(grad_qkv + offset + 2 * heads_dims, dv, n, tokens, 3 * heads_dims, head_dims)
        if has_bias:  # row (image, key tile) of bias_sums
            row = _sums_row(heads, block, block_n)
            _store_sums(bias_sums, dk, row, 1, heads, pid % heads, head_dims)
            _store_sums(bias_sums, dv, row, 2, heads, pid % heads, head_dims)

    @triton.jit
    def _bwd_q_kernel(qkv, bias, out, grad_out, lse, grad_qkv, bias_sums, tokens, heads,
                      scale: tl.constexpr, head_dims: tl.constexpr, has_bias: tl.constexpr,
                      block: tl.constexpr, block_n: tl.constexpr):
        """Longer sequences, dq: a program per (image, head, query tile) loops over the key
        tiles, recomputing the probabilities :func:`_bwd_kv_kernel` also computes."""
        pid, m, offset, out_offset = _tile(heads, tokens, head_dims, block, block_n)  # m: queries
        heads_dims = heads * head_dims
        base = qkv + offset
        bias = bias + pid % heads * head_dims
        q = _load_qkv(base, bias, m, tokens, 3 * heads_dims, head_dims, has_bias)
        o = _load_rows(out + out_offset, m, tokens, heads_dims, head_dims)
        do = _load_rows(grad_out + out_offset, m, tokens, heads_dims, head_dims)
        lse_rows = tl.load(lse + pid * block_n + m)
        delta = tl.sum(do.to(tl.float32) * o.to(tl.float32), axis=1)
        dq = tl.zeros((block, head_dims), dtype=tl.float32)
        for j in range(0, tl.cdiv(tokens, block)):  # key tiles with a real key
            n = j * block + tl.arange(0, block)
            k = _load_qkv(base + heads_dims, bias + heads_dims, n, tokens, 3 * heads_dims,
                          head_dims, has_bias)
            v = _load_qkv(base + 2 * heads_dims, bias + 2 * heads_dims, n, tokens,
                          3 * heads_dims, head_dims, has_bias)
            p = _probs(q, k, lse_rows, n, tokens, scale)
            dq += tl.dot(_dlogits(p, do, v, delta, scale), k)
        _store_rows(grad_qkv + offset, dq, m, tokens, 3 * heads_dims, head_dims)
        if has_bias:  # row (image, query tile) of bias_sums
            row = _sums_row(heads, block, block_n)
            _store_sums(bias_sums, dq, row, 0, heads, pid % heads, head_dims)

    @triton_op('mae_mm::short_attention_fwd', mutates_args={})
    def _short_attention_fwd(qkv: torch.Tensor, bias: Optional[torch.Tensor], num_heads: int,
                             head_dims: int) -> Tuple[torch.Tensor, torch.Tensor]:
        b, n, _ = qkv.shape
        block_n = _padded(n)
        out = qkv.new_empty(b, n, num_heads * head_dims)
        lse = qkv.new_empty(b * num_heads, block_n, dtype=torch.float32)
        args = (qkv, _bias_arg(qkv, bias), out, lse, n, num_heads)
        kwargs = dict(kernel_constants(head_dims, bias is not None), num_warps=NUM_WARPS)
        if block_n == TILE:
            wrap_triton(_fwd_kernel)[(b * num_heads,)](*args, block=block_n, **kwargs)
        else:
            grid = (b * num_heads * (block_n // TILE),)
            wrap_triton(_fwd_tiled_kernel)[grid](*args, block=TILE, block_n=block_n, **kwargs)
        return out, lse

    @triton_op('mae_mm::short_attention_bwd', mutates_args={})
    def _short_attention_bwd(grad_out: torch.Tensor, qkv: torch.Tensor,
                             bias: Optional[torch.Tensor], out: torch.Tensor, lse: torch.Tensor,
                             num_heads: int, head_dims: int
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The qkv gradient, and with ``bias`` the (B * tiles, 3 * heads * head_dims) fp32 sums
        of it over each tile's tokens (one unused element without)."""
        b, n, _ = qkv.shape
        grad_qkv = torch.empty_like(qkv)
        block_n = _padded(n)
        # without a bias, a 1-element stand-in for the sums, never written
        bias_sums = qkv.new_empty((b * (block_n // TILE), qkv.shape[2]) if bias is not None
                                  else (1,), dtype=torch.float32)
        args = (qkv, _bias_arg(qkv, bias), out, grad_out.contiguous(), lse, grad_qkv, bias_sums,
                n, num_heads)
        kwargs = dict(kernel_constants(head_dims, bias is not None), num_warps=NUM_WARPS)
        if block_n == TILE:  # one tile: dq, dk and dv in one program
            wrap_triton(_bwd_kernel)[(b * num_heads,)](*args, block=block_n, **kwargs)
        else:  # every (key tile) sums over the query tiles; every (query tile) over the keys
            grid = (b * num_heads * (block_n // TILE),)
            wrap_triton(_bwd_kv_kernel)[grid](*args, block=TILE, block_n=block_n, **kwargs)
            wrap_triton(_bwd_q_kernel)[grid](*args, block=TILE, block_n=block_n, **kwargs)
        return grad_qkv, bias_sums

    def _setup_context(ctx, inputs, output) -> None:
        ctx.head_shape = inputs[2:]  # (num_heads, head_dims)
        ctx.save_for_backward(*inputs[:2], *output)  # qkv, bias, out, lse

    def _backward(ctx, grad_out: torch.Tensor, grad_lse: Optional[torch.Tensor]):
        qkv, bias, out, lse = ctx.saved_tensors
        grad_qkv, bias_sums = torch.ops.mae_mm.short_attention_bwd(grad_out, qkv, bias, out, lse,
                                                                  *ctx.head_shape)
        grad_bias = None if bias is None else bias_sums.sum(0).to(bias.dtype)
        return grad_qkv, grad_bias, None, None

    _short_attention_fwd.register_autograd(_backward, setup_context=_setup_context)
