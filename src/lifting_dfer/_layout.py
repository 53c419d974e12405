"""Layouts: the einops pattern a module's inputs come in, rearranged to the module's own at its boundary.

ISSM works on ``b c t h w`` and LADM on tokens ``b (z h w) c``. Backbones emit channels-last maps
(``"b t h w c"``), tokens (``"b (t h w) c"``) or per-frame features with time folded into the batch
(``"(b t) c h w"``, ``"(b t) (h w) c"``). A [`Layout`][lifting_dfer._layout.Layout] checks an input in the
user's pattern, rearranges it to the module's, and the outputs back, so that a module keeps one code path and
returns the layout it was given.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

import torch
from einops import rearrange
from torch import Tensor

from ._checks import checked_input, group_key, parse_pattern

__all__ = ["Layout", "rename_axis"]

_VOCABULARY = ["b", "c", "t", "z", "h", "w"]  # the order docs/shapes.md lists the axes in


def rename_axis(pattern: str, axis: str, name: str) -> str:
    """``pattern`` with the axis ``axis`` called ``name``.

    Examples:
        >>> rename_axis("b (t h w) c", "t", "z")
        'b (z h w) c'
    """
    return re.sub(rf"\b{re.escape(axis)}\b", name, pattern)


def _spell(groups) -> str:
    return " ".join(group_key(g) for g in groups)


class Layout:
    """A module's input layout ``pattern``, over the axis names of the module's own layout ``canonical``.

    A pattern lists the same axis names as ``canonical``, in any order, grouped by parentheses as einops does.
    ``tokens`` names axes the module needs only as one flattened group (LADM attends over ``(z h w)`` tokens and
    has no positional terms): the module's pattern then lists them in the user's order, and a group of them only
    (``(h w)``) stays whole, so that its sizes are never needed.

    Args:
        pattern: the user's layout, e.g. ``"b t h w c"``.
        canonical: the module's layout, e.g. ``"b c t h w"``; with ``tokens``, ``tokens`` marks where their
            group goes, e.g. ``"b tokens c"``.
        tokens: the token axes, e.g. ``("z", "h", "w")``.
        aliases: other names ``pattern`` may give an axis of ``canonical``, e.g. ``{"z": "t"}``: LADM's frame
            axis ``z`` may be written ``t``, so that one layout string serves ISSM, LADM and LiftLoss. The axis
            then keeps the user's name everywhere (sizes, messages); [`axis`][lifting_dfer._layout.Layout.axis]
            says which name that is.
    """

    def __init__(
        self, pattern: str, canonical: str, *, tokens: tuple[str, ...] = (), aliases: Mapping[str, str] | None = None
    ) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"layout: expected an einops pattern (str), got {type(pattern).__name__}")
        try:
            groups = parse_pattern(pattern)
        except ValueError as error:
            raise ValueError(f"layout: {error}") from None
        used = {axis for g in groups for axis in g}
        self._renamed: dict[str, str] = {}
        for axis, alias in (aliases or {}).items():
            if alias in used and axis not in used:  # the pattern names the axis by its alias: so does the module
                self._renamed[axis] = alias
                canonical = rename_axis(canonical, axis, alias)
                tokens = tuple(alias if a == axis else a for a in tokens)
        example = canonical.replace("tokens", f"({' '.join(tokens)})")
        names = sorted((axis for g in parse_pattern(example) for axis in g), key=_VOCABULARY.index)
        if sorted(axis for g in groups for axis in g) != sorted(names):
            also = "".join(f" ({alias} for {axis} is accepted)" for axis, alias in (aliases or {}).items())
            raise ValueError(
                f"layout: expected an einops pattern over the axes {', '.join(names)}{also} (e.g. {example!r}), "
                f"got {pattern!r}"
            )
        self.pattern, self.groups = _spell(groups), groups
        fused = {g: "_".join(g) for g in groups if len(g) > 1 and set(g) <= set(tokens)}
        source = tuple((fused[g],) if g in fused else g for g in groups)
        order = [axis for g in source for axis in g if axis in tokens or axis in fused.values()]
        target = parse_pattern(canonical.replace("tokens", f"({' '.join(order)})"))
        self.identity = groups == target
        self._enter = f"{_spell(source)} -> {_spell(target)}"
        self._leave = f"{_spell(target)} -> {_spell(source)}"
        # einops splits the multi-axis groups of its input: it needs all their sizes but one; pass what is known.
        self._split = [g for g in source if len(g) > 1]
        self._enter_axes = {axis for g in self._split for axis in g}
        self._leave_axes = {axis for g in target if len(g) > 1 for axis in g} - set(fused.values())

    def __repr__(self) -> str:
        return repr(self.pattern)

    def axis(self, name: str) -> str:
        """The name the pattern gives the module's axis ``name`` (its alias, when the pattern uses that)."""
        return self._renamed.get(name, name)

    def require(self, known: Collection[str], arguments: Mapping[str, str]) -> None:
        """Raise ``ValueError`` unless every group to split has at most one axis whose size is not ``known``.

        ``arguments`` maps an axis to the constructor argument that gives its size (for the message).
        """
        for group in self._split:
            free = [axis for axis in group if axis not in known]
            if len(free) > 1:
                give = [arguments[axis] for axis in free if axis in arguments]
                if len(give) < len(free):  # the batch is among them: every other size is needed
                    what = " and ".join(give)
                else:
                    what = " or ".join(give) if len(give) == 2 else f"all but one of {', '.join(give)}"
                raise ValueError(
                    f"layout: the input cannot tell the sizes of {', '.join(free)} in {group_key(group)} of "
                    f"{self.pattern!r}; give {what}"
                )

    def enter(
        self,
        x: object,
        name: str,
        *,
        dtype: torch.dtype | None = None,
        dtype_of: str = "the module's parameters",
        **sizes: int | None,
    ) -> tuple[Tensor, dict[str, int]]:
        """Check ``x`` in this layout, as [`check_input`][lifting_dfer._checks.check_input] does (``sizes`` pin
        axes of this layout, or groups by their key); return it in the module's layout, and the sizes of its axes."""
        pins = {key: size for key, size in sizes.items() if size is not None}
        x, found = checked_input(x, self.pattern, self.groups, name, dtype, dtype_of, pins)
        if self.identity:
            return x, found
        return rearrange(x, self._enter, **{k: v for k, v in found.items() if k in self._enter_axes}), found

    def leave(self, y: Tensor, sizes: Mapping[str, int], **changed: int) -> Tensor:
        """``y``, in the module's layout, back in this one; ``changed`` overrides sizes (ISSM halves ``t``)."""
        if self.identity:
            return y
        sizes = {**sizes, **changed}
        return rearrange(y, self._leave, **{k: v for k, v in sizes.items() if k in self._leave_axes})
