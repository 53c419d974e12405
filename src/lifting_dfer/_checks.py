"""Input validation shared by the public modules (kornia's ``KORNIA_CHECK_SHAPE`` is the model).

Errors quote the einops pattern, the expected sizes and the actual shape, e.g.::

    ValueError: x: expected shape 'b c t h w' with c=128, t=8, got (2, 64, 8, 14, 14)
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_even_frames", "check_shape", "check_tensor"]


def check_tensor(x: object, name: str, *, floating: bool = True) -> Tensor:
    """Raise ``TypeError`` unless ``x`` is a tensor (of a floating dtype when ``floating``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def check_shape(x: object, pattern: str, name: str, **sizes: int) -> dict[str, int]:
    """Check ``x`` against an einops-style ``pattern`` such as ``"b c t h w"`` and return the named sizes.

    Keyword arguments pin axes to a size (``c=128``). Raises ``TypeError`` for a non-tensor or a non-float
    tensor and ``ValueError`` for a wrong rank or size.
    """
    x = check_tensor(x, name)
    axes = pattern.split()
    pinned = ", ".join(f"{k}={v}" for k, v in sizes.items())
    expected = f"'{pattern}'" + (f" with {pinned}" if pinned else "")
    if x.ndim != len(axes):
        raise ValueError(f"{name}: expected shape {expected} ({len(axes)} dims), got {tuple(x.shape)}")
    named = dict(zip(axes, x.shape))
    for axis, size in sizes.items():
        if named[axis] != size:
            raise ValueError(f"{name}: expected shape {expected}, got {tuple(x.shape)}")
    return named


def check_even_frames(t: int, name: str) -> None:
    """Lifting splits time in two halves: ``t`` must be even and at least 2."""
    if t < 2 or t % 2:
        raise ValueError(f"{name}: the lifting split needs an even number of frames t >= 2, got t={t}")
