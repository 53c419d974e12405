"""Inference on raw videos: decode (PyAV), crop the face (OpenCV Haar cascade), slide windows of ``t0`` frames.

``predict_video`` is what ``lifting-dfer predict`` runs; the pieces are public so that other front ends can
reuse them. PyAV and OpenCV are imported lazily (``pip install 'lifting_dfer[video]'``).

Haar cascades ship inside ``opencv-python-headless`` 4.x (``cv2.data.haarcascades``); OpenCV 5 dropped
``cv2.CascadeClassifier`` from the main wheels, and with it ``FaceCropper`` falls back to centre crops (with a
warning), as it does on frames where no face is found.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from ._optional import optional_import
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "FaceCropper",
    "Video",
    "clip_to_frames",
    "frames_to_clip",
    "predict_video",
    "read_faces",
    "read_video",
    "sliding_windows",
]

Frame = np.ndarray  # (h, w, 3) uint8 RGB


class Video(NamedTuple):
    """Decoded frames of a video, after resampling and the per-frame ``transform``.

    Shape:
        - frames: ``(n, h, w, 3)`` uint8 RGB (``h = w = size`` after a :class:`FaceCropper`)
    """

    frames: np.ndarray
    fps: float
    source_fps: float


def _open_container(path: Path):
    av = optional_import("av", extra="video")
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if not path.is_file():
        raise ValueError(f"video: expected a file, got a directory: {path}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise ValueError(f"cannot read video {path}: {err}") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"cannot read video {path}: it has no video stream")
    return container


def _decoded_frames(container, path: Path) -> Iterator[tuple[float | None, Frame]]:
    av = optional_import("av", extra="video")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    try:
        for frame in container.decode(stream):
            yield frame.time, frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise ValueError(f"cannot decode video {path}: {err}") from err


def read_video(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    transform: Callable[[Frame], Frame] | None = None,
) -> Video:
    """Decode all frames of a video file (mp4, avi, mov, ... whatever FFmpeg reads) as RGB uint8.

    With ``fps``, frames are resampled by sample-and-hold on their timestamps: output frame ``k`` is the last
    decoded frame shown at or before ``k / fps`` (frames are dropped or repeated). ``transform`` maps each kept
    frame right after decoding (e.g. a :class:`FaceCropper`), so only the small crops are held in memory.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be decoded, has no video stream or no frame, or ``fps <= 0``.
    """
    path = Path(path)
    if fps is not None and not fps > 0:
        raise ValueError(f"fps: expected a positive frame rate, got {fps}")
    transform = transform or (lambda frame: frame)
    with _open_container(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            source_fps = float(rate)
        else:
            source_fps = 25.0
            warnings.warn(f"{path}: the frame rate is unknown; assuming {source_fps} fps", stacklevel=2)
        out_fps = source_fps if fps is None else float(fps)
        if fps is None:
            frames = [transform(frame) for _, frame in _decoded_frames(container, path)]
        else:
            frames = _resample(_decoded_frames(container, path), source_fps, out_fps, transform)
    if not frames:
        raise ValueError(f"cannot read video {path}: no frame could be decoded")
    return Video(np.stack(frames), out_fps, source_fps)


def _resample(
    decoded: Iterator[tuple[float | None, Frame]], source_fps: float, fps: float, transform: Callable[[Frame], Frame]
) -> list[Frame]:
    """Sample-and-hold: output slot ``k`` (time ``k / fps``) shows the last frame with timestamp ``<= k / fps``."""
    out: list[Frame] = []
    held: tuple[float, Frame] | None = None  # the latest decoded frame, shown until the next one starts

    def emit_until(time: float) -> None:
        while len(out) / fps < time - 1e-9:
            out.append(transform(held[1]))

    start = None
    for index, (time, frame) in enumerate(decoded):
        time = index / source_fps if time is None else time
        start = time if start is None else start
        if held is not None:
            emit_until(time - start)
        held = (time - start, frame)
    if held is not None:  # the last frame stays on screen for one source frame period
        emit_until(held[0] + 1 / source_fps)
    return out


class _Box(NamedTuple):
    x: int
    y: int
    w: int
    h: int


class FaceCropper:
    """Crop the face of each frame to a ``size x size`` square (OpenCV Haar cascade, offline).

    Faces are searched on every ``detect_every``-th frame (on a copy scaled to at most 320 px); the largest
    one wins. A box stays in use for ``max(hold, detect_every - 1)`` frames after the frame it was found on, so a
    missed detection does not make the crop jump. Its square side is ``(1 + 2 margin) * max(w, h)``, centred
    on the box and moved inside the frame. Frames without a box get a centre crop (the largest centred square);
    the counters ``frames_with_face`` and ``fallback_frames`` say how often each happened.

    Args:
        size: side of the output crops (the model's input size).
        margin: enlargement of the detected box on each side, as a fraction of its side.
        detect_every: run the detector on every k-th frame only (speed); boxes are held in between.
        hold: frames a box is kept after its detection when later detections miss.
        detect: ``False`` gives centre crops only (``--no-face-detect``).

    Shape:
        - frame: ``(h, w, 3)`` uint8 RGB -> ``(size, size, 3)`` uint8 RGB
    """

    def __init__(
        self, size: int = 224, *, margin: float = 0.25, detect_every: int = 1, hold: int = 5, detect: bool = True
    ) -> None:
        if size < 1:
            raise ValueError(f"size: expected a positive crop size, got {size}")
        if margin < 0:
            raise ValueError(f"margin: expected a margin >= 0, got {margin}")
        if detect_every < 1 or hold < 0:
            raise ValueError(f"detect_every, hold: expected >= 1 and >= 0, got {detect_every} and {hold}")
        self.size, self.margin, self.detect_every, self.hold = size, margin, detect_every, hold
        self.cv2 = optional_import("cv2", extra="video", package="opencv-python-headless")
        self.cascade = self._load_cascade() if detect else None
        self.frames_with_face = self.fallback_frames = 0
        self._index, self._box, self._box_index = 0, None, -1

    def _load_cascade(self):
        cv2 = self.cv2
        cascade_file = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / (
            "haarcascade_frontalface_default.xml"
        )
        if not hasattr(cv2, "CascadeClassifier") or not cascade_file.is_file():
            warnings.warn(
                f"OpenCV {cv2.__version__} ships no Haar face cascade (OpenCV 5 dropped it): every frame gets a centre "
                "crop. Run pip install 'opencv-python-headless>=4.8,<5' for face detection.",
                stacklevel=3,
            )
            return None
        cascade = cv2.CascadeClassifier(str(cascade_file))
        if cascade.empty():
            raise ValueError(f"cannot load the Haar cascade {cascade_file}")
        return cascade

    @property
    def detects(self) -> bool:
        """Whether a face detector is in use (``False`` with ``detect=False`` or without Haar cascades)."""
        return self.cascade is not None

    def detect_face(self, frame: Frame) -> _Box | None:
        """The largest face box ``(x, y, w, h)`` in full-frame pixels, or ``None``."""
        cv2 = self.cv2
        height, width = frame.shape[:2]
        scale = min(1.0, 320 / max(height, width))
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(20, round(0.1 * min(gray.shape)))
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        if len(boxes) == 0:
            return None
        x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
        return _Box(*(round(v / scale) for v in (x, y, w, h)))

    def square(self, box: _Box | None, height: int, width: int) -> tuple[int, int, int]:
        """Top-left corner and side ``(x0, y0, side)`` of the crop for ``box`` (centre crop for ``None``)."""
        limit = min(height, width)
        if box is None:
            return (width - limit) // 2, (height - limit) // 2, limit
        side = min(limit, max(1, round(max(box.w, box.h) * (1 + 2 * self.margin))))
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        x0 = min(max(0, round(cx - side / 2)), width - side)
        y0 = min(max(0, round(cy - side / 2)), height - side)
        return x0, y0, side

    def __call__(self, frame: Frame) -> Frame:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected (h, w, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        if self.detects and self._index % self.detect_every == 0:
            found = self.detect_face(frame)
            if found is not None:
                self._box, self._box_index = found, self._index
        if self._box is not None and self._index - self._box_index > max(self.hold, self.detect_every - 1):
            self._box = None
        self._index += 1
        if self._box is None:
            self.fallback_frames += 1
        else:
            self.frames_with_face += 1
        x0, y0, side = self.square(self._box, *frame.shape[:2])
        crop = frame[y0 : y0 + side, x0 : x0 + side]
        interpolation = self.cv2.INTER_AREA if side > self.size else self.cv2.INTER_LINEAR
        return self.cv2.resize(crop, (self.size, self.size), interpolation=interpolation)


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
    if window < 1 or stride < 1:
        raise ValueError(f"window, stride: expected sizes >= 1, got window={window}, stride={stride}")
    if num_frames < window:
        raise ValueError(f"the video has {num_frames} frames, fewer than one window of {window} frames")
    windows = [(start, start + window) for start in range(0, num_frames - window + 1, stride)]
    if windows[-1][1] != num_frames:
        windows.append((num_frames - window, num_frames))
    return windows


def frames_to_clip(frames: np.ndarray) -> Tensor:
    """uint8 RGB frames to a float clip normalised with the ImageNet mean and std (as the datasets do).

    Shape:
        - frames: ``(t, h, w, 3)`` uint8 -> ``(3, t, h, w)`` float32

    Examples:
        >>> frames_to_clip(np.zeros((4, 8, 8, 3), np.uint8)).shape
        torch.Size([3, 4, 8, 8])
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (t, h, w, 3), got {frames.shape}")
    clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    return (clip - mean) / std


def clip_to_frames(clip: Tensor) -> np.ndarray:
    """Inverse of :func:`frames_to_clip`: an ImageNet-normalised clip back to uint8 RGB frames (for plots).

    Shape:
        - clip: ``(3, t, h, w)`` float -> ``(t, h, w, 3)`` uint8

    Examples:
        >>> frames = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
        >>> bool((clip_to_frames(frames_to_clip(frames)) == frames).all())
        True
    """
    if not isinstance(clip, Tensor) or clip.ndim != 4 or clip.shape[0] != 3:
        raise ValueError(f"clip: expected a tensor of shape (3, t, h, w), got {getattr(clip, 'shape', type(clip))}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    frames = (clip.detach().float().cpu() * std + mean).mul(255).round().clamp(0, 255).to(torch.uint8)
    return frames.permute(1, 2, 3, 0).numpy()


def read_faces(
    path: str | os.PathLike, size: int, *, fps: float | None = None, face_detect: bool = True, detect_every: int = 1
) -> tuple[Video, FaceCropper]:
    """Decode a video with :func:`read_video` and crop every frame's face with a :class:`FaceCropper`.

    Warns when the detector found no face on some frames (they got a centre crop); the cropper's counters
    ``frames_with_face`` and ``fallback_frames`` say how many.

    Shape:
        - frames of the returned :class:`Video`: ``(n, size, size, 3)`` uint8 RGB
    """
    cropper = FaceCropper(size, detect=face_detect, detect_every=detect_every)
    video = read_video(path, fps=fps, transform=cropper)
    if cropper.detects and cropper.fallback_frames:
        warnings.warn(
            f"{path}: no face found on {cropper.fallback_frames} of {len(video.frames)} frames; "
            "those frames use a centre crop",
            stacklevel=2,
        )
    return video, cropper


def predict_video(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    num_frames: int,
    input_size: int,
    class_names: Sequence[str],
    stride: int | None = None,
    fps: float | None = None,
    face_detect: bool = True,
    detect_every: int = 1,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
) -> dict:
    """Class probabilities of a video, window by window (what ``lifting-dfer predict`` writes as JSON).

    The video is decoded (and resampled to ``fps``), each frame's face is cropped to ``input_size`` by a
    :class:`FaceCropper` (detector run on every ``detect_every``-th frame), and windows of ``num_frames``
    consecutive frames, ``stride`` apart (default ``num_frames // 2``), go through ``model`` in eval mode;
    ``softmax(logits)`` are the probabilities.
    The crops of the whole video are held in memory (``n * input_size**2 * 3`` bytes: 2.7 GB for ten minutes
    at 30 fps and 224 px; resampling with ``fps`` shrinks it).

    Returns:
        ``{"video", "fps", "num_frames", "window", "stride", "class_names", "windows": [{"start_frame",
        "end_frame", "start_time", "end_time", "probabilities": {name: p}, "top"}], "face_detection":
        {"frames_with_face", "fallback_frames"}}``; ``end_frame`` is exclusive, times are in seconds.

    Raises:
        FileNotFoundError, ValueError: see :func:`read_video` and :func:`sliding_windows`.
    """
    stride = max(1, num_frames // 2) if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride: expected a positive number of frames, got {stride}")
    video, cropper = read_faces(path, input_size, fps=fps, face_detect=face_detect, detect_every=detect_every)
    windows = sliding_windows(len(video.frames), num_frames, stride)
    model = model.to(device).eval()
    probabilities = []
    with torch.inference_mode():
        for first in range(0, len(windows), batch_size):
            batch = torch.stack([frames_to_clip(video.frames[s:e]) for s, e in windows[first : first + batch_size]])
            output = model(batch.to(device))
            logits = getattr(output, "logits", output)
            probabilities.append(logits.float().softmax(dim=-1).cpu())
    probabilities = torch.cat(probabilities).tolist()
    if len(probabilities[0]) != len(class_names):
        raise ValueError(f"the model gives {len(probabilities[0])} classes but {len(class_names)} class names")
    return {
        "video": str(path),
        "fps": video.fps,
        "num_frames": len(video.frames),
        "window": num_frames,
        "stride": stride,
        "class_names": list(class_names),
        "windows": [
            {
                "start_frame": start,
                "end_frame": end,
                "start_time": start / video.fps,
                "end_time": end / video.fps,
                "probabilities": dict(zip(class_names, p)),
                "top": class_names[int(np.argmax(p))],
            }
            for (start, end), p in zip(windows, probabilities)
        ],
        "face_detection": {"frames_with_face": cropper.frames_with_face, "fallback_frames": cropper.fallback_frames},
    }
