"""Synthetic face videos sorted by label: raw input for ``lifting-dfer prepare`` in tests, docs and benchmarks.

Each video shows a drawn frontal face (one that OpenCV's Haar cascade finds) whose expression changes over the
clip; the *class is the change*, so no single frame tells it:

| label    | over the clip                          |
|----------|----------------------------------------|
| smile    | the mouth corners rise                 |
| frown    | the mouth corners sink, the brows lower |
| surprise | the mouth opens, the brows rise        |
| neutral  | nothing changes                        |

Per video, the face's place, size, drift, skin tone, the background and the pace are drawn from a NumPy
generator seeded with ``seed``, and every frame gets pixel noise: the same arguments write the same frames.
[`make_face_videos`][lifting_dfer.data.make_face_videos] writes ``root/<label>/<label>_NN.mp4`` (MPEG-4 Part 2 in
MP4, which every FFmpeg build decodes), plus videos of a landscape without any face
([`landscape_frames`][lifting_dfer.data.synthetic_videos.landscape_frames]) that ``prepare`` must leave out.
Needs the ``video`` extra (PyAV, OpenCV).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._optional import optional_import

__all__ = ["EXPRESSIONS", "face_frames", "landscape_frames", "make_face_videos", "write_video"]

EXPRESSIONS = {
    "smile": "the mouth corners rise",
    "frown": "the mouth corners sink, the brows lower",
    "surprise": "the mouth opens, the brows rise",
    "neutral": "nothing changes",
}
"""What the face of each synthetic label does over the clip."""

# (mouth curve, mouth opening, brow lift) at the end of the clip; every expression starts at (0, 0, 0).
_TARGETS = {"smile": (1.6, 0.0, 0.0), "frown": (-1.4, 0.0, -0.8), "surprise": (0.0, 1.2, 1.0), "neutral": (0, 0, 0)}


def _cv2():
    return optional_import("cv2", extra="video", package="opencv-python-headless")


def _draw_face(img: np.ndarray, cx: float, cy: float, s: float, skin: tuple, curve: float, opening: float, brow: float):
    cv2 = _cv2()
    cx, cy = round(cx), round(cy)
    cv2.ellipse(img, (cx, cy), (round(s * 0.42), round(s * 0.55)), 0, 0, 360, skin, -1)
    for side in (-1, 1):
        eye = (cx + round(side * s * 0.17), cy - round(s * 0.12))
        cv2.ellipse(img, eye, (round(s * 0.09), round(s * 0.045)), 0, 0, 360, (30, 30, 30), -1)
        lift = brow * s * 0.08
        inner = (cx + round(side * s * 0.08), cy - round(s * 0.23 + lift))
        outer = (cx + round(side * s * 0.27), cy - round(s * 0.24 + lift))
        cv2.line(img, inner, outer, (40, 40, 40), max(1, round(s * 0.03)))
    cv2.line(img, (cx, cy - round(s * 0.05)), (cx, cy + round(s * 0.12)), (120, 110, 100), max(1, round(s * 0.03)))
    # the mouth: upper and lower lips as parabolas through the corners; curve > 0 lifts the corners
    x = np.linspace(-1.0, 1.0, 21)
    mouth_y = cy + s * 0.25 - curve * s * 0.08 * x**2
    upper = np.stack([cx + x * s * 0.15, mouth_y - opening * s * 0.06 * (1 - x**2)], 1)
    lower = np.stack([cx + x * s * 0.15, mouth_y + (opening * s * 0.06 + s * 0.03) * (1 - x**2)], 1)
    cv2.fillPoly(img, [np.concatenate([upper, lower[::-1]]).round().astype(np.int32)], (70, 35, 35))


def face_frames(label: str, num_frames: int, height: int, width: int, *, rng: np.random.Generator) -> np.ndarray:
    """Frames of one synthetic face video of ``label`` (see ``EXPRESSIONS``).

    Shape:
        returns ``(num_frames, height, width, 3)`` uint8 RGB.

    Examples:
        >>> face_frames("smile", 3, 60, 80, rng=np.random.default_rng(0)).shape
        (3, 60, 80, 3)
    """
    if label not in _TARGETS:
        raise ValueError(f"label: expected one of {', '.join(_TARGETS)}, got {label!r}")
    if num_frames < 1 or min(height, width) < 48:
        raise ValueError(
            f"expected num_frames >= 1 and frames of at least 48 x 48, got {num_frames}, {height} x {width}"
        )
    side = min(height, width)
    s = side * rng.uniform(0.45, 0.6)
    cx0, cy0 = width / 2 + rng.uniform(-0.15, 0.15) * width, height / 2 + rng.uniform(-0.08, 0.08) * height
    drift = rng.uniform(-0.04, 0.04, size=2) * side
    skin = tuple(int(v) for v in rng.integers(150, 225, size=3))
    background = int(rng.integers(50, 130))
    onset, pace = rng.uniform(0.0, 0.3), rng.uniform(0.5, 0.7)  # the change starts at `onset`, lasts `pace` of the clip
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        u = i / max(1, num_frames - 1)
        amount = float(np.clip((u - onset) / pace, 0.0, 1.0))
        curve, opening, brow = (amount * v for v in _TARGETS[label])
        img = np.full((height, width, 3), background, np.uint8)
        _draw_face(img, cx0 + drift[0] * u, cy0 + drift[1] * u, s, skin, curve, opening, brow)
        noise = rng.normal(0.0, 4.0, img.shape)
        frames[i] = np.clip(img + noise, 0, 255).astype(np.uint8)
    return frames


def landscape_frames(num_frames: int, height: int, width: int, *, rng: np.random.Generator) -> np.ndarray:
    """Frames of a video without a face: sky, hills and a sun that crosses the sky.

    Shape:
        returns ``(num_frames, height, width, 3)`` uint8 RGB.
    """
    cv2 = _cv2()
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    sky = (np.array([90, 140, 220]) * (1 - rows) + np.array([200, 220, 240]) * rows).astype(np.float64)
    base = np.broadcast_to(sky, (height, width, 3)).copy()
    xs = np.arange(width)
    phase = rng.uniform(0, 2 * np.pi)
    ridge = (0.65 + 0.08 * np.sin(xs / width * 2 * np.pi * 1.5 + phase)) * height
    base[np.arange(height)[:, None] > ridge[None, :]] = (60, 110, 50)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        img = base.copy()
        u = i / max(1, num_frames - 1)
        cv2.circle(
            img, (round(width * (0.1 + 0.8 * u)), round(height * 0.2)), max(3, height // 12), (250, 230, 120), -1
        )
        frames[i] = np.clip(img + rng.normal(0.0, 3.0, img.shape), 0, 255).astype(np.uint8)
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, *, fps: float = 25.0) -> Path:
    """Write uint8 RGB frames ``(n, h, w, 3)`` as an MPEG-4 video (PyAV); returns ``path``."""
    av = optional_import("av", extra="video")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=round(fps))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path


def make_face_videos(
    root: str | os.PathLike,
    *,
    labels: Sequence[str] = ("smile", "frown"),
    videos_per_label: int = 6,
    seconds: float = 2.0,
    fps: int = 25,
    height: int = 240,
    width: int = 320,
    faceless: int = 1,
    seed: int = 0,
) -> list[Path]:
    """Write ``root/<label>/<label>_NN.mp4`` for each label (see the module docstring) and ``faceless`` landscape
    videos ``root/<first label>/landscape_NN.mp4``; returns the paths written, faces first.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     paths = make_face_videos(root, videos_per_label=1, seconds=0.2, height=60, width=80)
        ...     [p.relative_to(root).as_posix() for p in paths]
        ['smile/smile_00.mp4', 'frown/frown_00.mp4', 'smile/landscape_00.mp4']
    """
    unknown = [label for label in labels if label not in _TARGETS]
    if unknown or not labels:
        raise ValueError(f"labels: expected names among {', '.join(_TARGETS)}, got {list(labels)}")
    if videos_per_label < 1 or faceless < 0 or seconds <= 0 or fps < 1:
        raise ValueError("expected videos_per_label >= 1, faceless >= 0, seconds > 0 and fps >= 1")
    root = Path(root)
    rng = np.random.default_rng(seed)
    num_frames = max(1, round(seconds * fps))
    paths = []
    for label in labels:
        for k in range(videos_per_label):
            frames = face_frames(label, num_frames, height, width, rng=rng)
            paths.append(write_video(root / label / f"{label}_{k:02d}.mp4", frames, fps=fps))
    for k in range(faceless):
        frames = landscape_frames(num_frames, height, width, rng=rng)
        paths.append(write_video(root / labels[0] / f"landscape_{k:02d}.mp4", frames, fps=fps))
    return paths
