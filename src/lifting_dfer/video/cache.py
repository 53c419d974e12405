"""A bounded per-frame store that assembles overlapping windows (the per-frame feature cache of ``predict``).

Each frame is stored once, as a tuple of tensors (its normalised pixels ``(3, h, w)``, or the stage features
``(c_j, h_j, w_j)`` of a backbone that processes frames independently); a window is the stack of its frames along a
new time axis. Frames no future window reads are dropped, so the memory is that of a bounded number of frames
(``predict`` keeps at most ``batch_size * stride + t0 + FRAME_BATCH``) whatever the video's length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["FrameCache"]


class FrameCache:
    """Per-frame tensors indexed by frame number, of which only the most recent are kept.

    Shape:
        - [`extend`][lifting_dfer.video.FrameCache.extend]: ``[(n, c_j, h_j, w_j)]`` (one tensor per stage, ``n`` new
          frames)
        - [`windows`][lifting_dfer.video.FrameCache.windows]: ``[(b, c_j, t, h_j, w_j)]`` for ``b`` windows of ``t``
          frames

    Examples:
        >>> cache = FrameCache()
        >>> cache.extend([torch.arange(6.0).view(6, 1, 1, 1)])
        >>> cache.drop_before(2)
        >>> cache.windows([(2, 5), (3, 6)])[0].flatten(1).tolist()
        [[2.0, 3.0, 4.0], [3.0, 4.0, 5.0]]
    """

    def __init__(self) -> None:
        self._frames: deque[tuple[Tensor, ...]] = deque()
        self.first = 0  # frame number of self._frames[0]

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def end(self) -> int:
        """One past the last stored frame number (= frames seen so far)."""
        return self.first + len(self._frames)

    def extend(self, stages: Sequence[Tensor]) -> None:
        """Append ``n`` frames given as one ``(n, ...)`` tensor per stage."""
        sizes = {s.shape[0] for s in stages}
        if len(sizes) != 1:
            raise ValueError(f"stages: expected the same number of frames in every stage, got {sorted(sizes)}")
        self._frames.extend(zip(*(s.unbind(0) for s in stages)))

    def drop_before(self, index: int) -> None:
        """Forget the frames numbered below ``index``."""
        while self._frames and self.first < index:
            self._frames.popleft()
            self.first += 1

    def windows(self, spans: Sequence[tuple[int, int]]) -> list[Tensor]:
        """The frames ``[start, end)`` of each span stacked along time, then the spans along the batch axis."""
        for start, end in spans:
            if start < self.first or end > self.end or end <= start:
                raise ValueError(f"window [{start}, {end}) is not in the cache, which holds [{self.first}, {self.end})")
        num_stages = len(self._frames[0])
        return [
            torch.stack([torch.stack([self._frames[i - self.first][j] for i in range(s, e)], 1) for s, e in spans])
            for j in range(num_stages)
        ]
