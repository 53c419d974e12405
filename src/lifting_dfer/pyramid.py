"""PyramidAggregation: fuse a backbone's multiscale features into the last stage's scale."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_shape

__all__ = ["PyramidAggregation"]


class PyramidAggregation(nn.Module):
    r"""Bring each stage to the last stage's size with a dilated strided 3x3 conv, concatenate, project by 1x1.

    Stage ``j < S`` of spatial size ``h_j = r_j * h_S`` (``r_j`` a power of two, derived from the input) goes
    through a per-frame 3x3 conv with ``stride = dilation = padding = r_j``, which keeps ``c_j`` channels and
    samples a ``(2 r_j + 1)``-wide window on the ``h_S`` grid; stage ``S`` passes as is. The concatenation
    (``sum(c_j)`` channels) is projected to ``out_dim`` by a 1x1 conv, then normalised by ``norm_layer``
    (BatchNorm3d by default: it puts the stages, whose scales differ, on one footing before ISSM; no activation,
    so ``X`` stays signed like a residual stream).

    Shape:
        - features: list of ``(b, c_j, t, h_j, w_j)``, ``j = 1..S``, same ``b, t``, ``h_j / h_S = w_j / w_S = 2^k``
        - output: ``(b, out_dim, t, h_S, w_S)``

    Args:
        in_dims: channels ``c_j`` of each stage, finest first.
        out_dim: channels ``c`` of the fused map.
        norm_layer: normalisation applied after the 1x1 conv, built as ``norm_layer(out_dim)``; ``None`` for none.
        bias: biases of the 3x3 convs, and of the 1x1 conv when no ``norm_layer`` follows it; ``False`` for none
            (the authors' released code: no biases, no normalisation).

    Examples:
        >>> agg = PyramidAggregation([24, 32, 96], 128)
        >>> feats = [torch.randn(2, c, 8, s, s) for c, s in ((24, 56), (32, 28), (96, 14))]
        >>> agg(feats).shape
        torch.Size([2, 128, 8, 14, 14])
    """

    def __init__(
        self,
        in_dims: Sequence[int],
        out_dim: int,
        *,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm3d,
        bias: bool = True,
    ) -> None:
        super().__init__()
        in_dims = list(in_dims)
        if not in_dims or any(c < 1 for c in in_dims) or out_dim < 1:
            raise ValueError(f"in_dims, out_dim: expected positive channel counts, got {in_dims} and {out_dim}")
        self.in_dims, self.out_dim, self.bias = in_dims, out_dim, bias
        # (1, 3, 3) Conv3d kernels = per-frame 3x3 convs; stride and dilation come from the input sizes.
        self.reduce = nn.ModuleList(nn.Conv3d(c, c, kernel_size=(1, 3, 3), bias=bias) for c in in_dims[:-1])
        self.project = nn.Conv3d(sum(in_dims), out_dim, kernel_size=1, bias=bias and norm_layer is None)
        self.norm = norm_layer(out_dim) if norm_layer is not None else nn.Identity()

    def extra_repr(self) -> str:
        return f"in_dims={self.in_dims}, out_dim={self.out_dim}" + ("" if self.bias else ", bias=False")

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        if not isinstance(features, (list, tuple)):
            raise TypeError(f"features: expected a list of {len(self.in_dims)} tensors, got {type(features).__name__}")
        if len(features) != len(self.in_dims):
            raise ValueError(f"features: expected {len(self.in_dims)} stages, got {len(features)}")
        last = check_shape(features[-1], "b c t h w", f"features[{len(features) - 1}]", c=self.in_dims[-1])
        fused = []
        convs = cast("list[nn.Conv3d]", list(self.reduce))  # built as Conv3d in __init__
        for j, (conv, x) in enumerate(zip(convs, features)):
            sizes = check_shape(x, "b c t h w", f"features[{j}]", b=last["b"], c=self.in_dims[j], t=last["t"])
            rate = sizes["h"] // last["h"]
            if rate * last["h"] != sizes["h"] or rate * last["w"] != sizes["w"] or rate & (rate - 1):
                raise ValueError(
                    f"features[{j}]: expected spatial size a power-of-two multiple of the last stage "
                    f"({last['h']}x{last['w']}), got {sizes['h']}x{sizes['w']}"
                )
            step = (1, rate, rate)
            fused.append(F.conv3d(x, conv.weight, conv.bias, stride=step, padding=(0, rate, rate), dilation=step))
        fused.append(features[-1])
        return self.norm(self.project(torch.cat(fused, dim=1)))
