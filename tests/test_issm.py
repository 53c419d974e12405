import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import ISSM, interpolate_frames

from conftest import clip_shapes


def randomise_offsets(issm, scale=1.0):
    with torch.no_grad():
        for layer in (issm.to_static, issm.to_dynamic):
            layer.weight.normal_(0, scale)
            layer.bias.normal_(0, scale)
    return issm


def reference_indices(issm, x):
    """Eqs. 1-3 frame by frame, written without einops."""
    b, c, t, h, w = x.shape
    tokens = torch.stack(
        [issm.conv(F.avg_pool2d(x[:, :, i], 2)).reshape(b, -1) @ issm.to_token.weight.T + issm.token_bias[i] for i in range(t)],
        dim=1,
    )
    tokens = F.layer_norm(tokens, (issm.token_dim,), issm.norm.weight, issm.norm.bias)
    corr = torch.einsum("bid,bjd->bij", tokens, tokens) / math.sqrt(issm.token_dim)
    a_s = torch.tanh(corr.softmax(-1).reshape(b, t * t) @ issm.to_static.weight.T + issm.to_static.bias)
    a_d = torch.tanh((-corr).softmax(-1).reshape(b, t * t) @ issm.to_dynamic.weight.T + issm.to_dynamic.bias)
    base = torch.arange(0, t, 2, dtype=x.dtype)
    return (base + issm.offset_range * a_s).clamp(0, t - 1), (base + 1 + issm.offset_range * a_d).clamp(0, t - 1)


@given(shape=clip_shapes(max_c=8, max_t=8, min_hw=2, max_hw=7), compress=st.sampled_from([1, 2]), split=st.sampled_from(["adaptive", "even_odd"]))
def test_shapes(shape, compress, split):
    b, c, t, h, w = shape
    c = c * compress
    issm = ISSM(c, t, h, w, token_dim=8, compress=compress, split=split)
    randomise_offsets(issm) if split == "adaptive" else None
    x_s, x_d, (i_s, i_d) = issm(torch.randn(b, c, t, h, w), return_indices=True)
    assert x_s.shape == x_d.shape == (b, c, t // 2, h, w)
    assert i_s.shape == i_d.shape == (b, t // 2)
    assert (i_s >= 0).all() and (i_s <= t - 1).all() and (i_d >= 0).all() and (i_d <= t - 1).all()


def test_indices_match_reference_equations():
    issm = randomise_offsets(ISSM(12, 8, 6, 6, token_dim=16, compress=2).double(), scale=0.3)
    x = torch.randn(3, 12, 8, 6, 6, dtype=torch.float64)
    x_s, x_d, (i_s, i_d) = issm(x, return_indices=True)
    ref_s, ref_d = reference_indices(issm, x)
    torch.testing.assert_close(i_s, ref_s)
    torch.testing.assert_close(i_d, ref_d)
    torch.testing.assert_close(x_s, interpolate_frames(x, ref_s))
    torch.testing.assert_close(x_d, interpolate_frames(x, ref_d))
    assert not torch.allclose(i_s, torch.arange(0, 8, 2, dtype=x.dtype))  # the offsets did move


def test_zero_offsets_give_even_odd_split():
    issm = ISSM(8, 6, 4, 4, token_dim=8)
    with torch.no_grad():  # perturb everything before the offset layers: the split must not care
        issm.conv.weight.normal_()
        issm.token_bias.normal_()
    x = torch.randn(2, 8, 6, 4, 4)
    x_s, x_d, (i_s, i_d) = issm(x, return_indices=True)
    assert torch.equal(x_s, x[:, :, 0::2]) and torch.equal(x_d, x[:, :, 1::2])
    assert i_s.tolist() == [[0.0, 2.0, 4.0]] * 2 and i_d.tolist() == [[1.0, 3.0, 5.0]] * 2


def test_even_odd_split_equals_slicing_and_has_no_parameters():
    issm = ISSM(8, 4, 5, 5, split="even_odd")
    x = torch.randn(2, 8, 4, 5, 5)
    x_s, x_d = issm(x)
    assert torch.equal(x_s, x[:, :, 0::2]) and torch.equal(x_d, x[:, :, 1::2])
    assert sum(p.numel() for p in issm.parameters()) == 0


def test_offset_range_bounds_the_shift():
    issm = randomise_offsets(ISSM(4, 8, 4, 4, token_dim=8, offset_range=0.5), scale=10.0)
    _, _, (i_s, i_d) = issm(torch.randn(4, 4, 8, 4, 4), return_indices=True)
    base = torch.arange(0, 8, 2.0)
    assert ((i_s - base).abs() <= 0.5 + 1e-6).all() and ((i_d - base - 1).abs() <= 0.5 + 1e-6).all()
    assert ISSM(4, 8, 4, 4).offset_range == 4.0  # default L = t / 2


def test_every_parameter_receives_a_gradient():
    issm = randomise_offsets(ISSM(6, 4, 4, 4, token_dim=8), scale=0.3)
    x = torch.randn(2, 6, 4, 4, 4, requires_grad=True)
    x_s, x_d = issm(x)
    (x_s.square().sum() + (x_d * torch.randn_like(x_d)).sum()).backward()
    for name, p in issm.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_state_dict_round_trip():
    a = randomise_offsets(ISSM(6, 4, 4, 4, token_dim=8))
    b = ISSM(6, 4, 4, 4, token_dim=8)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 6, 4, 4, 4)
    torch.testing.assert_close(a(x)[0], b(x)[0])


def test_bfloat16_keeps_float32_positions():
    issm = randomise_offsets(ISSM(8, 8, 4, 4, token_dim=8), scale=0.3)
    x = torch.randn(2, 8, 8, 4, 4)
    x_s, _, (i_s, _) = issm.to(torch.bfloat16)(x.to(torch.bfloat16), return_indices=True)
    assert x_s.dtype == torch.bfloat16 and i_s.dtype == torch.float32


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 8, 8, 6), r"x: expected shape 'b c t h w' with c=8, t=8, h=6, w=6 \(5 dims\), got \(2, 8, 8, 6\)"),
        ((2, 4, 8, 6, 6), r"x: expected shape 'b c t h w' with c=8.*got \(2, 4, 8, 6, 6\)"),
        ((2, 8, 6, 6, 6), r"got \(2, 8, 6, 6, 6\)"),
        ((2, 8, 8, 7, 6), r"got \(2, 8, 8, 7, 6\)"),
        ((2, 8, 8, 6, 12), r"got \(2, 8, 8, 6, 12\)"),
    ],
)
def test_wrong_input_shape_raises(shape, message):
    with pytest.raises(ValueError, match=message):
        ISSM(8, 8, 6, 6)(torch.randn(shape))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 7}, "num_frames: .*even number of frames t >= 2, got t=7"),
        ({"num_frames": 0}, "num_frames: .*got t=0"),
        ({"compress": 3}, "compress: expected a positive divisor of dim=8, got 3"),
        ({"height": 1}, "height, width: AvgPool2d_2 needs a spatial size >= 2"),
        ({"split": "random"}, "split: expected 'adaptive' or 'even_odd'"),
        ({"offset_range": -1.0}, "offset_range: expected L >= 0"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    settings = {"dim": 8, "num_frames": 8, "height": 6, "width": 6} | kwargs
    with pytest.raises(ValueError, match=message):
        ISSM(**settings)


def test_integer_input_raises_type_error():
    with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
        ISSM(2, 2, 2, 2)(torch.ones(1, 2, 2, 2, 2, dtype=torch.long))


def test_compiles_without_graph_breaks():
    issm = randomise_offsets(ISSM(8, 8, 4, 4, token_dim=8), scale=0.3)
    x = torch.randn(2, 8, 8, 4, 4)
    compiled = torch.compile(issm, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x), issm(x)):
        torch.testing.assert_close(a, b)
