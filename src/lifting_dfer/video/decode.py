"""Decoding with PyAV, streamed: frames come one at a time, resampled to a frame rate by sample-and-hold.

[`VideoStream`][lifting_dfer.video.VideoStream] hands frames on as they are decoded (FFmpeg's frame threads hold a
few more), so memory does not grow with the video's length; [`read_video`][lifting_dfer.video.read_video] collects a
whole (short) video into one array for plots and notebooks.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar, overload

import numpy as np

from .._optional import optional_import

if TYPE_CHECKING:
    import av

__all__ = ["Frame", "Video", "VideoInfo", "VideoStream", "check_fps", "read_video", "sample_and_hold"]

Frame = np.ndarray  # (h, w, 3) uint8 RGB
T = TypeVar("T")

DEFAULT_FPS = 25.0  # assumed when a container declares no frame rate


class VideoInfo(NamedTuple):
    """What the container declares about its video stream (before decoding)."""

    path: Path
    source_fps: float
    """Average frame rate of the stream (``DEFAULT_FPS`` when the container gives none)."""
    declared_frames: int | None
    """Frame count from the container, else duration x rate; ``None`` when it declares neither."""
    width: int
    height: int

    @property
    def duration(self) -> float | None:
        """Declared length in seconds (``declared_frames / source_fps``)."""
        return None if self.declared_frames is None else self.declared_frames / self.source_fps


class Video(NamedTuple):
    """Decoded frames of a video, after resampling and the per-frame ``transform``.

    Shape:
        - frames: ``(n, h, w, 3)`` uint8 RGB (``h = w = size`` after a [`FaceCropper`][lifting_dfer.video.FaceCropper])
    """

    frames: np.ndarray
    fps: float
    source_fps: float


@overload
def check_fps(fps: float, name: str = ...) -> float: ...
@overload
def check_fps(fps: None, name: str = ...) -> None: ...
def check_fps(fps: float | None, name: str = "fps") -> float | None:
    """``fps`` as a float, or ``None``; raises ``ValueError`` naming ``name`` unless it is positive and finite.

    Examples:
        >>> check_fps(6)
        6.0
        >>> check_fps(float("inf"), "--fps")
        Traceback (most recent call last):
        ...
        ValueError: --fps: expected a positive, finite frame rate, got inf
    """
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"{name}: expected a positive, finite frame rate, got {fps}")
    return float(fps)


def sample_and_hold(decoded: Iterable[tuple[float | None, T]], source_fps: float, fps: float) -> Iterator[T]:
    """Resample timestamped items to ``fps``: output ``k`` (time ``k / fps``) is the last item shown by then.

    Times are relative to the first item; a missing timestamp counts as ``index / source_fps``. The last item
    stays on screen for one source frame period. Items are dropped (``fps`` below the source rate) or repeated.

    Examples:
        >>> list(sample_and_hold([(0.0, "a"), (0.1, "b"), (0.2, "c"), (0.3, "d")], 10, 5))
        ['a', 'c']
    """
    emitted, held, start = 0, None, None
    for index, (time, item) in enumerate(decoded):
        time = index / source_fps if time is None else time
        start = time if start is None else start
        if held is not None:
            while emitted / fps < time - start - 1e-9:
                yield held[1]
                emitted += 1
        held = (time - start, item)
    if held is not None:
        while emitted / fps < held[0] + 1 / source_fps - 1e-9:
            yield held[1]
            emitted += 1


class VideoStream:
    """The RGB frames of a video file, decoded one at a time (PyAV / FFmpeg: mp4, avi, mov, mkv, webm, ...).

    With ``fps`` below the stream's rate, frames are resampled by ``sample_and_hold`` on their timestamps
    (only the kept frames are converted to RGB); at or above it every frame is kept (repeating frames adds
    nothing) and ``fps`` is the source rate. When decoding stops well before the declared length (a truncated
    or damaged file) a warning names the file and how far it got.

    Args:
        path: the video file.
        fps: output frame rate (``None``: the stream's own rate).
        threads: FFmpeg decoding threads (``None``: FFmpeg's choice, about one per CPU; 1 in a pool of worker
            processes, each on one core).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a folder, not a video FFmpeg can read, no video stream, ``fps`` not positive and finite, or (while
            iterating) a decoding error or no frame at all.
    """

    def __init__(self, path: str | os.PathLike, *, fps: float | None = None, threads: int | None = None) -> None:
        self.path = Path(path)
        self.threads = threads
        requested = check_fps(fps)
        self._av = optional_import("av", extra="video")
        self._container = _open_container(self._av, self.path)
        stream = self._container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        source_fps = float(rate) if rate else DEFAULT_FPS
        if not rate:
            warnings.warn(f"{self.path}: the frame rate is unknown; assuming {source_fps} fps", stacklevel=2)
        declared = int(stream.frames) if stream.frames else None
        if declared is None and self._container.duration:
            declared = round(self._container.duration / 1e6 * source_fps)
        self.info = VideoInfo(self.path, source_fps, declared, stream.codec_context.width, stream.codec_context.height)
        self.fps = source_fps if requested is None or requested >= source_fps else requested
        self.decoded = self.emitted = 0

    def __enter__(self) -> VideoStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def expected_frames(self) -> int | None:
        """Frames this stream should yield, from the declared length (for progress bars)."""
        duration = self.info.duration
        return None if duration is None else max(1, round(duration * self.fps))

    def _decoded(self) -> Iterator[tuple[float | None, av.VideoFrame]]:
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        if self.threads is not None:
            stream.thread_count = self.threads
        try:
            for frame in self._container.decode(stream):
                self.decoded += 1
                yield frame.time, frame
        except self._av.FFmpegError as err:
            raise ValueError(f"cannot decode video {self.path}: {err}") from err

    def __iter__(self) -> Iterator[Frame]:
        decoded = self._decoded()
        if self.fps < self.info.source_fps:
            frames = sample_and_hold(decoded, self.info.source_fps, self.fps)
        else:
            frames = (frame for _, frame in decoded)
        for frame in frames:
            self.emitted += 1
            yield frame.to_ndarray(format="rgb24")
        if self.emitted == 0:
            raise ValueError(f"cannot read video {self.path}: no frame could be decoded")
        self._warn_if_truncated()

    @property
    def ended_early(self) -> bool:
        """Decoding stopped well before the declared length (a truncated or damaged file); read once iterated."""
        declared = self.info.declared_frames
        return declared is not None and self.decoded < declared - max(2, 0.02 * declared)

    def _warn_if_truncated(self) -> None:
        declared, fps = self.info.declared_frames, self.info.source_fps
        if declared is None or not self.ended_early:
            return
        warnings.warn(
            f"{self.path}: the file ended early: decoded {self.decoded} of the {declared} frames it declares "
            f"({self.decoded / fps:.1f} s of {declared / fps:.1f} s); it may be truncated or damaged",
            stacklevel=2,
        )


def _open_container(av, path: Path):
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if not path.is_file():
        raise ValueError(f"video: expected a file, got a directory: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"cannot read video {path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:  # FFmpeg's message without its "[Errno N]" and the repeated path
        reason = getattr(err, "strerror", None) or str(err)
        raise ValueError(f"cannot read video {path}: {reason} (not a video, or a damaged one)") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"cannot read video {path}: it has no video stream")
    return container


def read_video(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    transform: Callable[[Frame], Frame] | None = None,
) -> Video:
    """Decode all frames of a video file into one array (a [`VideoStream`][lifting_dfer.video.VideoStream] collected;
    for short videos).

    With ``fps`` below the video's rate, frames are resampled by sample-and-hold on their timestamps: output
    frame ``k`` is the last decoded frame shown at or before ``k / fps``. ``transform`` maps each kept frame right
    after decoding (e.g. a [`FaceCropper`][lifting_dfer.video.FaceCropper]), so only the small crops are held in memory.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be decoded, has no video stream or no frame, or ``fps`` is not positive.
    """
    transform = transform or (lambda frame: frame)
    with VideoStream(path, fps=fps) as stream:
        frames = [transform(frame) for frame in stream]
    return Video(np.stack(frames), stream.fps, stream.info.source_fps)
