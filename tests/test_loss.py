import pytest
import torch
from conftest import clip_shapes, layouts
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import ISSM, LADM, LiftLoss
from lifting_dfer._checks import parse_pattern


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


# ----------------------------------------------------------------------------------------------- layouts
def to_layout(x, layout):
    """A canonical ``(b, c, t, h, w)`` tensor in ``layout``, whose frame axis is named ``t`` or ``z``."""
    frames = "z" if "z" in {axis for group in parse_pattern(layout) for axis in group} else "t"
    return rearrange(x, f"b c {frames} h w -> {layout}")


def given_sizes(layout, t, h, w):
    """The sizes LiftLoss needs to read ``layout``: all but one of each group's axes (all but b with b)."""
    sizes = {"t": t, "z": t, "h": h, "w": w}
    arguments = {"t": "num_frames", "z": "num_frames", "h": "height", "w": "width"}
    needed = set()
    for group in parse_pattern(layout):
        needed |= set(group) - {"b"} if "b" in group else set(group[1:])
    return {arguments[axis]: sizes[axis] for axis in needed - {"c"}}


@given(
    shape=clip_shapes(max_c=4, max_hw=4),
    layout=st.sampled_from(["t", "z"]).flatmap(layouts),  # ISSM's t, or LADM's z, for the frame axis
    dims=st.sampled_from([("t", "c"), ("t", "h", "w", "c"), ("h",)]),
    _seeded=st.random_module(),
)
def test_every_layout_equals_the_canonical_one_with_gradients(shape, layout, dims, _seeded):
    b, c, t, h, w = shape
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y_s = torch.randn(b, c, t // 2, h, w, dtype=torch.float64, requires_grad=True)
    other = LiftLoss(dims, reduction="none", layout=layout, **given_sizes(layout, t, h, w))
    x_other, y_other = (to_layout(a.detach(), layout).requires_grad_() for a in (x, y_s))
    canonical_loss, other_loss = LiftLoss(dims, reduction="none")(y_s, x), other(y_other, x_other)
    torch.testing.assert_close(other_loss, canonical_loss)  # the residual's axes in canonical order
    weights = torch.randn(canonical_loss.shape, dtype=torch.float64)
    (canonical_loss * weights).sum().backward()
    (other_loss * weights).sum().backward()
    torch.testing.assert_close((x_other.grad, y_other.grad), (to_layout(x.grad, layout), to_layout(y_s.grad, layout)))
    assert y_s.grad.abs().sum() > 0


def test_one_layout_string_serves_issm_ladm_and_liftloss():
    """The README's pipeline in channels-last features: ISSM's layout string goes to LADM and LiftLoss unchanged."""
    layout = "b t h w c"
    issm, ladm = ISSM(8, 4, 3, 3, token_dim=8, layout=layout), LADM(8, heads=2, layout=layout)
    x = torch.randn(2, 4, 3, 3, 8)
    x_s, x_d = issm(x)
    y_s, y_d = ladm(x_s, x_d)
    assert y_s.shape == y_d.shape == (2, 2, 3, 3, 8)
    canonical = LiftLoss()(y_s.permute(0, 4, 1, 2, 3), x.permute(0, 4, 1, 2, 3))
    torch.testing.assert_close(LiftLoss(layout=layout)(y_s, x), canonical)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "b x h w c"}, r"layout: expected an einops pattern over the axes b, c, t, h, w \(z for t is"),
        ({"layout": "(b t) c h w"}, r"layout: the input cannot tell the sizes of b, t in \(b t\).*give num_frames"),
        ({"layout": "b (t h w) c", "num_frames": 4}, r"sizes of h, w in \(t h w\).*give height or width"),
        ({"num_frames": 3}, "num_frames: the lifting split needs an even number of frames t >= 2, got t=3"),
        ({"height": 0}, "height: expected a positive size or None, got 0"),
    ],
)
def test_bad_layout_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiftLoss(**kwargs)


def test_wrong_inputs_are_reported_in_their_layout_with_their_frame_axis():
    loss = LiftLoss(layout="b t h w c")
    with pytest.raises(ValueError, match=r"y_s: expected shape 'b z h w c' \(5 dims\), got \(2, 3, 4, 4\)"):
        loss(torch.randn(2, 3, 4, 4), torch.randn(2, 6, 4, 4, 8))
    with pytest.raises(ValueError, match=r"x: expected shape 'b t h w c' with b=2, c=8, t=6, h=4, w=4, got"):
        loss(torch.randn(2, 3, 4, 4, 8), torch.randn(2, 5, 4, 4, 8))
    assert "layout='b t h w c'" in repr(loss) and "num_frames=4" in repr(LiftLoss(num_frames=4))
