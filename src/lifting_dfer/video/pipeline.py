"""``predict_video``: decode, crop and classify a video in one streaming pass, with bounded memory.

Frames are decoded one at a time ([`VideoStream`][lifting_dfer.video.VideoStream], resampled to the chosen rate),
cropped to the face ([`FaceCropper`][lifting_dfer.video.FaceCropper]), normalised in batches of ``FRAME_BATCH`` and
stored in a [`FrameCache`][lifting_dfer.video.FrameCache] (pixels, or per-frame backbone features when the backend
reuses frames); windows are released by a [`WindowSchedule`][lifting_dfer.video.WindowSchedule] as soon as their frames
are in and classified in batches of ``batch_size``. Frames no future window needs are dropped, so memory holds
``batch_size * stride + t0 + FRAME_BATCH`` frames at most, whatever the video's length. The result keeps only per-window
probabilities.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from torch import Tensor, nn
from tqdm.auto import tqdm

from .backends import WindowBackend
from .cache import FrameCache
from .decode import VideoStream
from .faces import FaceCropper, warn_missing_faces
from .normalize import normalize_frames
from .sampling import choose_rate
from .torch_backend import TorchBackend
from .truncated import decoded_window
from .windows import WindowSchedule

__all__ = ["DETECTIONS_PER_SECOND", "FRAME_BATCH", "StageTimer", "predict_video"]

#: Frames normalised (and sent through a per-frame backbone) together.
FRAME_BATCH = 8
#: Face detections per second of video when ``detect_every`` is left to its default.
DETECTIONS_PER_SECOND = 3.0


class StageTimer:
    """Wall time and item count of each pipeline stage.

    Stages: ``decode``, ``detect`` (or ``crop`` without face detection), ``backbone``, ``head``, ``model``.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.items: dict[str, int] = {}

    def add(self, stage: str, seconds: float, items: int) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.items[stage] = self.items.get(stage, 0) + items

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        """``{stage: {"seconds", "items", "per_second"}}``; items are frames (windows for head / model)."""
        return {
            stage: {"seconds": s, "items": self.items[stage], "per_second": self.items[stage] / s if s > 0 else None}
            for stage, s in self.seconds.items()
        }


class _Classifier:
    """Feeds face crops to the cache and released windows to the backend; collects the probabilities."""

    def __init__(self, backend: WindowBackend, schedule: WindowSchedule, batch_size: int, timer: StageTimer) -> None:
        self.backend, self.schedule, self.batch_size, self.timer = backend, schedule, batch_size, timer
        self.cache = FrameCache()
        self.crops: list[np.ndarray] = []
        self.waiting: list[tuple[int, int]] = []
        self.spans: list[tuple[int, int]] = []
        self.probabilities: list[Tensor] = []

    def add(self, crop: np.ndarray) -> None:
        self.crops.append(crop)
        if len(self.crops) == FRAME_BATCH:
            self._encode()
            self._release(self.schedule.ready(self.cache.end))

    def finish(self) -> None:
        self._encode()
        self._release(self.schedule.finish(self.cache.end), final=True)

    def _encode(self) -> None:
        if not self.crops:
            return
        info, start = self.backend.info, time.perf_counter()
        frames = normalize_frames(np.stack(self.crops), info.mean, info.std)
        if self.backend.reuses_frames:
            self.cache.extend(self.backend.frame_features(frames))
            self.timer.add("backbone", time.perf_counter() - start, len(self.crops))
        else:
            self.cache.extend([frames])
        self.crops.clear()

    def _release(self, spans: Sequence[tuple[int, int]], final: bool = False) -> None:
        self.waiting.extend(spans)
        while len(self.waiting) >= self.batch_size or (final and self.waiting):
            batch, self.waiting = self.waiting[: self.batch_size], self.waiting[self.batch_size :]
            self._classify(batch)
        first_needed = self.waiting[0][0] if self.waiting else self.cache.end
        self.cache.drop_before(min(first_needed, self.schedule.needed_from(self.cache.end)))

    def _classify(self, spans: list[tuple[int, int]]) -> None:
        start = time.perf_counter()
        stages = self.cache.windows(spans)
        if self.backend.reuses_frames:
            probabilities = self.backend.predict_features(stages)
            self.timer.add("head", time.perf_counter() - start, len(spans))
        else:
            probabilities = self.backend.predict(stages[0])
            self.timer.add("model", time.perf_counter() - start, len(spans))
        names = self.backend.info.class_names
        if probabilities.shape[-1] != len(names):
            raise ValueError(f"the model gives {probabilities.shape[-1]} classes but {len(names)} class names")
        self.probabilities.append(probabilities)
        self.spans.extend(spans)


def predict_video(
    model: nn.Module | WindowBackend,
    path: str | os.PathLike,
    *,
    num_frames: int | None = None,
    input_size: int | None = None,
    class_names: Sequence[str] | None = None,
    stride: int | None = None,
    fps: float | Literal["native"] | None = None,
    face_detect: bool = True,
    detect_every: int | None = None,
    device: str = "cpu",
    batch_size: int = 4,
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    progress: bool = False,
) -> dict:
    """Class probabilities of a video, window by window (what ``lifting-dfer predict`` writes as JSON).

    The video is decoded and resampled to a frame rate (``fps``; ``None``: the rate the model's training clips were
    sampled at when the backend knows it, else the video's own; ``"native"``: the video's own; never above the video's
    rate), each frame's face is cropped by a [`FaceCropper`][lifting_dfer.video.FaceCropper] (detector on every
    ``detect_every``-th frame; ``None``: about ``DETECTIONS_PER_SECOND`` times per second of video), and windows of
    ``t0`` consecutive frames, ``stride`` apart (default ``t0 // 2``), are classified by the backend. The pass streams:
    memory does not grow with the video's length (see the module docstring). A file that ends before its declared
    length and gives fewer than ``t0`` frames at that rate gets one window sampled over the frames that did decode,
    with a warning ([`decoded_window`][lifting_dfer.video.truncated.decoded_window]).

    Args:
        model: a [`WindowBackend`][lifting_dfer.video.WindowBackend], or a PyTorch model (then ``num_frames``,
            ``input_size`` and ``class_names`` are required and a
            [`TorchBackend`][lifting_dfer.video.TorchBackend] with ``device`` and ``precision`` wraps it).
        progress: show a tqdm bar (frames and frames/s) on stderr.

    Returns:
        ``{"video", "fps", "num_frames", "window", "stride", "class_names", "windows": [{"start_frame",
        "end_frame", "start_time", "end_time", "probabilities": {name: p}, "top"}], "face_detection":
        {"frames_with_face", "fallback_frames"}, "sampling": {"fps", "origin", "source_fps", "training"},
        "backend", "precision", "timing": {stage: {"seconds", "items", "per_second"}}, "seconds"}``;
        ``end_frame`` is exclusive, times are in seconds.

    Raises:
        FileNotFoundError, ValueError: see [`VideoStream`][lifting_dfer.video.VideoStream] and
            [`sliding_windows`][lifting_dfer.video.sliding_windows]; ``ValueError`` also for bad settings.
    """
    started = time.perf_counter()
    backend = _as_backend(model, num_frames, input_size, class_names, device, precision)
    info = backend.info
    t0 = info.num_frames
    stride = max(1, t0 // 2) if stride is None else stride
    for name, value in (("stride", stride), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if detect_every is not None and (not isinstance(detect_every, int) or detect_every < 1):
        raise ValueError(f"detect_every: expected a positive integer, got {detect_every!r}")
    if fps is not None and fps != "native":
        choose_rate(fps, None, 1.0)  # validates before the file is opened
    with VideoStream(path) as probe:
        source_fps, duration = probe.info.source_fps, probe.info.duration
    rate = choose_rate(fps, info.sampling, source_fps, duration=duration, window=t0)
    if rate.note:
        warnings.warn(f"{path}: {rate.note}", stacklevel=2)
    every = detect_every or max(1, round(rate.fps / DETECTIONS_PER_SECOND))
    cropper = FaceCropper(info.input_size, detect=face_detect, detect_every=every)
    timer = StageTimer()
    classifier = _Classifier(backend, WindowSchedule(t0, stride), batch_size, timer)
    with VideoStream(path, fps=rate.fps) as stream:
        bar = tqdm(total=stream.expected_frames(), desc=os.path.basename(path), unit="frame", disable=not progress,
                   dynamic_ncols=True, leave=False)  # fmt: skip
        with bar:
            frames = iter(stream)
            decoded = total = 0
            while True:
                start = time.perf_counter()
                frame = next(frames, None)
                timer.add("decode", time.perf_counter() - start, stream.decoded - decoded)
                decoded = stream.decoded
                if frame is None:
                    break
                start = time.perf_counter()
                crop = cropper(frame)
                timer.add("detect" if cropper.detects else "crop", time.perf_counter() - start, 1)
                classifier.add(crop)
                total += 1
                bar.update()
        out_fps = stream.fps
        if total < t0 and stream.ended_early:  # a truncated file: what did decode makes one window
            cropper = FaceCropper(info.input_size, detect=face_detect, detect_every=1)
            window, out_fps, note = decoded_window(path, t0, cropper, stream)
            warnings.warn(f"{path}: {note}", stacklevel=2)
            classifier, total = _Classifier(backend, WindowSchedule(t0, stride), batch_size, timer), t0
            for crop in window:
                classifier.add(crop)
        if total < t0:
            hint = f" at {out_fps:.2f} fps (a higher --fps, up to the video's {source_fps:.2f}, gives more)"
            raise ValueError(f"the video has {total} frames, fewer than one window of {t0} frames"
                             + (hint if out_fps < source_fps else ""))  # fmt: skip
        classifier.finish()
    warn_missing_faces(path, cropper)
    return _result(path, info, classifier, out_fps, total, stride, cropper, rate, source_fps, timer, started)


def _as_backend(
    model: nn.Module | WindowBackend,
    num_frames: int | None,
    input_size: int | None,
    class_names: Sequence[str] | None,
    device: str,
    precision: Literal["fp32", "bf16", "auto"],
) -> WindowBackend:
    if isinstance(model, WindowBackend):
        return model
    if num_frames is None or input_size is None or class_names is None:
        missing = [n for n, v in (("num_frames", num_frames), ("input_size", input_size), ("class_names", class_names))
                   if v is None]  # fmt: skip
        raise ValueError(f"{', '.join(missing)}: needed to run a plain model (or pass a WindowBackend)")
    return TorchBackend(
        model, class_names=class_names, num_frames=num_frames, input_size=input_size, device=device,
        precision=precision,
    )  # fmt: skip


def _result(path, info, classifier, fps, total, stride, cropper, rate, source_fps, timer, started) -> dict:
    names = list(info.class_names)
    probabilities = [p for batch in classifier.probabilities for p in batch.tolist()]
    return {
        "video": str(path),
        "fps": fps,
        "num_frames": total,
        "window": info.num_frames,
        "stride": stride,
        "class_names": names,
        "windows": [
            {
                "start_frame": start,
                "end_frame": end,
                "start_time": start / fps,
                "end_time": end / fps,
                "probabilities": dict(zip(names, p)),
                "top": names[int(np.argmax(p))],
            }
            for (start, end), p in zip(classifier.spans, probabilities)
        ],
        "face_detection": {"frames_with_face": cropper.frames_with_face, "fallback_frames": cropper.fallback_frames},
        "sampling": {
            "fps": fps,
            "origin": rate.origin,
            "source_fps": source_fps,
            "training": None if info.sampling is None else info.sampling.to_dict(),
        },
        "backend": info.name,
        "precision": info.precision,
        "timing": timer.to_dict(),
        "seconds": time.perf_counter() - started,
    }
