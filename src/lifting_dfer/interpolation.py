"""Differentiable index interpolation along time (paper Eq. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_tensor

__all__ = ["interpolate_frames"]


def interpolate_frames(x: Tensor, index: Tensor, dim: int = 2) -> Tensor:
    r"""Sample ``x`` along its time axis at fractional frame positions (Eq. 4).

    Linear interpolation between the two neighbouring frames,
    ``out = (1 - w) * x[floor(i)] + w * x[min(floor(i) + 1, t - 1)]`` with ``w = i - floor(i)``,
    after clamping ``i`` to ``[0, t - 1]``. This equals Eq. 4 between knots and, unlike Eq. 4 read
    literally, returns the exact frame at integer positions. Gradients flow to ``x`` and to ``index``
    (``x[floor + 1] - x[floor]`` inside the range, 0 where clamped). Implemented as one batched matrix product
    along time, ``out = M x`` with ``M: (b, z, t)`` holding ``1 - w`` and ``w`` at the two neighbouring frames
    of each position, taken in the memory order of ``x``: no Python loop over frames, no copy of ``x`` when it is
    dense in any axis order (contiguous, or a channels-last view such as IFDD's pyramid output; the output keeps
    that order), no graph break under ``torch.compile``; on CPU it runs 2-4x faster than two ``torch.gather`` calls and a ``lerp``
    forward and backward, and saves half the memory for backward (``benchmarks/``). As for any matrix product,
    TF32 (when enabled) rounds ``x`` to TF32, and a non-finite value in ``x`` reaches every output at the same
    ``(c, h, w)`` of that sample (``0 * inf`` is NaN).

    Shape:
        - x: ``(b, ..., t, ...)`` with time at ``dim`` (canonical: ``(b, c, t, h, w)``, ``dim=2``)
        - index: ``(b, z)`` fractional frame positions, any floating dtype
        - output: ``(b, ..., z, ...)`` (canonical: ``(b, c, z, h, w)``)

    Args:
        x: features; float16, bfloat16, float32 or float64, any device.
        index: positions along ``dim``; values outside ``[0, t - 1]`` are clamped. A NaN position gives NaN
            output (it is not silently replaced).
        dim: the time axis of ``x`` (not the batch axis 0).

    Examples:
        >>> x = torch.arange(4.0).view(1, 1, 4, 1, 1)          # frames 0, 1, 2, 3
        >>> interpolate_frames(x, torch.tensor([[0.5, 2.0, 7.0]])).flatten().tolist()
        [0.5, 2.0, 3.0]
        >>> interpolate_frames(torch.randn(2, 64, 8, 14, 14), torch.rand(2, 4) * 7).shape
        torch.Size([2, 64, 4, 14, 14])
    """
    check_tensor(x, "x")
    check_tensor(index, "index")
    if x.ndim < 2:
        raise ValueError(f"x: expected shape '(b, ..., t, ...)' with at least 2 dims, got {tuple(x.shape)}")
    dim = dim % x.ndim if -x.ndim <= dim < x.ndim else dim
    if not 0 < dim < x.ndim:
        raise ValueError(f"dim: expected a time axis in 1..{x.ndim - 1} of x with shape {tuple(x.shape)}, got {dim}")
    if index.ndim != 2 or index.shape[0] != x.shape[0]:
        raise ValueError(f"index: expected shape '(b, z)' with b={x.shape[0]}, got {tuple(index.shape)}")
    t = x.shape[dim]

    index = index.clamp(0, t - 1)
    lower = index.detach().floor()  # a NaN position stays NaN: its row of M, hence its output, is NaN
    weight = (index - lower).to(x.dtype).unsqueeze(-1)  # (b, z, 1)
    frames = torch.arange(t, device=x.device, dtype=lower.dtype)
    at_lower = (frames == lower.unsqueeze(-1)).to(x.dtype)  # (b, z, t) one-hot of floor(i)
    at_upper = (frames == (lower + 1).clamp(max=t - 1).unsqueeze(-1)).to(x.dtype)  # of min(floor(i) + 1, t - 1)
    interp = (1 - weight) * at_lower + weight * at_upper  # M: (b, z, t)

    # The non-batch axes of x in memory order (outermost first): x.permute(0, *order) is contiguous when x is dense.
    order = sorted(range(1, x.ndim), key=lambda d: -x.stride()[d])
    if not x.permute(0, *order).is_contiguous():
        order = list(range(1, x.ndim))  # another strided view: the reshape below copies it
    dense, time = x.permute(0, *order), order.index(dim) + 1
    # "b z t, b a t s -> b a z s" with a, s the flattened axes before and after time: one batched matmul.
    b, before, after = x.shape[0], dense.shape[1:time], dense.shape[time + 1 :]
    out = torch.matmul(interp.unsqueeze(1), dense.reshape(b, before.numel(), t, after.numel()))
    out = out.reshape(b, *before, index.shape[1], *after)
    return out.permute(0, *[1 + order.index(d) for d in range(1, x.ndim)])  # back to the axis order of x
