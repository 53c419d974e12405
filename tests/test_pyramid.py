import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import PyramidAggregation


def reference(agg, features):
    """Per-frame conv2d with stride = dilation = padding = h_j / h_S, concat, 1x1 conv, norm."""
    last = features[-1]
    fused = []
    for conv, x in zip(agg.reduce, features[:-1]):
        r = x.shape[-1] // last.shape[-1]
        frames = [
            F.conv2d(x[:, :, i], conv.weight[:, :, 0], conv.bias, stride=r, padding=r, dilation=r)
            for i in range(x.shape[2])
        ]
        fused.append(torch.stack(frames, dim=2))
    cat = torch.cat([*fused, last], dim=1)
    out = torch.einsum("bcthw,oc->bothw", cat, agg.project.weight[:, :, 0, 0, 0])
    return agg.norm(out)


@given(
    b=st.integers(1, 2),
    t=st.integers(1, 4),
    hs=st.integers(1, 4),
    ws=st.integers(1, 4),
    dims=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    out=st.integers(1, 8),
)
def test_shapes(b, t, hs, ws, dims, out):
    agg = PyramidAggregation(dims, out).eval()  # BatchNorm in training needs > 1 value per channel
    s = len(dims)
    features = [torch.randn(b, c, t, hs * 2 ** (s - 1 - j), ws * 2 ** (s - 1 - j)) for j, c in enumerate(dims)]
    assert agg(features).shape == (b, out, t, hs, ws)


def test_matches_per_frame_reference():
    agg = PyramidAggregation([3, 5, 7], 6).double().eval()
    with torch.no_grad():
        agg.norm.running_mean.normal_()
        agg.norm.running_var.uniform_(0.5, 2)
    features = [torch.randn(2, c, 3, s, s, dtype=torch.float64) for c, s in ((3, 16), (5, 8), (7, 4))]
    torch.testing.assert_close(agg(features), reference(agg, features))


def test_non_consecutive_power_of_two_stages():
    agg = PyramidAggregation([2, 3], 4, norm_layer=None).double()
    features = [torch.randn(1, 2, 2, 16, 16, dtype=torch.float64), torch.randn(1, 3, 2, 4, 4, dtype=torch.float64)]
    out = agg(features)
    torch.testing.assert_close(out, reference(agg, features) + agg.project.bias.view(1, -1, 1, 1, 1))


def test_every_parameter_receives_a_gradient():
    agg = PyramidAggregation([3, 4], 5)
    features = [torch.randn(2, 3, 2, 8, 8, requires_grad=True), torch.randn(2, 4, 2, 4, 4, requires_grad=True)]
    agg(features).square().sum().backward()
    for name, p in agg.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("shapes", "error", "message"),
    [
        (
            [(2, 3, 4, 12, 12), (2, 4, 4, 4, 4)],
            ValueError,
            "features\\[0\\]: expected spatial size a power-of-two multiple of the last stage \\(4x4\\), got 12x12",
        ),
        ([(2, 3, 4, 8, 16), (2, 4, 4, 4, 4)], ValueError, "power-of-two multiple .* got 8x16"),
        ([(2, 3, 4, 6, 6), (2, 4, 4, 4, 4)], ValueError, "power-of-two multiple .* got 6x6"),
        (
            [(2, 5, 4, 8, 8), (2, 4, 4, 4, 4)],
            ValueError,
            r"features\[0\]: expected shape 'b c t h w' with b=2, c=3, t=4, got \(2, 5, 4, 8, 8\)",
        ),
        ([(2, 3, 2, 8, 8), (2, 4, 4, 4, 4)], ValueError, r"features\[0\]: .*t=4, got \(2, 3, 2, 8, 8\)"),
        ([(2, 3, 4, 8, 8), (2, 6, 4, 4, 4)], ValueError, r"features\[1\]: expected shape 'b c t h w' with c=4"),
        ([(2, 4, 4, 4, 4)], ValueError, "features: expected 2 stages, got 1"),
        ([(2, 3, 8, 8), (2, 4, 4, 4, 4)], ValueError, r"features\[0\]: .*\(5 dims\)"),
    ],
)
def test_bad_inputs_raise(shapes, error, message):
    with pytest.raises(error, match=message):
        PyramidAggregation([3, 4], 8)([torch.randn(s) for s in shapes])


def test_non_list_input_raises_type_error():
    with pytest.raises(TypeError, match="features: expected a list of 2 tensors, got Tensor"):
        PyramidAggregation([3, 4], 8)(torch.randn(2, 4, 4, 4, 4))


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="in_dims, out_dim: expected positive channel counts"):
        PyramidAggregation([], 8)
