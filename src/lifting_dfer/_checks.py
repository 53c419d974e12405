"""Input validation shared by the public modules (kornia's ``KORNIA_CHECK_SHAPE`` is the model).

Errors quote the einops pattern, the expected sizes and the actual shape, e.g.::

    ValueError: x: expected shape 'b c t h w' with c=128, t=8, got (2, 64, 8, 14, 14)

Patterns group axes as einops does (``"b (t h w) c"``): a group's size is the product of its axes' sizes, and
one axis per group may be left for the input to determine.

A forward validates its inputs with [`check_input`][lifting_dfer._checks.check_input], which keeps the message
intact under ``torch.compile``. Raised while dynamo traces, an error reaches the user as dynamo's
``Unsupported: Observed exception`` (``fullgraph=True``, torch 2.14) with the library's message buried in it and
sizes printed as symbols (``s0``); so while dynamo traces, the check instead puts an op into the graph that raises
the same error, with the same message and the input's real shape, when the compiled code runs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "check_dtype",
    "check_even_frames",
    "check_input",
    "check_shape",
    "check_tensor",
    "checked_input",
    "group_key",
    "parse_pattern",
    "refuse_scripting",
]

_ERRORS = {"ValueError": ValueError, "TypeError": TypeError}


def check_tensor(x: object, name: str, *, floating: bool = True) -> Tensor:
    """Raise ``TypeError`` unless ``x`` is a tensor (of a floating dtype when ``floating``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def parse_pattern(pattern: str) -> tuple[tuple[str, ...], ...]:
    """The axis groups of an einops-style pattern: ``"b (t h w) c"`` -> ``(("b",), ("t", "h", "w"), ("c",))``.

    Axis names are identifiers, each used once; parentheses group axes (no nesting, no ``...``, no ``1``).
    Raises ``ValueError`` naming the pattern otherwise.
    """
    groups: list[tuple[str, ...]] = []
    group: list[str] | None = None
    for token in pattern.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if group is not None:
                raise ValueError(f"pattern {pattern!r}: nested parentheses")
            group = []
        elif token == ")":
            if not group:
                raise ValueError(f"pattern {pattern!r}: unbalanced or empty parentheses")
            groups.append(tuple(group))
            group = None
        elif not token.isidentifier():
            raise ValueError(f"pattern {pattern!r}: {token!r} is not an axis name")
        elif group is not None:
            group.append(token)
        else:
            groups.append((token,))
    if group is not None:
        raise ValueError(f"pattern {pattern!r}: unbalanced parentheses")
    axes = [axis for g in groups for axis in g]
    if not axes or len(set(axes)) != len(axes):
        raise ValueError(f"pattern {pattern!r}: expected distinct axis names, got {axes}")
    return tuple(groups)


def group_key(group: tuple[str, ...]) -> str:
    """The name of a group among the sizes: ``("h", "w")`` -> ``"(h w)"``, ``("c",)`` -> ``"c"``."""
    return group[0] if len(group) == 1 else f"({' '.join(group)})"


def _pins(pattern: str, groups: tuple[tuple[str, ...], ...], sizes: dict[str, int | None]) -> dict[str, int]:
    names = {axis for g in groups for axis in g} | {group_key(g) for g in groups}
    unknown = [key for key in sizes if key not in names]
    if unknown:
        raise ValueError(f"pattern {pattern!r} has no axis {', '.join(unknown)}")
    return {key: size for key, size in sizes.items() if size is not None}


def _match(shape: tuple[int, ...], groups: tuple[tuple[str, ...], ...], pins: dict[str, int]) -> dict[str, int] | None:
    """The sizes ``shape`` gives the axes of ``groups`` under ``pins``, or None where it does not fit them.

    A pinned axis (or group, keyed ``"(h w)"``) must have its size; a group with one free axis must be a multiple
    of the product of its pinned axes, which gives the free one; a group with several free axes is returned by
    its key (``"(h w)": 49``).
    """
    if len(shape) != len(groups):
        return None
    sizes: dict[str, int] = {}
    for group, size in zip(groups, shape):
        if len(group) == 1:  # the common case, kept short
            axis = group[0]
            if axis in pins and size != pins[axis]:
                return None
            sizes[axis] = size
            continue
        key = group_key(group)
        if key in pins and size != pins[key]:
            return None
        free = [axis for axis in group if axis not in pins]
        known = math.prod([pins[axis] for axis in group if axis in pins])
        if not free:
            if size != known:
                return None
        elif known == 0:  # a pinned 0 in the group: only an empty group fits, and the free sizes stay open
            if size != 0:
                return None
        elif size % known:
            return None
        elif len(free) > 1:
            sizes[key] = size
        for axis in group:  # in the pattern's order
            if axis in pins:
                sizes[axis] = pins[axis]
            elif len(free) == 1 and known:
                sizes[axis] = size // known
    return sizes


def _stand_in_shape(shape: tuple[int, ...], groups: tuple[tuple[str, ...], ...], pins: dict[str, int]) -> list[int]:
    """A shape that fits ``groups`` and ``pins``, with the free sizes taken from ``shape`` where they fit."""
    out = []
    for i, group in enumerate(groups):
        key = group_key(group)
        known = math.prod([pins[axis] for axis in group if axis in pins])
        if len(group) > 1 and key in pins:
            out.append(pins[key])
        elif all(axis in pins for axis in group) or len(shape) != len(groups) or known == 0 or shape[i] % known:
            out.append(known)
        else:
            out.append(shape[i])
    return out


def _shape_template(name: str, pattern: str, rank: int, pins: dict[str, int], ndim: int) -> str:
    """The shape error's message, ``{0}, {1}, ...`` standing for the pinned sizes and ``{shape}`` for the input's."""
    pinned = ", ".join([f"{key}={{{i}}}" for i, key in enumerate(pins)])
    expected = f"'{pattern}'" + (f" with {pinned}" if pinned else "")
    dims = f" ({rank} dims)" if ndim != rank else ""
    return f"{name}: expected shape {expected}{dims}, got {{shape}}"


def _dtype_template(name: str, expected: torch.dtype, source: str) -> str:
    """The dtype error's message, ``{dtype}`` standing for the input's dtype."""
    return (
        f"{name}: expected dtype {expected} (the dtype of {source}), got {{dtype}}; convert one of them "
        f"(module.to({{dtype}}) or {name}.to({expected})) or run under torch.autocast"
    )


def _message(template: str, values: list[int], x: Tensor) -> str:
    return template.format(*values, shape=tuple(x.shape), dtype=x.dtype)


def check_shape(x: object, pattern: str, name: str, **sizes: int | None) -> dict[str, int]:
    """Check ``x`` against an einops-style ``pattern`` such as ``"b c t h w"`` and return the named sizes.

    Keyword arguments pin axes to a size (``c=128``; ``None`` leaves the axis free); a group of several axes is
    pinned by its key (``**{"(h w)": 49}``). Returns the size of every axis that the shape and the pins determine
    (a group with several free axes by its key). Raises ``TypeError`` for a non-tensor or a non-float tensor and
    ``ValueError`` for a wrong rank or size.
    """
    x = check_tensor(x, name)
    groups = parse_pattern(pattern)
    pins = _pins(pattern, groups, sizes)
    found = _match(tuple(x.shape), groups, pins)
    if found is None:
        raise ValueError(_message(_shape_template(name, pattern, len(groups), pins, x.ndim), list(pins.values()), x))
    return found


def _autocast(x: Tensor) -> bool:
    device = x.device.type
    return torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device)


def check_dtype(x: Tensor, name: str, expected: torch.dtype | None, source: str) -> None:
    """Raise ``TypeError`` unless ``x`` has the ``expected`` dtype (that of ``source``) or autocast is on.

    Under ``torch.autocast`` the ops cast for themselves, so any floating dtype is accepted there.
    """
    if expected is not None and x.dtype != expected and not _autocast(x):
        raise TypeError(_message(_dtype_template(name, expected, source), [], x))


def _dynamo_tracing() -> bool:
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)
    return torch.compiler.is_dynamo_compiling() and not exporting()


def check_input(
    x: object,
    pattern: str,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    dtype_of: str = "the module's parameters",
    **sizes: int | None,
) -> tuple[Tensor, dict[str, int]]:
    """Check a forward's input like [`check_shape`][lifting_dfer._checks.check_shape] and
    [`check_dtype`][lifting_dfer._checks.check_dtype]; return ``x`` and its sizes.

    Eagerly, and under tracing or ``torch.export``, a wrong input raises at once. While dynamo traces for
    ``torch.compile``, a wrong input returns a stand-in of the expected shape and dtype instead, made by an op that
    raises the same error (same type, same message) when the compiled code runs: the rest of the forward still
    traces, and valid inputs keep their single graph.
    """
    groups = parse_pattern(pattern)
    return checked_input(x, pattern, groups, name, dtype, dtype_of, _pins(pattern, groups, sizes))


def checked_input(
    x: object,
    pattern: str,
    groups: tuple[tuple[str, ...], ...],
    name: str,
    dtype: torch.dtype | None,
    dtype_of: str,
    pins: dict[str, int],
) -> tuple[Tensor, dict[str, int]]:
    """[`check_input`][lifting_dfer._checks.check_input] with the pattern parsed and the pins checked already."""
    x = check_tensor(x, name, floating=False)
    floating = x.is_floating_point()
    found = _match(tuple(x.shape), groups, pins) if floating else None
    wrong_dtype = floating and dtype is not None and x.dtype != dtype and not _autocast(x)
    if found is not None and not wrong_dtype:
        return x, found
    if not floating:
        error, template = "TypeError", f"{name}: expected a floating-point tensor, got dtype {{dtype}}"
    elif found is None or dtype is None:  # dtype None: the shape did not match (a dtype is only wrong if given)
        error, template = "ValueError", _shape_template(name, pattern, len(groups), pins, x.ndim)
    else:
        error, template = "TypeError", _dtype_template(name, dtype, dtype_of)
    values = list(pins.values())
    if not _dynamo_tracing():
        raise _ERRORS[error](_message(template, values, x))
    like = dtype if dtype is not None else (x.dtype if floating else torch.get_default_dtype())
    stand_in = _raise_when_run(x.detach(), error, template, values, _stand_in_shape(tuple(x.shape), groups, pins), like)
    return stand_in, _match(tuple(stand_in.shape), groups, pins) or {}


@torch.library.custom_op("lifting_dfer::raise_input_error", mutates_args=())
def _raise_when_run(
    x: Tensor, error: str, template: str, values: list[int], shape: list[int], dtype: torch.dtype
) -> Tensor:
    """Raise ``error`` with the message ``template`` for ``x``: a wrong input met by compiled code."""
    raise _ERRORS[error](_message(template, values, x))


@_raise_when_run.register_fake
def _(x: Tensor, error: str, template: str, values: list[int], shape: list[int], dtype: torch.dtype) -> Tensor:
    return x.new_empty(shape, dtype=dtype)


def check_even_frames(t: int, name: str) -> None:
    """Lifting splits time in two halves: ``t`` must be even and at least 2."""
    if t < 2 or t % 2:
        raise ValueError(f"{name}: the lifting split needs an even number of frames t >= 2, got t={t}")


def refuse_scripting(module: torch.nn.Module) -> None:
    """``__prepare_scriptable__`` of modules that ``torch.jit.script`` cannot compile: say what works instead."""
    name = type(module).__name__
    raise TypeError(
        f"{name} does not support torch.jit.script (einops patterns and keyword shape checks are not TorchScript, "
        f"and PyTorch deprecates scripting); use torch.jit.trace, torch.export.export or torch.onnx.export"
    )
