"""The shared input checks: einops patterns with groups, messages, dtypes, and errors inside compiled code."""

import re

import pytest
import torch
from einops import rearrange
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer._checks import check_dtype, check_input, check_shape, parse_pattern
from lifting_dfer._layout import Layout


def test_patterns_parse_into_groups():
    assert parse_pattern("b (t h w) c") == (("b",), ("t", "h", "w"), ("c",))
    assert parse_pattern(" (b t)c  h w ") == (("b", "t"), ("c",), ("h",), ("w",))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("b ((t h) w)", "nested parentheses"),
        ("b (t h w c", "unbalanced parentheses"),
        ("b t) h", "unbalanced or empty parentheses"),
        ("b () c", "unbalanced or empty parentheses"),
        ("b ... c", "'...' is not an axis name"),
        ("b 1 c", "'1' is not an axis name"),
        ("b t t", r"expected distinct axis names, got \['b', 't', 't'\]"),
    ],
)
def test_bad_patterns_raise(pattern, message):
    with pytest.raises(ValueError, match=message):
        parse_pattern(pattern)


@given(
    sizes=st.tuples(st.integers(0, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
    pattern=st.sampled_from(["(b t) c h w", "b (t h w) c", "(t b) (h w) c", "b c t h w"]),
    pinned=st.sets(st.sampled_from(["t", "h", "w"])),
)
def test_grouped_patterns_infer_one_free_axis_per_group_like_einops(sizes, pattern, pinned):
    b, t, h, w = sizes
    x = rearrange(torch.empty(b, 3, t, h, w), f"b c t h w -> {pattern}")
    pins = {axis: {"t": t, "h": h, "w": w}[axis] for axis in pinned}
    found = check_shape(x, pattern, "x", c=3, **pins)
    true = {"b": b, "c": 3, "t": t, "h": h, "w": w}
    for group, size in zip(parse_pattern(pattern), x.shape):
        free = [axis for axis in group if axis not in pins and axis != "c"]
        if len(free) > 1:
            assert found[f"({' '.join(group)})"] == size  # several free axes: only their product is known
        else:
            assert all(found[axis] == true[axis] for axis in group)
    with pytest.raises(ValueError, match=rf"^x: expected shape '{re.escape(pattern)}' with .*c=4.*, got"):
        check_shape(x, pattern, "x", **pins, c=4)


def test_messages_quote_the_pattern_the_pins_and_the_shape():
    x = torch.randn(8, 35, 8)
    with pytest.raises(ValueError, match=r"^x: expected shape '\(b t\) \(h w\) c' with t=4, h=6, got \(8, 35, 8\)$"):
        check_shape(x, "(b t) (h w) c", "x", t=4, h=6, w=None)  # None: free
    with pytest.raises(
        ValueError, match=r"^y: expected shape 'b \(h w\) c' with \(h w\)=36 \(3 dims\), got \(8, 35\)$"
    ):
        check_shape(torch.randn(8, 35), "b (h w) c", "y", **{"(h w)": 36})
    with pytest.raises(ValueError, match="pattern 'b c' has no axis t"):
        check_shape(x, "b c", "x", t=4)
    with pytest.raises(TypeError, match="x: expected a floating-point tensor, got dtype torch.int64"):
        check_shape(torch.ones(2, 3, dtype=torch.long), "b c", "x")


def test_dtype_checks_name_the_source_and_step_aside_under_autocast():
    x = torch.randn(2, 3, dtype=torch.bfloat16)
    with pytest.raises(
        TypeError,
        match=r"^x: expected dtype torch.float32 \(the dtype of W\), got torch.bfloat16; .*x.to\(torch.float32\)",
    ):
        check_dtype(x, "x", torch.float32, "W")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        check_dtype(x, "x", torch.float32, "W")
    check_dtype(torch.randn(2, 3, device="meta"), "x", None, "W")  # meta tensors (FLOP counting) pass through


class Checked(torch.nn.Module):
    """A module with a checked input inside another module: what torch.compile(fullgraph=True) of a model meets."""

    def forward(self, x):
        x, sizes = check_input(x, "b (t c)", "x", t=2, c=3, dtype=torch.float32)
        return x.view(sizes["b"], 2, 3).sum(1)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_a_wrong_input_inside_compiled_code_raises_the_library_error(backend):
    outer = torch.nn.Sequential(torch.nn.Identity(), Checked())
    compiled = torch.compile(outer, fullgraph=True, backend=backend)
    torch.testing.assert_close(compiled(torch.ones(2, 6)), torch.full((2, 3), 2.0))
    with pytest.raises(ValueError, match=r"^x: expected shape 'b \(t c\)' with t=2, c=3, got \(5, 7\)$"):
        compiled(torch.ones(5, 7))
    with pytest.raises(TypeError, match=r"^x: expected dtype torch.float32 .*got torch.float64"):
        compiled(torch.ones(2, 6, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"^x: expected a floating-point tensor, got dtype torch.int64$"):
        compiled(torch.ones(2, 6, dtype=torch.long))


def test_layouts_convert_at_the_boundary_and_fuse_token_groups():
    identity = Layout("b c t h w", "b c t h w")
    assert identity.identity
    channels_last = Layout("b t h w c", "b c t h w")
    x, sizes = channels_last.enter(torch.randn(2, 4, 3, 5, 6), "x", c=6)
    assert x.shape == (2, 6, 4, 3, 5) and sizes == {"b": 2, "t": 4, "h": 3, "w": 5, "c": 6}
    assert channels_last.leave(x[:, :, :2], sizes, t=2).shape == (2, 2, 3, 5, 6)
    tokens = Layout("(b z) (h w) c", "b tokens c", tokens=("z", "h", "w"))
    y, sizes = tokens.enter(torch.randn(6, 12, 8), "x_s", z=3)
    assert y.shape == (2, 36, 8) and sizes == {"b": 2, "z": 3, "(h w)": 12, "c": 8}
    torch.testing.assert_close(tokens.leave(y, sizes), rearrange(y, "b (z n) c -> (b z) n c", z=3))


@pytest.mark.parametrize(
    ("pattern", "known", "message"),
    [
        ("(b t) c h w", {"c"}, r"sizes of b, t in \(b t\) of '\(b t\) c h w'; give num_frames$"),
        (
            "b (t h w) c",
            {"c"},
            r"sizes of t, h, w in \(t h w\) of 'b \(t h w\) c'; give all but one of num_frames, height, width$",
        ),
        ("(b t h) w c", {"c", "t"}, r"sizes of b, h in \(b t h\) .*; give height$"),
    ],
)
def test_layouts_say_which_sizes_they_need(pattern, known, message):
    arguments = {"c": "dim", "t": "num_frames", "h": "height", "w": "width"}
    with pytest.raises(ValueError, match=f"layout: the input cannot tell the {message}"):
        Layout(pattern, "b c t h w").require(known, arguments)
