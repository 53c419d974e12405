"""Files that end before their container says, and turn out shorter than one window: keep the frames that decoded.

``predict`` windows a video at a rate chosen from its declared length (the training rate, raised for a clip shorter
than one window). A truncated file decodes fewer frames than it declares, so at that rate it may give fewer than
``t0`` frames. Its decoded frames are still there: [`decoded_window`][lifting_dfer.video.truncated.decoded_window]
samples them into one window of ``t0`` frames the way training samples a clip
([`uniform_indices`][lifting_dfer.data.uniform_indices]: spread over the whole clip, repeated when there are
fewer than ``t0``), so ``predict`` and ``explain`` still give a prediction, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

from ..temporal_sampling import uniform_indices
from .decode import Frame, VideoStream

__all__ = ["decoded_window"]


def decoded_window(
    path: str | os.PathLike, window: int, transform: Callable[[Frame], Frame], stream: VideoStream
) -> tuple[list[Frame], float, str]:
    """One window of ``window`` frames sampled over every frame a finished ``stream`` of ``path`` decoded.

    The file is decoded again at its own rate and the frames at ``uniform_indices(stream.decoded, window)`` are
    kept, each passed through ``transform`` (a face crop) once.

    Returns:
        ``(frames, fps, note)``: the window's frames in order, the rate their spacing stands for
        (``window`` frames over the decoded ``stream.decoded / source_fps`` seconds) and a sentence for the warning.

    Raises:
        ValueError: the second decoding gives fewer frames than the first.
    """
    decoded, source_fps = stream.decoded, stream.info.source_fps
    picks = uniform_indices(decoded, window)
    kept: dict[int, Frame] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*the file ended early")  # the first pass said so already
        with VideoStream(path) as again:
            for index, frame in enumerate(again):
                if index in picks:
                    kept[index] = transform(frame)
                if index >= picks[-1]:
                    break
    if len(kept) < len(set(picks)):
        raise ValueError(f"cannot read video {path}: it decoded {decoded} frames, then {len(kept)} the second time")
    seconds = decoded / source_fps
    fps = window / seconds
    note = (
        f"{stream.emitted} frames at {stream.fps:.2f} fps, fewer than one window of {window} frames: the window is "
        f"sampled over the {decoded} frames that decoded ({seconds:.2f} s, {fps:.2f} fps)"
    )
    return [kept[index] for index in picks], fps, note
