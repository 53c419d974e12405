"""Sliding windows of ``t0`` frames over a video, and the same windows scheduled on a stream of unknown length."""

from __future__ import annotations

__all__ = ["WindowSchedule", "sliding_windows"]


def _check_sizes(window: int, stride: int) -> None:
    if window < 1 or stride < 1:
        raise ValueError(f"window, stride: expected sizes >= 1, got window={window}, stride={stride}")


def _too_short(num_frames: int, window: int) -> ValueError:
    return ValueError(f"the video has {num_frames} frames, fewer than one window of {window} frames")


def sliding_windows(num_frames: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of ``window`` frames, starting every ``stride`` frames.

    When the last regular window stops short of the end, one more window ends on the last frame, so every frame
    is covered: ``floor((n - window) / stride) + 1`` windows, plus one when ``(n - window) % stride != 0``.

    Raises:
        ValueError: ``num_frames < window`` (the video is shorter than one window) or a size below 1.

    Examples:
        >>> sliding_windows(40, 16, 8)
        [(0, 16), (8, 24), (16, 32), (24, 40)]
        >>> sliding_windows(20, 16, 8)
        [(0, 16), (4, 20)]
    """
    _check_sizes(window, stride)
    if num_frames < window:
        raise _too_short(num_frames, window)
    windows = [(start, start + window) for start in range(0, num_frames - window + 1, stride)]
    if windows[-1][1] != num_frames:
        windows.append((num_frames - window, num_frames))
    return windows


class WindowSchedule:
    """The windows of [`sliding_windows`][lifting_dfer.video.sliding_windows], released as the frames of a stream
    arrive.

    [`ready`][lifting_dfer.video.WindowSchedule.ready] gives the regular windows whose frames have all arrived;
    [`finish`][lifting_dfer.video.WindowSchedule.finish], once the stream has ended, the extra window that ends on the
    last frame (when the last regular one stops short of it). Together they give exactly ``sliding_windows(n, window,
    stride)``. [`needed_from`][lifting_dfer.video.WindowSchedule.needed_from] says which frames a future window may
    still read, so a buffer can drop the older ones: at most ``window + stride`` frames are ever needed.

    Examples:
        >>> schedule = WindowSchedule(16, 8)
        >>> schedule.ready(30), schedule.ready(41), schedule.finish(41)
        ([(0, 16), (8, 24)], [(16, 32), (24, 40)], [(25, 41)])
    """

    def __init__(self, window: int, stride: int) -> None:
        _check_sizes(window, stride)
        self.window, self.stride = window, stride
        self.next_start = 0
        self.last_end = 0

    def ready(self, available: int) -> list[tuple[int, int]]:
        """Regular windows not released yet whose frames ``[start, end)`` are all among the first ``available``."""
        out = []
        while self.next_start + self.window <= available:
            out.append((self.next_start, self.next_start + self.window))
            self.next_start += self.stride
        if out:
            self.last_end = out[-1][1]
        return out

    def needed_from(self, available: int) -> int:
        """First frame index that a window not yet released may read, with ``available`` frames so far."""
        return max(0, min(self.next_start, available - self.window))

    def finish(self, total: int) -> list[tuple[int, int]]:
        """The windows left once the stream ended after ``total`` frames (raises if it is shorter than a window)."""
        if total < self.window:
            raise _too_short(total, self.window)
        out = self.ready(total)
        if self.last_end != total:
            out.append((total - self.window, total))
            self.last_end = total
        return out
