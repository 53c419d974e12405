import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import clip_shapes, layouts
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer import LADM, LiftingAttention
from lifting_dfer._checks import parse_pattern


def reference_attention(block, query, context):
    """MLP(softmax(Q K^T / sqrt(d)) V) per head, with explicit matrices (Eqs. 5-6)."""
    q = F.layer_norm(query, query.shape[-1:], block.norm_query.weight, block.norm_query.bias) @ block.to_q.weight.T
    kv = (
        F.layer_norm(context, context.shape[-1:], block.norm_context.weight, block.norm_context.bias)
        @ block.to_kv.weight.T
    )
    k, v = kv.chunk(2, dim=-1)
    d = q.shape[-1] // block.heads
    heads = []
    for i in range(block.heads):
        qi, ki, vi = (a[..., i * d : (i + 1) * d] for a in (q, k, v))
        heads.append(torch.softmax(qi @ ki.transpose(-1, -2) / math.sqrt(d), dim=-1) @ vi)
    return block.mlp(torch.cat(heads, dim=-1))


def tokens(x):
    return x.flatten(2).transpose(1, 2)  # b c z h w -> b (z h w) c


def untokens(x, like):
    return x.transpose(1, 2).reshape(like.shape)


@given(
    shape=clip_shapes(max_c=4, max_t=6, min_hw=1, max_hw=4),
    heads=st.sampled_from([1, 2, 4]),
    order=st.sampled_from(["update_first", "predict_first"]),
    mutual=st.booleans(),
)
def test_shapes(shape, heads, order, mutual):
    b, c, t, h, w = shape
    c *= heads
    ladm = LADM(c, heads=heads, order=order, mutual=mutual)
    x_s, x_d = torch.randn(b, c, t // 2, h, w), torch.randn(b, c, t // 2, h, w)
    y_s, y_d = ladm(x_s, x_d)
    assert y_s.shape == y_d.shape == x_s.shape


def test_attention_matches_explicit_softmax_reference():
    block = LiftingAttention(16, heads=4, mlp_ratio=2.0).double()
    query, context = torch.randn(2, 10, 16, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    torch.testing.assert_close(block(query, context), reference_attention(block, query, context))


@pytest.mark.parametrize("order", ["update_first", "predict_first"])
@pytest.mark.parametrize("mutual", [True, False])
def test_lifting_equations_match_reference(order, mutual):
    ladm = LADM(8, heads=2, order=order, mutual=mutual).double()
    x_s, x_d = torch.randn(2, 8, 2, 3, 3, dtype=torch.float64), torch.randn(2, 8, 2, 3, 3, dtype=torch.float64)
    s, d = tokens(x_s), tokens(x_d)
    if order == "update_first":
        ys = s + reference_attention(ladm.update, s, d if mutual else s)  # Eq. 5
        yd = d - reference_attention(ladm.predict, d, ys if mutual else d)  # Eq. 6
    else:
        yd = d - reference_attention(ladm.predict, d, s if mutual else d)
        ys = s + reference_attention(ladm.update, s, yd if mutual else s)
    y_s, y_d = ladm(x_s, x_d)
    torch.testing.assert_close(y_s, untokens(ys, x_s))
    torch.testing.assert_close(y_d, untokens(yd, x_d))


def test_update_depends_on_dynamic_group_only_when_mutual():
    x_s, x_d = torch.randn(2, 8, 2, 3, 3), torch.randn(2, 8, 2, 3, 3)
    other_d = torch.randn_like(x_d)
    mutual, separate = LADM(8, heads=2), LADM(8, heads=2, mutual=False)
    assert not torch.allclose(mutual(x_s, x_d)[0] - x_s, mutual(x_s, other_d)[0] - x_s)
    torch.testing.assert_close(separate(x_s, x_d)[0], separate(x_s, other_d)[0])
    other_s = torch.randn_like(x_s)  # without mutual, Y_D ignores the static group too
    torch.testing.assert_close(separate(x_s, x_d)[1], separate(other_s, x_d)[1])


def test_order_changes_the_result():
    a = LADM(8, heads=2)
    b = LADM(8, heads=2, order="predict_first")
    b.load_state_dict(a.state_dict())
    x_s, x_d = torch.randn(2, 8, 2, 3, 3), torch.randn(2, 8, 2, 3, 3)
    (as_, ad), (bs, bd) = a(x_s, x_d), b(x_s, x_d)
    assert not torch.allclose(as_, bs) and not torch.allclose(ad, bd)


def test_every_parameter_receives_a_gradient():
    ladm = LADM(8, heads=2)
    x_s = torch.randn(2, 8, 2, 3, 3, requires_grad=True)
    x_d = torch.randn(2, 8, 2, 3, 3, requires_grad=True)
    y_s, y_d = ladm(x_s, x_d)
    (y_s.square().sum() + y_d.square().sum()).backward()
    for name, p in ladm.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x_s.grad.abs().sum() > 0 and x_d.grad.abs().sum() > 0


def test_gradcheck_float64():
    ladm = LADM(4, heads=2, mlp_ratio=1.0).double()
    x_s = torch.randn(1, 4, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    x_d = torch.randn(1, 4, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ladm(a, b), (x_s, x_d))


def test_dropout_only_in_training():
    ladm = LADM(8, heads=2, dropout=0.5).eval()
    x_s, x_d = torch.randn(2, 8, 2, 3, 3), torch.randn(2, 8, 2, 3, 3)
    torch.testing.assert_close(ladm(x_s, x_d)[1], ladm(x_s, x_d)[1])
    ladm.train()
    assert not torch.allclose(ladm(x_s, x_d)[1], ladm(x_s, x_d)[1])


@pytest.mark.parametrize(
    ("x_s", "x_d", "error", "message"),
    [
        (
            (2, 8, 2, 3, 3),
            (2, 8, 3, 3, 3),
            ValueError,
            r"x_d: expected shape 'b c z h w' with b=2, c=8, z=2, h=3, w=3, got \(2, 8, 3, 3, 3\)",
        ),
        ((2, 8, 2, 3, 3), (1, 8, 2, 3, 3), ValueError, r"x_d: .*got \(1, 8, 2, 3, 3\)"),
        (
            (2, 6, 2, 3, 3),
            (2, 6, 2, 3, 3),
            ValueError,
            r"x_s: expected shape 'b c z h w' with c=8, got \(2, 6, 2, 3, 3\)",
        ),
        ((2, 8, 2, 9), (2, 8, 2, 9), ValueError, r"x_s: .*\(5 dims\), got \(2, 8, 2, 9\)"),
    ],
)
def test_bad_inputs_raise(x_s, x_d, error, message):
    with pytest.raises(error, match=message):
        LADM(8, heads=2)(torch.randn(x_s), torch.randn(x_d))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heads": 3}, "heads: expected a positive divisor of dim=8, got 3"),
        ({"order": "update"}, "order: expected 'update_first' or 'predict_first'"),
        ({"dropout": 1.0}, "dropout: expected a probability"),
        ({"mlp_ratio": 0}, "mlp_ratio: expected > 0"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LADM(8, **kwargs)


def test_compiles_without_graph_breaks_and_wrong_inputs_raise_the_library_error():
    ladm = LADM(8, heads=2, layout="b z h w c")
    x_s, x_d = torch.randn(2, 2, 3, 3, 8), torch.randn(2, 2, 3, 3, 8)
    compiled = torch.compile(ladm, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x_s, x_d), ladm(x_s, x_d)):
        torch.testing.assert_close(a, b)
    with pytest.raises(
        ValueError, match=r"^x_d: expected shape 'b z h w c' with b=2, z=2, h=3, w=3, c=8, got \(2, 2, 3, 4, 8\)$"
    ):
        compiled(x_s, torch.randn(2, 2, 3, 4, 8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_autocast_matches_cpu():
    ladm = LADM(64, heads=8)
    x_s, x_d = torch.randn(2, 64, 4, 7, 7), torch.randn(2, 64, 4, 7, 7)
    ref = ladm(x_s, x_d)[1]
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = ladm.cuda()(x_s.cuda(), x_d.cuda())[1]
    torch.testing.assert_close(out.float().cpu(), ref, atol=5e-2, rtol=5e-2)


# ----------------------------------------------------------------------------------------------- layouts
def to_layout(x, layout):
    """A canonical ``(b, c, z, h, w)`` tensor in ``layout``, whose frame axis is named ``z`` or ``t``."""
    frames = "t" if "t" in {axis for group in parse_pattern(layout) for axis in group} else "z"
    return rearrange(x, f"b c {frames} h w -> {layout}")


@given(
    shape=clip_shapes(max_c=2, max_t=6, min_hw=1, max_hw=4),
    layout=st.sampled_from(["z", "t"]).flatmap(layouts),  # LADM's z, or ISSM's t for the frame axis
    order=st.sampled_from(["update_first", "predict_first"]),
    _seeded=st.random_module(),
)
def test_every_layout_equals_the_canonical_one_with_gradients(shape, layout, order, _seeded):
    """In float64, as for ISSM: the layouts sum the same terms in other orders."""
    b, c, t, h, w = shape
    c *= 4
    canonical = LADM(c, heads=2, order=order).double()
    other = LADM(c, heads=2, order=order, layout=layout, num_frames=t // 2).double()
    other.load_state_dict(canonical.state_dict())
    x_s, x_d = (torch.randn(b, c, t // 2, h, w, dtype=torch.float64, requires_grad=True) for _ in range(2))
    o_s, o_d = (to_layout(a.detach(), layout).requires_grad_() for a in (x_s, x_d))
    y_s, y_d = canonical(x_s, x_d)
    z_s, z_d = other(o_s, o_d)
    torch.testing.assert_close((z_s, z_d), (to_layout(y_s, layout), to_layout(y_d, layout)))
    weights = torch.randn(2, *y_s.shape, dtype=torch.float64)
    ((y_s * weights[0]).sum() + (y_d * weights[1]).sum()).backward()
    ((z_s * to_layout(weights[0], layout)).sum() + (z_d * to_layout(weights[1], layout)).sum()).backward()
    torch.testing.assert_close((o_s.grad, o_d.grad), (to_layout(x_s.grad, layout), to_layout(x_d.grad, layout)))
    assert x_s.grad.abs().sum() > 0 and x_d.grad.abs().sum() > 0
    for (name, p), q in zip(canonical.named_parameters(), other.parameters()):
        assert q.grad is not None and torch.isfinite(q.grad).all(), name
        torch.testing.assert_close(q.grad, p.grad, msg=name)


def test_token_layouts_need_no_sizes_and_folded_frames_need_num_frames():
    assert LADM(8, heads=2, layout="b (z h w) c")(torch.randn(2, 12, 8), torch.randn(2, 12, 8))[0].shape == (2, 12, 8)
    assert LADM(8, heads=2, layout="b z (h w) c")(torch.randn(2, 3, 4, 8), torch.randn(2, 3, 4, 8))[1].shape == (
        2,
        3,
        4,
        8,
    )
    with pytest.raises(
        ValueError,
        match=r"layout: the input cannot tell the sizes of b, z in \(b z\) of '\(b z\) \(h w\) c'; give num_frames",
    ):
        LADM(8, heads=2, layout="(b z) (h w) c")
    with pytest.raises(
        ValueError, match=r"layout: expected an einops pattern over the axes b, c, z, h, w \(t for z is accepted\)"
    ):
        LADM(8, heads=2, layout="b x h w c")
    with pytest.raises(ValueError, match="layout: expected an einops pattern over the axes b, c, z, h, w"):
        LADM(8, heads=2, layout="b t z h w c")  # the frame axis twice


@pytest.mark.parametrize(
    ("layout", "x_s", "x_d", "message"),
    [
        (
            "b c z h w",
            (2, 8, 2, 3, 3),
            (2, 8, 2, 3, 3, 1),
            r"x_d: expected shape 'b c z h w' with b=2, c=8, z=2, h=3, w=3 \(5 dims\), got",
        ),
        (
            "b (z h w) c",
            (2, 12, 8),
            (2, 10, 8),
            r"x_d: expected shape 'b \(z h w\) c' with b=2, \(z h w\)=12, z=2, c=8, got \(2, 10, 8\)",
        ),
        (
            "(b z) (h w) c",
            (4, 9, 8),
            (4, 10, 8),
            r"x_d: expected shape '\(b z\) \(h w\) c' with b=2, z=2, \(h w\)=9, c=8, got \(4, 10, 8\)",
        ),
        (
            "(b z) (h w) c",
            (5, 9, 8),
            (5, 9, 8),
            r"x_s: expected shape '\(b z\) \(h w\) c' with c=8, z=2, got \(5, 9, 8\)",
        ),
        (
            "b z h w c",
            (2, 3, 3, 3, 8),
            (2, 3, 3, 3, 8),
            r"x_s: expected shape 'b z h w c' with c=8, z=2, got \(2, 3, 3, 3, 8\)",
        ),
    ],
)
def test_wrong_inputs_are_reported_in_their_layout(layout, x_s, x_d, message):
    ladm = LADM(8, heads=2, layout=layout, num_frames=2)
    with pytest.raises(ValueError, match=message):
        ladm(torch.randn(x_s), torch.randn(x_d))


def test_empty_batch_gives_empty_outputs():
    ladm = LADM(8, heads=2, layout="(b z) (h w) c", num_frames=2)
    x_s, x_d = torch.randn(0, 9, 8, requires_grad=True), torch.randn(0, 9, 8)
    y_s, y_d = ladm(x_s, x_d)
    assert y_s.shape == y_d.shape == (0, 9, 8)
    y_s.sum().backward()
    assert x_s.grad.shape == x_s.shape


def test_inputs_of_another_dtype_name_the_argument_and_both_dtypes():
    ladm, x = LADM(8, heads=2), torch.randn(2, 8, 2, 3, 3)
    with pytest.raises(TypeError, match=r"x_d: expected dtype torch.float32 \(the dtype of x_s\), got torch.float64"):
        ladm(x, x.double())
    with pytest.raises(
        TypeError, match=r"x_s: expected dtype torch.float32 \(the dtype of LADM's parameters\), got torch.bfloat16"
    ):
        ladm(x.bfloat16(), x.bfloat16())
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts for itself: mixed inputs are fine there
        _y_s, y_d = ladm(x.bfloat16(), x)
    torch.testing.assert_close(y_d.float(), ladm(x, x)[1], atol=0.1, rtol=0.05)


def test_jit_script_is_refused_with_the_supported_paths():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="LADM does not support torch.jit.script.*torch.jit.trace, torch.export"):
            torch.jit.script(LADM(8, heads=2))
