import math

import pytest
import torch
from conftest import clip_shapes
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import interpolate_frames


def reference(x, index):
    """Eq. 4 per element, with the clamp and the integer-knot rule of SPEC.md, on (b, c, t, h, w)."""
    b, c, t, h, w = x.shape
    out = x.new_zeros(b, c, index.shape[1], h, w)
    for i in range(b):
        for k in range(index.shape[1]):
            pos = min(max(float(index[i, k]), 0.0), t - 1.0)
            lo = math.floor(pos)
            hi = min(lo + 1, t - 1)
            frac = pos - lo
            out[i, :, k] = (1 - frac) * x[i, :, lo] + frac * x[i, :, hi]
    return out


@given(shape=clip_shapes(), z=st.integers(1, 6), data=st.data())
def test_shape_and_values_match_reference(shape, z, data):
    x = torch.randn(shape, dtype=torch.float64)
    t = shape[2]
    index = torch.rand(shape[0], z, dtype=torch.float64) * (t + 2) - 1  # some fall outside [0, t - 1]
    out = interpolate_frames(x, index)
    assert out.shape == (shape[0], shape[1], z, shape[3], shape[4])
    torch.testing.assert_close(out, reference(x, index))


@pytest.mark.parametrize("dim", [1, 2, 3, -1])
def test_any_time_axis_matches_canonical_layout(dim):
    x = torch.randn(2, 3, 6, 4, 5, dtype=torch.float64)
    index = torch.rand(2, 3, dtype=torch.float64) * 3
    moved = x.movedim(2, dim)
    out = interpolate_frames(moved, index, dim=dim)
    torch.testing.assert_close(out.movedim(dim, 2), interpolate_frames(x, index))


def test_trailing_dims_of_any_rank():
    x = torch.randn(2, 5, dtype=torch.float64)  # (b, t)
    out = interpolate_frames(x, torch.tensor([[0.25], [3.5]], dtype=torch.float64), dim=1)
    torch.testing.assert_close(out[:, 0], torch.stack([0.75 * x[0, 0] + 0.25 * x[0, 1], 0.5 * x[1, 3] + 0.5 * x[1, 4]]))


def test_integer_indices_return_exact_frames():
    x = torch.randn(2, 4, 8, 3, 3)
    index = torch.tensor([[0.0, 3.0, 7.0], [7.0, 1.0, 2.0]])
    out = interpolate_frames(x, index)
    for i in range(2):
        assert torch.equal(out[i], x[i, :, index[i].long()])


def test_out_of_range_indices_are_clamped_with_zero_index_gradient():
    x = torch.randn(1, 2, 4, 2, 2, dtype=torch.float64)
    index = torch.tensor([[-3.0, 9.0, 1.5]], dtype=torch.float64, requires_grad=True)
    out = interpolate_frames(x, index)
    torch.testing.assert_close(out[:, :, 0], x[:, :, 0])
    torch.testing.assert_close(out[:, :, 1], x[:, :, 3])
    out.sum().backward()
    assert index.grad[0, 0] == 0 and index.grad[0, 1] == 0
    torch.testing.assert_close(index.grad[0, 2], (x[:, :, 2] - x[:, :, 1]).sum())


def test_gradcheck_features_and_indices_away_from_knots():
    x = torch.randn(2, 3, 6, 2, 2, dtype=torch.float64, requires_grad=True)
    index = (torch.tensor([[0.3, 2.6, 4.45], [1.2, 3.7, 4.9]], dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(interpolate_frames, (x, index))
    assert torch.autograd.gradgradcheck(lambda a: interpolate_frames(a, index.detach()), (x,))


def test_index_gradient_is_the_frame_difference():
    x = torch.randn(1, 3, 5, 2, 2, dtype=torch.float64)
    index = torch.tensor([[2.3]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(interpolate_frames(x, index).sum(), index)
    torch.testing.assert_close(grad[0, 0], (x[:, :, 3] - x[:, :, 2]).sum())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_dtypes_match_float64(dtype):
    x = torch.randn(2, 8, 8, 4, 4)
    index = torch.rand(2, 4) * 7
    out = interpolate_frames(x.to(dtype), index)
    assert out.dtype == dtype
    tol = {torch.float16: 2e-3, torch.bfloat16: 2e-2, torch.float32: 1e-6}[dtype]
    torch.testing.assert_close(out.double(), reference(x.double(), index.double()), atol=tol * 4, rtol=tol)


def test_nan_is_propagated_not_fixed():
    x = torch.randn(1, 2, 4, 2, 2)
    out = interpolate_frames(x, torch.tensor([[float("nan"), 1.0]]))
    assert out[:, :, 0].isnan().all() and not out[:, :, 1].isnan().any()
    x[0, 0, 1] = float("nan")
    assert interpolate_frames(x, torch.tensor([[1.0, 2.0]]))[0, 0, 0].isnan().all()


@pytest.mark.parametrize(
    ("x", "index", "kwargs", "error", "message"),
    [
        (torch.randn(2, 3, 4, 2, 2), torch.rand(2), {}, ValueError, r"index: expected shape '\(b, z\)' with b=2"),
        (torch.randn(2, 3, 4, 2, 2), torch.rand(3, 2), {}, ValueError, r"index: .*got \(3, 2\)"),
        (torch.randn(2, 3, 4, 2, 2), torch.rand(2, 2), {"dim": 0}, ValueError, "dim: expected a time axis"),
        (torch.randn(2, 3, 4, 2, 2), torch.rand(2, 2), {"dim": 5}, ValueError, "dim: expected a time axis"),
        (torch.randn(4), torch.rand(4, 1), {"dim": 0}, ValueError, "x: expected shape"),
        (torch.ones(2, 3, 4, dtype=torch.long), torch.rand(2, 2), {}, TypeError, "x: expected a floating-point"),
        ([1.0, 2.0], torch.rand(2, 2), {}, TypeError, "x: expected a torch.Tensor"),
    ],
)
def test_bad_inputs_raise(x, index, kwargs, error, message):
    with pytest.raises(error, match=message):
        interpolate_frames(x, index, **kwargs)


def test_compiles_without_graph_breaks():
    compiled = torch.compile(interpolate_frames, fullgraph=True, backend="aot_eager")
    x, index = torch.randn(2, 4, 8, 3, 3), torch.rand(2, 4) * 7
    torch.testing.assert_close(compiled(x, index), interpolate_frames(x, index))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x, index = torch.randn(2, 8, 8, 4, 4), torch.rand(2, 4) * 7
    torch.testing.assert_close(interpolate_frames(x.cuda(), index.cuda()).cpu(), interpolate_frames(x, index))


def test_channels_last_input_keeps_its_memory_order_and_values():
    """A ``(b, c, t, h, w)`` view of ``(b, t, h, w, c)`` memory (IFDD's pyramid output) is sampled in that order."""
    tokens = torch.randn(2, 6, 3, 4, 5, dtype=torch.float64, requires_grad=True)  # (b, t, h, w, c)
    x = tokens.permute(0, 4, 1, 2, 3)
    index = torch.tensor([[0.5, 2.3, 4.9], [4.6, 0.2, 3.25]], dtype=torch.float64, requires_grad=True)  # off the kinks
    out = interpolate_frames(x, index)
    assert out.permute(0, 2, 3, 4, 1).is_contiguous()  # the same memory order as x
    torch.testing.assert_close(out, interpolate_frames(x.contiguous(), index))
    assert torch.autograd.gradcheck(interpolate_frames, (x, index))
