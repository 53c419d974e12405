"""LiftLoss: the lifting constraint on the static group (paper Eqs. 8-9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_input

__all__ = ["LiftLoss"]

_AXES = {"c": 1, "t": 2, "h": 3, "w": 4}


class LiftLoss(nn.Module):
    r"""Huber loss pulling the static group towards the clip's smooth trend (Eqs. 8-9).

    ``r = Avg_{dims}(Y_S - AvgPool_t2(X))``, ``loss = weight * Huber_delta(r, 0)``, where ``AvgPool_t2`` averages
    frame pairs of the full-length ``X`` (the classical lifting scheme's approximation band). The total training
    loss is ``cross_entropy + LiftLoss``.

    Shape:
        - y_s: ``(b, c, z, h, w)``
        - x: ``(b, c, t, h, w)`` with ``t = 2 z``
        - output: scalar (``reduction="mean"|"sum"``) or the residual's remaining axes (``"none"``;
          ``(b, h, w)`` for the default ``dims``)

    Args:
        dims: axes averaged before the Huber penalty: ``("t", "c")`` (paper) or ``("t", "h", "w", "c")``
            (Table 4 ablation); any non-empty subset of ``c, t, h, w``.
        delta: Huber threshold.
        weight: factor on the loss (0.1 in the authors' released configuration).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the remaining elements. An empty batch (``b = 0``)
            gives 0 for ``"mean"`` as for ``"sum"`` (with zero gradients), not the NaN of a mean over nothing,
            which would poison every parameter at the next optimizer step.

    Examples:
        >>> x = torch.randn(2, 16, 8, 7, 7)
        >>> pooled = x.unflatten(2, (4, 2)).mean(3)
        >>> LiftLoss()(pooled, x).item()
        0.0
    """

    def __init__(
        self,
        dims: Sequence[str] = ("t", "c"),
        *,
        delta: float = 1.0,
        weight: float = 0.1,
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> None:
        super().__init__()
        if isinstance(dims, str) or not dims or any(d not in _AXES for d in dims) or len(set(dims)) != len(dims):
            raise ValueError(f"dims: expected distinct axis names from {tuple(_AXES)}, got {dims!r}")
        if delta <= 0:
            raise ValueError(f"delta: expected > 0, got {delta}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")
        self.dims, self.delta, self.weight, self.reduction = tuple(dims), delta, weight, reduction

    def extra_repr(self) -> str:
        return f"dims={self.dims}, delta={self.delta:g}, weight={self.weight:g}, reduction={self.reduction!r}"

    def forward(self, y_s: Tensor, x: Tensor) -> Tensor:
        y_s, sizes = check_input(y_s, "b c z h w", "y_s")
        x, _ = check_input(
            x, "b c t h w", "x", b=sizes["b"], c=sizes["c"], t=2 * sizes["z"], h=sizes["h"], w=sizes["w"]
        )
        trend = x.unflatten(2, (sizes["z"], 2)).mean(3)  # AvgPool_t2: frame pairs (2i, 2i + 1)
        residual = (y_s - trend).mean(dim=[_AXES[d] for d in self.dims])  # Eq. 8
        if self.reduction == "mean" and residual.numel() == 0:  # an empty batch: nothing to penalise
            return self.weight * residual.sum()
        loss = F.huber_loss(residual, torch.zeros_like(residual), delta=self.delta, reduction=self.reduction)
        return self.weight * loss  # Eq. 9
