"""GridTokens: the authors' temporal tokens for ISSM (their ``adaptIndexSplit_dotsim``), in place of Eq. 1."""

from __future__ import annotations

import torch  # noqa: F401  (the doctests use it)
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._checks import check_shape

__all__ = ["GridTokens"]


class GridTokens(nn.Module):
    r"""Pool every frame to a ``g x g`` grid, squeeze the channels by a 1x1 conv and GELU, flatten per frame.

    ``Z = Vec_{k, g, g}(GELU(Conv1x1(AdaptiveAvgPool_g(X))))``, a ``d = k g^2``-wide token per frame: the
    authors' released code replaces Eq. 1 with this (``g = k = 7``, ``d = 343``, no ``W_T``, ``b_T`` or
    LayerNorm). Plug it into [`ISSM`][lifting_dfer.ISSM] as ``token_encoder``. The 1x1 conv is computed as a
    ``Linear`` over the channels (``proj``; their ``Conv2d`` weight ``(k, c, 1, 1)`` is ``proj.weight``
    ``(k, c)``); a map already ``g x g`` is not pooled (pooling it is the identity).

    Shape:
        - x: ``(b, c, t, h, w)`` -> ``(b, t, d)`` with ``d = channels * grid^2``

    Args:
        dim: channels ``c`` of ``x``.
        grid: ``g``, the side of the grid every frame is average-pooled to (adaptively, so any ``h, w``).
        channels: ``k``, the output channels of the 1x1 conv (with bias).

    Examples:
        >>> tokens = GridTokens(64, grid=7, channels=7)
        >>> tokens(torch.randn(2, 64, 8, 14, 14)).shape
        torch.Size([2, 8, 343])
    """

    def __init__(self, dim: int, *, grid: int = 7, channels: int = 7) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("grid", grid), ("channels", channels)):
            if value < 1:
                raise ValueError(f"{name}: expected a positive size, got {value}")
        self.dim, self.grid, self.channels = dim, grid, channels
        self.proj = nn.Linear(dim, channels)

    @property
    def token_dim(self) -> int:
        """``d = channels * grid^2``, the width of a token."""
        return self.channels * self.grid**2

    def extra_repr(self) -> str:
        return f"dim={self.dim}, grid={self.grid}, channels={self.channels}"

    def forward(self, x: Tensor) -> Tensor:
        sizes = check_shape(x, "b c t h w", "x", c=self.dim)
        if (sizes["h"], sizes["w"]) != (self.grid, self.grid):  # each (channel, frame) plane
            x = F.adaptive_avg_pool2d(x.flatten(1, 2), self.grid).unflatten(1, (sizes["c"], sizes["t"]))
        squeezed = F.gelu(self.proj(rearrange(x, "b c t gh gw -> b t gh gw c")))
        return rearrange(squeezed, "b t gh gw k -> b t (k gh gw)")
