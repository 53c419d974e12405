import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import clip_shapes, layouts
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from lifting_dfer import ISSM, LazyISSM, interpolate_frames
from lifting_dfer._checks import parse_pattern


def randomise_offsets(issm, scale=1.0):
    with torch.no_grad():
        for layer in (issm.to_static, issm.to_dynamic):
            layer.weight.normal_(0, scale)
            layer.bias.normal_(0, scale)
    return issm


def interior_offsets(issm):
    """Offsets inside (0, 1/2) frame of the even/odd split for an ISSM with ``offset_range=0.5``: every position
    is fractional and none is clamped, so every parameter gets a gradient whatever the input."""
    with torch.no_grad():
        for layer, sign in ((issm.to_static, 1), (issm.to_dynamic, -1)):
            layer.weight.normal_(0, 0.01)
            layer.bias.fill_(0.5 * sign)
    return issm


def reference_indices(issm, x, pool=lambda frame: F.avg_pool2d(frame, 2)):
    """Eqs. 1-3 frame by frame, written without einops (``pool``: Eq. 1's AvgPool2d_2 unless given)."""
    b, _c, t, _h, _w = x.shape
    tokens = torch.stack(
        [issm.conv(pool(x[:, :, i])).reshape(b, -1) @ issm.to_token.weight.T + issm.token_bias[i] for i in range(t)],
        dim=1,
    )
    tokens = F.layer_norm(tokens, (issm.token_dim,), issm.norm.weight, issm.norm.bias)
    corr = torch.einsum("bid,bjd->bij", tokens, tokens) / math.sqrt(issm.token_dim)
    a_s = torch.tanh(corr.softmax(-1).reshape(b, t * t) @ issm.to_static.weight.T + issm.to_static.bias)
    a_d = torch.tanh((-corr).softmax(-1).reshape(b, t * t) @ issm.to_dynamic.weight.T + issm.to_dynamic.bias)
    base = torch.arange(0, t, 2, dtype=x.dtype)
    return (base + issm.offset_range * a_s).clamp(0, t - 1), (base + 1 + issm.offset_range * a_d).clamp(0, t - 1)


@given(
    shape=clip_shapes(max_c=8, max_t=8, min_hw=2, max_hw=7),
    compress=st.sampled_from([1, 2]),
    split=st.sampled_from(["adaptive", "even_odd"]),
)
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
        ({"height": None}, "height, width: Eq. 1's W_T flattens the pooled .* or pass token_grid=.* or use LazyISSM"),
        ({"token_grid": 0}, r"token_grid: expected None or a positive size \(g_h, g_w\), got 0"),
        ({"token_grid": (7, 7, 7)}, r"token_grid: expected None or a positive size"),
        ({"layout": "b t h w"}, "layout: expected an einops pattern over the axes b, c, t, h, w .*got 'b t h w'"),
        ({"layout": "b (t h) w c)"}, r"layout: pattern 'b \(t h\) w c\)': unbalanced"),
        ({"layout": "b z h w c"}, "layout: expected an einops pattern over the axes b, c, t, h, w"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    settings = {"dim": 8, "num_frames": 8, "height": 6, "width": 6} | kwargs
    with pytest.raises(ValueError, match=message):
        ISSM(**settings)


def test_integer_input_raises_type_error():
    with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
        ISSM(2, 2, 2, 2)(torch.ones(1, 2, 2, 2, 2, dtype=torch.long))


def test_compiles_without_graph_breaks_and_wrong_inputs_raise_the_library_error():
    issm = randomise_offsets(ISSM(8, 8, 4, 4, token_dim=8, layout="b t h w c"), scale=0.3)
    x = torch.randn(2, 8, 4, 4, 8)
    compiled = torch.compile(issm, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x), issm(x)):
        torch.testing.assert_close(a, b)
    # a wrong input is the library's error, raised by the compiled code, not dynamo's "Observed exception"
    with pytest.raises(
        ValueError, match=r"^x: expected shape 'b t h w c' with c=8, t=8, h=4, w=4, got \(2, 8, 6, 6, 8\)$"
    ):
        compiled(torch.randn(2, 8, 6, 6, 8))
    with pytest.raises(TypeError, match=r"^x: expected dtype torch.float32 .*got torch.float64"):
        compiled(x.double())
    torch.testing.assert_close(compiled(x), issm(x))  # valid inputs still run the first graph


# ----------------------------------------------------------------------------------------------- layouts
def to_layout(x, layout):
    """A canonical (b, c, t, h, w) tensor (or its (b, c, z, h, w) halves) in ``layout``."""
    return rearrange(x, f"b c t h w -> {layout}")


def given_sizes(layout, c, t, h, w):
    """The fewest sizes ISSM needs to read ``layout``: all others in a group with b, all but one in other groups."""
    sizes, arguments = {"c": c, "t": t, "h": h, "w": w}, {"c": "dim", "t": "num_frames", "h": "height", "w": "width"}
    needed = set()
    for group in parse_pattern(layout):
        needed |= set(group) - {"b"} if "b" in group else set(group[1:])
    return {arguments[axis]: sizes[axis] for axis in needed}


def canonical_and_other(shape, layout, dtype=torch.float32):
    """An ISSM in the canonical layout with moved offsets, and one in ``layout`` with the same weights."""
    _b, c, t, h, w = shape
    canonical = randomise_offsets(ISSM(c, t, h, w, token_dim=8), scale=0.3).to(dtype)
    other = ISSM(c, t, h, w, token_dim=8, layout=layout).to(dtype)
    other.load_state_dict(canonical.state_dict())
    return canonical, other


@given(shape=clip_shapes(max_c=6, min_hw=2, max_hw=6), layout=layouts())
def test_every_layout_equals_the_canonical_one(shape, layout):
    canonical, other = canonical_and_other(shape, layout)
    x = torch.randn(shape)
    x_s, x_d, (i_s, i_d) = canonical(x, return_indices=True)
    y_s, y_d, (j_s, j_d) = other(to_layout(x, layout), return_indices=True)
    torch.testing.assert_close(y_s, to_layout(x_s, layout))  # the layout it was given, with t/2 frames
    torch.testing.assert_close(y_d, to_layout(x_d, layout))
    torch.testing.assert_close((j_s, j_d), (i_s, i_d))
    torch.testing.assert_close(other.indices(to_layout(x, layout)), (i_s, i_d))


@given(shape=clip_shapes(max_c=6, min_hw=2, max_hw=5), layout=layouts(), _seeded=st.random_module())
def test_gradients_reach_inputs_and_parameters_in_every_layout(shape, layout, _seeded):
    """In float64: the two layouts sum the same terms in another order. In float32 parameter gradients of size ~100
    then differ by ~2e-5, beyond assert_close's atol of 1e-5 (e.g. token_bias for shape (2, 1, 8, 5, 5) and
    '(t b) c h w'); in float64 by ~1e-14. Each example draws from torch's generator seeded from the example."""
    b, c, t, h, w = shape
    canonical, other = canonical_and_other(shape, layout, torch.float64)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    x_other = to_layout(x.detach(), layout).requires_grad_()
    weights = torch.randn(2, b, c, t // 2, h, w, dtype=torch.float64)
    x_s, x_d = canonical(x)
    ((x_s * weights[0]).sum() + (x_d * weights[1]).sum()).backward()
    y_s, y_d = other(x_other)
    ((y_s * to_layout(weights[0], layout)).sum() + (y_d * to_layout(weights[1], layout)).sum()).backward()
    torch.testing.assert_close(x_other.grad, to_layout(x.grad, layout))
    assert x.grad.abs().sum() > 0
    for (name, p), q in zip(canonical.named_parameters(), other.parameters()):
        assert q.grad is not None and torch.isfinite(q.grad).all(), name
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@pytest.mark.parametrize(
    ("layout", "kwargs", "message"),
    [
        ("(b t) c h w", {"num_frames": None}, r"sizes of b, t in \(b t\) of '\(b t\) c h w'; give num_frames"),
        ("b (t h w) c", {"height": None, "width": None}, r"sizes of h, w in \(t h w\).*; give height or width"),
        ("(b t) (h w) c", {"height": None, "width": None}, r"sizes of h, w in \(h w\).*; give height or width"),
    ],
)
def test_a_layout_without_the_sizes_it_needs_raises(layout, kwargs, message):
    settings = {"dim": 8, "num_frames": 4, "height": 6, "width": 6, "token_grid": 3, "layout": layout} | kwargs
    with pytest.raises(ValueError, match=f"layout: the input cannot tell the {message}"):
        (LazyISSM if settings["num_frames"] is None else ISSM)(**settings)


def test_wrong_input_in_a_layout_is_reported_in_that_layout():
    issm = ISSM(8, 4, 6, 6, layout="(b t) (h w) c")
    with pytest.raises(
        ValueError, match=r"x: expected shape '\(b t\) \(h w\) c' with c=8, t=4, h=6, w=6, got \(8, 35, 8\)"
    ):
        issm(torch.randn(8, 35, 8))
    with pytest.raises(ValueError, match=r"got \(6, 36, 8\)"):  # 6 frames: not a whole number of 4-frame clips
        issm(torch.randn(6, 36, 8))


# ------------------------------------------------------------------------------------------ lazy construction
@given(shape=clip_shapes(max_c=6, min_hw=2, max_hw=6), compress=st.sampled_from([1, 2]), layout=layouts())
def test_lazy_construction_becomes_the_eager_module(shape, compress, layout):
    b, c, t, h, w = shape
    c *= compress
    x = to_layout(torch.randn(b, c, t, h, w), layout)
    settings = {"token_dim": 8, "compress": compress, "layout": layout, "offset_range": 0.5}
    lazy = LazyISSM(**given_sizes(layout, c, t, h, w), **settings)
    optimizer = torch.optim.SGD(lazy.parameters(), lr=1.0)  # made before the first input: holds the parameters
    torch.manual_seed(1)
    x_s, x_d = lazy(x)
    torch.manual_seed(1)
    eager = ISSM(c, t, h, w, **settings)
    assert type(lazy) is ISSM and (lazy.dim, lazy.num_frames, lazy.height, lazy.width) == (c, t, h, w)
    assert repr(lazy) == repr(eager) and set(vars(lazy)) == set(vars(eager))
    for (name, p), (name_e, q) in zip(lazy.state_dict().items(), eager.state_dict().items()):
        assert name == name_e and torch.equal(p, q), name  # the eager module's initialisation, from the same seed
    torch.testing.assert_close((x_s, x_d), eager(x))
    interior_offsets(lazy)
    eager.load_state_dict(lazy.state_dict())  # state dict round trip
    torch.testing.assert_close(lazy(x), eager(x))
    before = lazy.to_static.weight.detach().clone()
    (lazy(x)[0].square().sum()).backward()
    optimizer.step()
    assert not torch.equal(lazy.to_static.weight, before)


def test_lazy_module_checks_the_sizes_it_was_given():
    with pytest.raises(ValueError, match=r"x: expected shape 'b c t h w' with t=8, got \(2, 4, 6, 5, 5\)"):
        LazyISSM(num_frames=8)(torch.randn(2, 4, 6, 5, 5))


@pytest.mark.parametrize(
    ("kwargs", "shape", "message"),
    [
        (
            {},
            (2, 4, 5, 6, 6),
            r"x: num_frames: the lifting split needs an even number of frames t >= 2, got t=5 "
            r"\(sizes read from x, shape \(2, 4, 5, 6, 6\)\)",
        ),
        ({}, (2, 4, 4, 1, 6), r"x: height, width: AvgPool2d_2 needs a spatial size >= 2, got 1x6"),
        ({"compress": 4}, (2, 6, 4, 6, 6), r"x: compress: expected a positive divisor of dim=6, got 4"),
        ({}, (2, 4, 4, 6), r"x: expected shape 'b c t h w' \(5 dims\), got \(2, 4, 4, 6\)"),
    ],
)
def test_lazy_module_names_x_for_a_bad_first_input(kwargs, shape, message):
    lazy = LazyISSM(**kwargs)
    with pytest.raises(ValueError, match=message):
        lazy(torch.randn(shape))
    assert type(lazy) is LazyISSM  # still waiting for a good first input


def test_lazy_module_rejects_later_inputs_of_another_shape_like_issm():
    issm = LazyISSM(token_dim=8)
    issm(torch.randn(2, 4, 4, 6, 6))
    with pytest.raises(
        ValueError, match=r"x: expected shape 'b c t h w' with c=4, t=4, h=6, w=6, got \(2, 4, 4, 8, 8\)"
    ):
        issm(torch.randn(2, 4, 4, 8, 8))


def test_lazy_module_with_token_grid_keeps_any_resolution():
    issm = LazyISSM(token_grid=3, token_dim=8, layout="b t h w c")
    assert issm(torch.randn(2, 4, 6, 6, 8))[0].shape == (2, 2, 6, 6, 8)
    assert (issm.dim, issm.num_frames, issm.height, issm.width) == (8, 4, None, None)
    assert issm(torch.randn(1, 4, 10, 7, 8))[1].shape == (1, 2, 10, 7, 8)


def test_lazy_module_needs_its_first_input_before_load_state_dict():
    state = ISSM(4, 4, 6, 6).state_dict()
    with pytest.raises(RuntimeError, match="LazyISSM: load_state_dict before the first input.*run one input"):
        LazyISSM().load_state_dict(state)


def test_lazy_module_compiles_and_exports():
    lazy, x = LazyISSM(token_dim=8), torch.randn(2, 4, 4, 6, 6)
    compiled = torch.compile(lazy, fullgraph=True, backend="eager")
    out = compiled(x)  # dynamo runs the first input through it, then traces an ISSM
    assert type(lazy) is ISSM
    torch.testing.assert_close(out, lazy(x))
    program = torch.export.export(lazy, (x,))
    torch.testing.assert_close(program.module()(x), lazy(x))


def test_lazy_even_odd_split_needs_only_a_first_input():
    issm = LazyISSM(split="even_odd", layout="b t c h w")
    x = torch.randn(2, 6, 3, 4, 4)
    x_s, x_d = issm(x)
    assert type(issm) is ISSM and issm.num_frames == 6 and sum(p.numel() for p in issm.parameters()) == 0
    assert torch.equal(x_s, x[:, 0::2]) and torch.equal(x_d, x[:, 1::2])


# ------------------------------------------------------------------------------------------- any resolution
@given(
    shape=clip_shapes(max_c=6, min_hw=1, max_hw=5),
    scale=st.sampled_from([2, 3]),
    grid=st.sampled_from([1, 3, (2, 3)]),
)
def test_token_grid_serves_two_sizes_through_one_module(shape, scale, grid):
    b, c, t, h, w = shape
    issm = interior_offsets(ISSM(c, t, token_dim=8, token_grid=grid, offset_range=0.5))
    pool = lambda frame: F.adaptive_avg_pool2d(frame, grid)  # noqa: E731 - the authors' pooling, by hand
    for size in ((h, w), (h * scale, w * scale)):
        issm.zero_grad()
        x = torch.randn(b, c, t, *size, requires_grad=True)
        x_s, x_d, (i_s, i_d) = issm(x, return_indices=True)
        assert x_s.shape == x_d.shape == (b, c, t // 2, *size)
        torch.testing.assert_close((i_s, i_d), reference_indices(issm, x, pool))
        (x_s.square().sum() + x_d.sum()).backward()
        assert x.grad.abs().sum() > 0
        for name, p in issm.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_token_grid_of_half_the_map_computes_eq_1_exactly():
    eq1 = randomise_offsets(ISSM(6, 4, 8, 6, token_dim=8), scale=0.3)
    grid = ISSM(6, 4, token_dim=8, token_grid=(4, 3))
    grid.load_state_dict(eq1.state_dict())
    x = torch.randn(2, 6, 4, 8, 6)
    torch.testing.assert_close(grid(x, return_indices=True), eq1(x, return_indices=True))
    assert type(eq1.pool) is nn.AvgPool2d and type(grid.pool) is nn.AdaptiveAvgPool2d  # the default is Eq. 1's


def test_token_grid_with_a_given_size_checks_it():
    issm = ISSM(4, 4, 6, 6, token_grid=3)
    assert "token_grid=(3, 3)" in repr(issm)
    with pytest.raises(
        ValueError, match=r"x: expected shape 'b c t h w' with c=4, t=4, h=6, w=6, got \(1, 4, 4, 8, 8\)"
    ):
        issm(torch.randn(1, 4, 4, 8, 8))


# ---------------------------------------------------------------------------------------------- edge inputs
@pytest.mark.parametrize("layout", ["b c t h w", "(b t) (h w) c", "b (t h w) c"])
@pytest.mark.parametrize("split", ["adaptive", "even_odd"])
def test_empty_batch_gives_empty_outputs(layout, split):
    issm = ISSM(4, 4, 6, 6, token_dim=8, split=split, layout=layout)
    x = to_layout(torch.randn(0, 4, 4, 6, 6), layout).requires_grad_()
    x_s, x_d, (i_s, i_d) = issm(x, return_indices=True)
    assert x_s.shape == x_d.shape == to_layout(torch.empty(0, 4, 2, 6, 6), layout).shape
    assert i_s.shape == i_d.shape == (0, 2)
    (x_s.sum() + x_d.sum()).backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_input_of_another_dtype_than_the_parameters_names_both(dtype):
    with pytest.raises(
        TypeError, match=rf"x: expected dtype torch.float32 \(the dtype of ISSM's parameters\), got {dtype}"
    ):
        ISSM(4, 4, 6, 6)(torch.randn(2, 4, 4, 6, 6, dtype=dtype))
    x_s, _ = ISSM(4, 4, 6, 6, split="even_odd")(torch.randn(2, 4, 4, 6, 6, dtype=dtype))  # no parameters: any dtype
    assert x_s.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_autocast_takes_float32_and_bfloat16_inputs(dtype):
    issm = randomise_offsets(ISSM(8, 4, 6, 6, token_dim=8), scale=0.3)
    x = torch.randn(2, 8, 4, 6, 6)
    ref_s, _, (ref_i, _) = issm(x, return_indices=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x_s, _, (i_s, _) = issm(x.to(dtype), return_indices=True)
    assert i_s.dtype == torch.float32
    torch.testing.assert_close(i_s, ref_i, atol=0.1, rtol=0)
    torch.testing.assert_close(x_s.float(), ref_s, atol=0.1, rtol=0.05)


def test_jit_script_is_refused_with_the_supported_paths_and_tracing_works():
    issm = randomise_offsets(ISSM(4, 4, 6, 6, token_dim=8, layout="b t h w c"), scale=0.3)
    x = torch.randn(2, 4, 6, 6, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of scripting; tracer warnings about Python values
        with pytest.raises(TypeError, match="ISSM does not support torch.jit.script.*torch.jit.trace, torch.export"):
            torch.jit.script(issm)
        traced = torch.jit.trace(issm, (x,))
    torch.testing.assert_close(traced(x), issm(x))
