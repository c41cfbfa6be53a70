"""fc1's bias gradient summed per sample first: the same gradients, one pass fewer on an H100."""
import pytest
import torch

from mae_mm.benchmark.traffic import inductor_traffic
from mae_mm.models.layers.bias_grad import linear
from mae_mm.models.layers.block import Mlp


def mlp_grads(mlp: Mlp, x: torch.Tensor, grad: torch.Tensor) -> list:
    out = torch.compile(mlp)(x)
    return torch.autograd.grad(out, list(mlp.parameters()), grad)


def test_gradients_are_unchanged():
    """Compiled, with and without the per-sample sum: the same gradients for every parameter
    (fp32), and the bias gradient stays fp32 under bf16 autocast."""
    torch.manual_seed(0)
    mlp = Mlp(16, 64)
    x, grad = torch.randn(3, 5, 16), torch.randn(3, 5, 16)
    plain = mlp_grads(mlp, x, grad)
    mlp.fuse_bias_grad = True
    fused = mlp_grads(mlp, x, grad)
    for name, a, b in zip(dict(mlp.named_parameters()), fused, plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)

    weight, bias = mlp.fc1.weight, mlp.fc1.bias
    with torch.autocast('cpu', torch.bfloat16):
        out = torch.compile(linear)(x, weight, bias, True)
    assert out.dtype == torch.bfloat16
    (bias_grad,) = torch.autograd.grad(out.float().sum(), [bias])
    assert bias_grad.dtype == torch.float32
    torch.testing.assert_close(bias_grad, torch.full_like(bias, 15.0))  # 3 x 5 rows of ones


def test_eager_and_matrix_inputs_take_f_linear():
    x, weight, bias = torch.randn(4, 8), torch.randn(6, 8), torch.randn(6)
    assert torch.equal(linear(x, weight, bias, True), torch.nn.functional.linear(x, weight, bias))
    x3 = torch.randn(2, 4, 8)
    assert torch.equal(linear(x3, weight, bias, True),
                       torch.nn.functional.linear(x3, weight, bias))


@pytest.mark.slow
def test_gelu_backward_sums_the_bias_gradient():
    """Counted as on an H100, with MAE's 197 tokens and a hidden layer wide enough that
    Inductor gives the plain column sum over all rows kernels of its own: the per-sample sum
    saves one read of the hidden gradient (and the split sum's partial results)."""
    def moved(fuse: bool) -> int:
        torch.manual_seed(0)
        mlp = Mlp(256, 1024, fuse_bias_grad=fuse)
        x = torch.randn(32, 197, 256, requires_grad=True)
        with inductor_traffic() as traffic:
            out = torch.compile(mlp)(x)
            out.backward(torch.randn_like(out))
        return traffic.kernel_bytes

    hidden_grad = 32 * 197 * 1024 * 4  # (B, N, hidden), fp32
    assert moved(False) - moved(True) == pytest.approx(hidden_grad, rel=0.02)
