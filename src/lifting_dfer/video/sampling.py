"""The frame rate a model was trained at, recorded in its checkpoint, so that ``predict`` windows match it.

Training samples ``T0`` frames uniformly over a whole clip
([`uniform_indices`][lifting_dfer.data.uniform_indices]): a window of ``T0`` frames the model has seen spans a
whole clip, i.e. it was sampled at ``T0 / clip seconds`` frames per second. Running the model on ``T0`` *consecutive*
frames of a 30 fps video instead shows it about a sixth of that time span, faster motion than it learnt. Checkpoints
therefore store a ``sampling`` record ([`training_sampling`][lifting_dfer.video.training_sampling]), and ``predict``
resamples videos to its ``fps`` unless ``--fps`` says otherwise.

Clip lengths (``CLIP_FRAMES``) are the mean frame counts of each dataset's per-clip frame folders, as the
datasets' READMEs describe them (collected in ``docs/datasets.md``: DFEW ``clip_224x224`` 11-847 frames, mean 77;
FERV39k ``2_ClipsforFaceCrop`` 8-47, mean 28; MAFW ``data/frames`` 9-727, mean 110). The folders hold every frame
of the source clip, and the papers (DFEW: Jiang et al., ACM MM 2020; FERV39k: Wang et al., CVPR 2022; MAFW: Liu
et al., ACM MM 2022) do not give the frame rate in what we could consult; the clips are cut from movies, TV and
web video, which run at 24-30 fps, and we take ``SOURCE_FPS`` = 25 fps. The resulting mean durations
(DFEW 3.1 s, FERV39k 1.1 s, MAFW 4.4 s) are estimates: pass ``--fps`` when you know better.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from .decode import check_fps

__all__ = [
    "CLIP_FRAMES",
    "SOURCE_FPS",
    "RateChoice",
    "TrainingSampling",
    "checkpoint_sampling",
    "choose_rate",
    "training_sampling",
]

#: Mean frames per clip in each dataset's frame folders (see the module docstring for the sources).
CLIP_FRAMES: dict[str, int] = {"dfew": 77, "ferv39k": 28, "mafw": 110}
#: Frame rate assumed for the datasets' source clips (movies, TV, web video: 24-30 fps).
SOURCE_FPS = 25.0


class TrainingSampling(NamedTuple):
    """How the training clips were sampled: ``frames_per_clip`` frames over ``clip_seconds`` seconds on average.

    ``fps`` is the rate that reproduces that spacing (``frames_per_clip / clip_seconds``); both are ``None`` for
    data without a time base (the synthetic demo dataset).
    """

    dataset: str
    frames_per_clip: int
    clip_seconds: float | None
    fps: float | None

    def describe(self) -> str:
        """One phrase for messages: ``"DFEW: 16 frames over 3.08 s per clip on average"``."""
        name = self.dataset.upper() if self.dataset in CLIP_FRAMES else self.dataset
        if self.clip_seconds is None:
            return f"{name}: {self.frames_per_clip} frames per clip, no frame rate"
        return f"{name}: {self.frames_per_clip} frames over {self.clip_seconds:.2f} s per clip on average"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a checkpoint or JSON."""
        return self._asdict()


def training_sampling(dataset: str | None, frames_per_clip: int) -> TrainingSampling:
    """The record for ``frames_per_clip`` frames sampled over clips of ``dataset`` (``None``: synthetic data).

    Examples:
        >>> training_sampling("dfew", 16)
        TrainingSampling(dataset='dfew', frames_per_clip=16, clip_seconds=3.08, fps=5.194805194805195)
        >>> training_sampling(None, 8).fps is None
        True
    """
    if not isinstance(frames_per_clip, int) or frames_per_clip < 1:
        raise ValueError(f"frames_per_clip: expected a positive integer, got {frames_per_clip!r}")
    if dataset is None:
        return TrainingSampling("synthetic", frames_per_clip, None, None)
    if dataset not in CLIP_FRAMES:
        raise ValueError(f"dataset: expected one of {', '.join(CLIP_FRAMES)} (or None), got {dataset!r}")
    seconds = CLIP_FRAMES[dataset] / SOURCE_FPS
    return TrainingSampling(dataset, frames_per_clip, seconds, frames_per_clip / seconds)


def checkpoint_sampling(ckpt: Mapping[str, Any]) -> TrainingSampling | None:
    """The checkpoint's ``sampling`` record, or ``None`` for checkpoints written before it existed.

    Raises:
        ValueError: the record is there but malformed.
    """
    record = ckpt.get("sampling")
    if record is None:
        return None
    try:
        sampling = TrainingSampling(**dict(record))
    except TypeError as err:
        raise ValueError(f"checkpoint: malformed 'sampling' record {record!r} ({err})") from err
    if sampling.fps is not None and not (isinstance(sampling.fps, (int, float)) and sampling.fps > 0):
        raise ValueError(f"checkpoint: 'sampling' has a frame rate that is not positive: {sampling.fps!r}")
    return sampling


class RateChoice(NamedTuple):
    """The frame rate ``predict`` windows a video at, and why."""

    fps: float
    origin: Literal["training", "requested", "native"]
    """``"training"``: the checkpoint's training rate; ``"requested"``: ``fps`` given; ``"native"``: the video's."""
    note: str | None
    """Why the rate differs from what was asked (capped at the video's rate), else ``None``."""


def choose_rate(
    requested: float | Literal["native"] | None,
    sampling: TrainingSampling | None,
    source_fps: float,
    *,
    duration: float | None = None,
    window: int | None = None,
) -> RateChoice:
    """The rate to window a video at: ``requested`` (``"native"``: the video's own), else the training rate.

    Rates above the video's ``source_fps`` are capped to it (resampling above the source rate only repeats
    frames); ``None`` without a recorded training rate keeps the video's rate. At the training rate, a video of
    ``duration`` seconds too short for one ``window`` is sampled faster, at ``(window + 1) / duration``, so that one
    window spans it, as training spread ``T0`` frames over short clips.

    Examples:
        >>> dfew = training_sampling("dfew", 16)
        >>> choose_rate(None, dfew, 30.0).fps, choose_rate(10, dfew, 30.0).origin
        (5.194805194805195, 'requested')
        >>> choose_rate(1000, None, 30.0).note
        "1000 fps is above the video's 30.00 fps: using 30.00 fps"
        >>> choose_rate(None, dfew, 30.0, duration=2.0, window=16).fps  # one window spans a short video
        8.5
    """
    if not (source_fps > 0 and math.isfinite(source_fps)):
        raise ValueError(f"source_fps: expected a positive, finite frame rate, got {source_fps}")
    origin: Literal["training", "requested"]
    if requested is None and sampling is not None and sampling.fps is not None:
        fps, origin = sampling.fps, "training"
    elif requested is None or requested == "native":
        return RateChoice(source_fps, "native", None)
    else:
        fps, origin = check_fps(requested), "requested"
    if origin == "training" and duration and window and duration * fps < window and fps < source_fps:
        short = min(source_fps, (window + 1) / duration)
        note = (f"the video lasts {duration:.2f} s, less than one window of {window} frames at the training rate "
                f"({fps:.2f} fps): using {short:.2f} fps, so that one window spans it")  # fmt: skip
        return RateChoice(short, origin, note)
    if fps > source_fps:
        what = "the training rate " if origin == "training" else ""
        note = f"{what}{fps:g} fps is above the video's {source_fps:.2f} fps: using {source_fps:.2f} fps"
        return RateChoice(source_fps, origin, note)
    return RateChoice(fps, origin, None)
