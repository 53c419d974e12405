import pytest
import torch
from conftest import clip_shapes
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import LiftLoss


def huber(r, delta):
    return torch.where(r.abs() <= delta, 0.5 * r**2, delta * (r.abs() - 0.5 * delta))


def reference(y_s, x, axes, delta, weight):
    """Eqs. 8-9 by hand: average frame pairs, average the residual over `axes`, Huber against 0, mean."""
    _b, _c, t, _h, _w = x.shape
    trend = torch.stack([(x[:, :, 2 * i] + x[:, :, 2 * i + 1]) / 2 for i in range(t // 2)], dim=2)
    residual = (y_s - trend).mean(dim=axes)
    return weight * huber(residual, delta).mean()


@given(shape=clip_shapes(), delta=st.sampled_from([0.05, 1.0]), weight=st.sampled_from([0.1, 1.0]))
def test_matches_hand_written_huber(shape, delta, weight):
    x = torch.randn(shape, dtype=torch.float64)
    y_s = torch.randn(shape[0], shape[1], shape[2] // 2, *shape[3:], dtype=torch.float64)
    loss = LiftLoss(delta=delta, weight=weight)(y_s, x)
    torch.testing.assert_close(loss, reference(y_s, x, (1, 2), delta, weight))


def test_table4_ablation_averages_space_too():
    x, y_s = torch.randn(2, 4, 6, 3, 3, dtype=torch.float64), torch.randn(2, 4, 3, 3, 3, dtype=torch.float64)
    loss = LiftLoss(dims=("t", "h", "w", "c"))(y_s, x)
    torch.testing.assert_close(loss, reference(y_s, x, (1, 2, 3, 4), 1.0, 0.1))


def test_zero_when_static_group_is_the_pooled_clip():
    x = torch.randn(2, 4, 8, 3, 3)
    pooled = torch.nn.functional.avg_pool3d(x, (2, 1, 1))
    assert LiftLoss()(pooled, x) == 0
    assert LiftLoss()(pooled + 0.5, x) > 0


def test_reductions():
    x, y_s = torch.randn(2, 4, 6, 3, 3), torch.randn(2, 4, 3, 3, 3)
    none = LiftLoss(reduction="none", weight=1.0)(y_s, x)
    assert none.shape == (2, 3, 3)
    torch.testing.assert_close(LiftLoss(reduction="sum", weight=1.0)(y_s, x), none.sum())
    torch.testing.assert_close(LiftLoss(weight=1.0)(y_s, x), none.mean())


def test_gradcheck():
    x = torch.randn(1, 2, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    y_s = torch.randn(1, 2, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(LiftLoss(delta=0.3), (y_s, x))


@pytest.mark.parametrize(
    ("y_s", "x", "message"),
    [
        (
            (2, 4, 3, 3, 3),
            (2, 4, 5, 3, 3),
            r"x: expected shape 'b c t h w' with b=2, c=4, t=6, h=3, w=3, got \(2, 4, 5, 3, 3\)",
        ),
        ((2, 4, 3, 3, 3), (2, 5, 6, 3, 3), r"x: .*got \(2, 5, 6, 3, 3\)"),
        ((2, 4, 3, 3), (2, 4, 6, 3, 3), r"y_s: expected shape 'b c z h w' \(5 dims\)"),
    ],
)
def test_bad_inputs_raise(y_s, x, message):
    with pytest.raises(ValueError, match=message):
        LiftLoss()(torch.randn(y_s), torch.randn(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": ("t", "x")}, "dims: expected distinct axis names"),
        ({"dims": "tc"}, "dims: expected distinct axis names"),
        ({"dims": ()}, "dims: expected distinct axis names"),
        ({"delta": 0}, "delta: expected > 0"),
        ({"reduction": "max"}, "reduction: expected 'mean', 'sum' or 'none'"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiftLoss(**kwargs)


@pytest.mark.parametrize("dims", [("t", "c"), ("t", "h", "w", "c")])
def test_empty_batch_gives_zero_with_zero_gradients_not_nan(dims):
    y_s = torch.randn(0, 4, 2, 3, 3, requires_grad=True)
    x = torch.randn(0, 4, 4, 3, 3, requires_grad=True)
    for reduction in ("mean", "sum"):
        loss = LiftLoss(dims, reduction=reduction)(y_s, x)
        assert loss.shape == () and loss.item() == 0.0
    loss.backward()
    assert y_s.grad.shape == y_s.shape and x.grad.shape == x.shape
    assert LiftLoss(dims, reduction="none")(y_s, x).shape[0] == 0  # no elements, nothing to reduce
