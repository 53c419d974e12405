"""LiftLoss: the lifting constraint on the static group (paper Eqs. 8-9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_even_frames
from ._layout import Layout, rename_axis

__all__ = ["LiftLoss"]

_AXES = {"c": 1, "t": 2, "h": 3, "w": 4}


class LiftLoss(nn.Module):
    r"""Huber loss pulling the static group towards the clip's smooth trend (Eqs. 8-9).

    ``r = Avg_{dims}(Y_S - AvgPool_t2(X))``, ``loss = weight * Huber_delta(r, 0)``, where ``AvgPool_t2`` averages
    frame pairs of the full-length ``X`` (the classical lifting scheme's approximation band). The total training
    loss is ``cross_entropy + LiftLoss``.

    Shape:
        - y_s: ``(b, c, z, h, w)``, or the same axes in ``layout``
        - x: ``(b, c, t, h, w)`` with ``t = 2 z``, or the same axes in ``layout``
        - output: scalar (``reduction="mean"|"sum"|"batch_sum"``) or the residual's remaining axes in the order
          ``b, c, t, h, w`` whatever the layout (``"none"``; ``(b, h, w)`` for the default ``dims``)

    Args:
        dims: axes averaged before the Huber penalty: ``("t", "c")`` (paper) or ``("t", "h", "w", "c")``
            (Table 4 ablation); any non-empty subset of ``c, t, h, w``.
        delta: Huber threshold.
        weight: factor on the loss (0.1 in the authors' released configuration).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the remaining elements, or ``"batch_sum"``: the
            mean over each clip's elements, summed over the clips (the authors' released code; ``b`` times
            ``"mean"``, so the term's weight grows with the batch size while the cross entropy stays a mean). An
            empty batch (``b = 0``) gives 0 for ``"mean"`` as for ``"sum"`` (with zero gradients), not the NaN of
            a mean over nothing, which would poison every parameter at the next optimizer step.
        layout: einops pattern of ``y_s`` and ``x`` over the axes ``b, c, t, h, w`` (the frame axis may be
            written ``z``): the layout string of [`ISSM`][lifting_dfer.ISSM] and [`LADM`][lifting_dfer.LADM],
            e.g. ``"b t h w c"`` or tokens ``"b (t h w) c"``; ``y_s`` has half the frames of ``x`` in it.
        num_frames, height, width: ``t`` (of ``x``), ``h``, ``w``, checked on the inputs when given; needed only
            by a layout whose grouped axes the input cannot tell apart (``"(b t) c h w"`` needs ``num_frames``,
            ``"b (t h w) c"`` two of the three).

    Examples:
        >>> x = torch.randn(2, 16, 8, 7, 7)
        >>> pooled = x.unflatten(2, (4, 2)).mean(3)
        >>> LiftLoss()(pooled, x).item()
        0.0
        >>> channels_last = LiftLoss(layout="b t h w c")  # ISSM's and LADM's layout string
        >>> channels_last(pooled.permute(0, 2, 3, 4, 1), x.permute(0, 2, 3, 4, 1)).item()
        0.0
    """

    def __init__(
        self,
        dims: Sequence[str] = ("t", "c"),
        *,
        delta: float = 1.0,
        weight: float = 0.1,
        reduction: Literal["mean", "sum", "none", "batch_sum"] = "mean",
        layout: str = "b c t h w",
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(dims, str) or not dims or any(d not in _AXES for d in dims) or len(set(dims)) != len(dims):
            raise ValueError(f"dims: expected distinct axis names from {tuple(_AXES)}, got {dims!r}")
        if delta <= 0:
            raise ValueError(f"delta: expected > 0, got {delta}")
        if reduction not in ("mean", "sum", "none", "batch_sum"):
            raise ValueError(f"reduction: expected 'mean', 'sum', 'none' or 'batch_sum', got {reduction!r}")
        if num_frames is not None:
            check_even_frames(num_frames, "num_frames")
        for name, value in (("height", height), ("width", width)):
            if value is not None and value < 1:
                raise ValueError(f"{name}: expected a positive size or None, got {value}")
        self.dims, self.delta, self.weight, self.reduction = tuple(dims), delta, weight, reduction
        self.num_frames, self.height, self.width = num_frames, height, width
        # One layout string for both inputs; each gets its own frame axis name in messages: x has t, y_s z = t / 2.
        self.layout = Layout(layout, "b c t h w", aliases={"t": "z"})
        frames = self.layout.axis("t")
        self._x_layout = Layout(rename_axis(layout, frames, "t"), "b c t h w")
        self._y_layout = Layout(rename_axis(layout, frames, "z"), "b c z h w")
        arguments = {"t": "num_frames", "z": "num_frames", "h": "height", "w": "width"}
        given = {axis for axis, size in (("h", height), ("w", width)) if size is not None}
        frames_given = {"t", "z"} if num_frames is not None else set()
        self._x_layout.require(given | frames_given, arguments)
        self._y_layout.require(given | frames_given, arguments)

    def extra_repr(self) -> str:
        text = f"dims={self.dims}, delta={self.delta:g}, weight={self.weight:g}, reduction={self.reduction!r}"
        text += f", layout={self.layout}" if self.layout.pattern != "b c t h w" else ""
        sizes = {"num_frames": self.num_frames, "height": self.height, "width": self.width}
        return text + "".join(f", {name}={size}" for name, size in sizes.items() if size is not None)

    def forward(self, y_s: Tensor, x: Tensor) -> Tensor:
        """``y_s: (b, c, z, h, w), x: (b, c, t, h, w) -> loss`` (or the same axes in ``layout``)."""
        z = None if self.num_frames is None else self.num_frames // 2
        y_s, sizes = self._y_layout.enter(y_s, "y_s", z=z, h=self.height, w=self.width)  # now (b, c, z, h, w)
        x, _ = self._x_layout.enter(
            x, "x", b=sizes["b"], c=sizes["c"], t=2 * sizes["z"], h=sizes["h"], w=sizes["w"]
        )  # now (b, c, t, h, w)
        trend = x.unflatten(2, (sizes["z"], 2)).mean(3)  # AvgPool_t2: frame pairs (2i, 2i + 1)
        residual = (y_s - trend).mean(dim=[_AXES[d] for d in self.dims])  # Eq. 8
        if self.reduction == "mean" and residual.numel() == 0:  # an empty batch: nothing to penalise
            return self.weight * residual.sum()
        if self.reduction == "batch_sum":
            loss = F.huber_loss(residual, torch.zeros_like(residual), delta=self.delta, reduction="none")
            per_clip = loss.flatten(1).mean(1) if loss.dim() > 1 else loss
            return self.weight * per_clip.sum()  # the authors' code: per-clip means, summed over the batch
        loss = F.huber_loss(residual, torch.zeros_like(residual), delta=self.delta, reduction=self.reduction)
        return self.weight * loss  # Eq. 9
