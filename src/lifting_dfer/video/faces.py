"""Face cropping with OpenCV's Haar cascade (offline), on a downscaled copy of each frame, box smoothed over time.

Haar cascades ship inside ``opencv-python-headless`` 4.x (``cv2.data.haarcascades``); OpenCV 5 dropped
``cv2.CascadeClassifier`` from the main wheels, and with it [`FaceCropper`][lifting_dfer.video.FaceCropper] falls back
to centre crops (with a warning), as it does on frames where no face is found.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._optional import optional_import
from .decode import Frame, Video, read_video

__all__ = ["FaceCropper", "read_faces"]


class _Box(NamedTuple):
    x: int
    y: int
    w: int
    h: int


def _iou(a: _Box, b: _Box) -> float:
    w = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    h = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = w * h
    return inter / max(1, a.w * a.h + b.w * b.h - inter)


class FaceCropper:
    """Crop the face of each frame to a ``size x size`` square (OpenCV Haar cascade, offline).

    Faces are searched on every ``detect_every``-th frame, on a grey copy scaled to at most ``detect_size`` px
    (boxes are scaled back to full-frame pixels); the largest one wins. A new box that overlaps the current one
    (IoU >= 0.3, the same face) moves it only part of the way, ``box += (1 - smoothing) * (new - box)``, so the
    crop does not jitter from one detection to the next; a box elsewhere (a cut, another face) replaces it at once.
    A box stays in use until the next detection and ``hold`` frames beyond it (``detect_every - 1 + hold`` frames
    after the frame it was found on), so a missed detection does not make the crop jump. Its square side is
    ``(1 + 2 margin) * max(w, h)``, centred on the box and moved inside the frame. Frames without a box get a centre
    crop (the largest centred square); the counters ``frames_with_face`` and ``fallback_frames`` say how often each
    happened.

    Args:
        size: side of the output crops (the model's input size).
        margin: enlargement of the detected box on each side, as a fraction of its side.
        detect_every: run the detector on every k-th frame only (speed); boxes are held in between.
        hold: frames a box is kept after a detection that misses (beyond the ``detect_every - 1`` frames between
            detections).
        detect: ``False`` gives centre crops only (``--no-face-detect``).
        detect_size: longest side of the copy the detector searches (smaller is faster, misses small faces).
        smoothing: weight of the current box when a detection of the same face updates it, in ``[0, 1)``.

    Shape:
        - frame: ``(h, w, 3)`` uint8 RGB -> ``(size, size, 3)`` uint8 RGB
    """

    def __init__(
        self,
        size: int = 224,
        *,
        margin: float = 0.25,
        detect_every: int = 1,
        hold: int = 5,
        detect: bool = True,
        detect_size: int = 320,
        smoothing: float = 0.5,
    ) -> None:
        if size < 1:
            raise ValueError(f"size: expected a positive crop size, got {size}")
        if margin < 0:
            raise ValueError(f"margin: expected a margin >= 0, got {margin}")
        if detect_every < 1 or hold < 0:
            raise ValueError(f"detect_every, hold: expected >= 1 and >= 0, got {detect_every} and {hold}")
        if detect_size < 32:
            raise ValueError(f"detect_size: expected at least 32 px, got {detect_size}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing: expected a weight in [0, 1), got {smoothing}")
        self.size, self.margin, self.detect_every, self.hold = size, margin, detect_every, hold
        self.detect_size, self.smoothing = detect_size, smoothing
        self.cv2 = optional_import("cv2", extra="video", package="opencv-python-headless")
        self.cascade = self._load_cascade() if detect else None
        self.frames_with_face = self.fallback_frames = 0
        self._index, self._box_index = 0, -1
        self._box: _Box | None = None

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
        """The largest face box ``(x, y, w, h)`` in full-frame pixels, or ``None`` (also without a detector)."""
        if self.cascade is None:  # detect=False
            return None
        cv2 = self.cv2
        height, width = frame.shape[:2]
        scale = min(1.0, self.detect_size / max(height, width))
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

    def _update(self, found: _Box) -> _Box:
        """The held box moved towards ``found`` (same face), or ``found`` itself (another place)."""
        box = self._box
        if box is None or self.smoothing == 0 or _iou(box, found) < 0.3:
            return found
        keep = self.smoothing
        return _Box(*(round(keep * old + (1 - keep) * new) for old, new in zip(box, found)))

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
                self._box, self._box_index = self._update(found), self._index
        if self._box is not None and self._index - self._box_index > self.detect_every - 1 + self.hold:
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


def read_faces(
    path: str | os.PathLike, size: int, *, fps: float | None = None, face_detect: bool = True, detect_every: int = 1
) -> tuple[Video, FaceCropper]:
    """Decode a video with [`read_video`][lifting_dfer.video.read_video] and crop every frame's face with a
    [`FaceCropper`][lifting_dfer.video.FaceCropper].

    Holds every crop in memory (for a window or a short clip: ``explain``); ``predict`` streams instead.
    Warns when the detector found no face on some frames (they got a centre crop); the cropper's counters
    ``frames_with_face`` and ``fallback_frames`` say how many.

    Shape:
        - frames of the returned [`Video`][lifting_dfer.video.Video]: ``(n, size, size, 3)`` uint8 RGB
    """
    cropper = FaceCropper(size, detect=face_detect, detect_every=detect_every)
    video = read_video(path, fps=fps, transform=cropper)
    warn_missing_faces(path, cropper)
    return video, cropper


def warn_missing_faces(path: str | os.PathLike, cropper: FaceCropper) -> None:
    """Warn when the detector found no face on some frames (they got a centre crop)."""
    if cropper.detects and cropper.fallback_frames:
        total = cropper.fallback_frames + cropper.frames_with_face
        warnings.warn(
            f"{path}: no face found on {cropper.fallback_frames} of {total} frames; those frames use a centre crop",
            stacklevel=3,
        )
