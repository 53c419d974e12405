"""Uniform temporal sampling of ``T0`` frame indices from a clip of ``n`` frames (TSN-style segments).

The clip's ``n`` frames are cut into ``T0`` equal segments of length ``n / T0`` (in frame units); one index is
taken per segment:

- test (``generator`` is ``None`` and ``random=False``): the segment's centre, ``floor((i + offset) * n / T0)``
  with ``offset=0.5``. Other offsets in ``(0, 1)`` give further deterministic temporal views (e.g. offsets
  ``1/6, 3/6, 5/6`` for three views).
- train (``random=True``): a uniformly random frame of each segment's integer range
  ``[floor(i * n / T0), floor((i + 1) * n / T0))``; the ranges are disjoint, so no frame repeats.

Short clips (``n < T0``) are padded by repetition: the same formula with the deterministic centre offset spreads
the ``n`` frames over ``T0`` slots in temporal order, each frame repeated ``floor(T0 / n)`` or ``ceil(T0 / n)``
times (e.g. ``n=3, T0=8 -> 0 0 0 1 1 2 2 2``). Short clips use this deterministic padding in training too, so
every frame appears and order is kept. ``n == T0`` returns ``0 .. T0-1`` in both modes.
"""

from __future__ import annotations

import math

import torch

__all__ = ["uniform_indices"]


def uniform_indices(
    num_available: int,
    num_frames: int,
    *,
    random: bool = False,
    offset: float = 0.5,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Pick ``num_frames`` indices in ``[0, num_available)``, one per equal temporal segment, in order.

    Args:
        num_available: frames in the clip (``n >= 1``).
        num_frames: frames to sample (``T0 >= 1``).
        random: random position inside each segment (training) instead of the fixed ``offset`` (test).
        offset: position inside each segment for deterministic sampling, in ``[0, 1)``; 0.5 is the centre.
        generator: RNG for ``random=True`` (``None`` uses torch's global RNG, seeded per DataLoader worker).

    Returns:
        ``num_frames`` non-decreasing integer indices.

    Examples:
        >>> uniform_indices(32, 4)
        [4, 12, 20, 28]
        >>> uniform_indices(3, 8)
        [0, 0, 0, 1, 1, 2, 2, 2]
    """
    if not isinstance(num_available, int) or num_available < 1:
        raise ValueError(f"num_available: expected a clip with at least 1 frame, got {num_available!r}")
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames: expected a positive integer, got {num_frames!r}")
    if not 0.0 <= offset < 1.0:
        raise ValueError(f"offset: expected a position inside the segment in [0, 1), got {offset}")
    n, t = num_available, num_frames
    if random and n > t:
        u = torch.rand(t, generator=generator, dtype=torch.float64).tolist()
        starts = [i * n // t for i in range(t + 1)]
        return [a + min(b - a - 1, math.floor(u_i * (b - a))) for a, b, u_i in zip(starts, starts[1:], u)]
    return [min(n - 1, math.floor((i + offset) * n / t)) for i in range(t)]
