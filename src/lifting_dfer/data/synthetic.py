"""A small, learnable stand-in for DFEW, written in exactly the DFEW layout (frames + 5-fold split CSVs).

Every clip shows a bright Gaussian blob on a noisy grey background; the *class is its temporal dynamics*,
so no single frame identifies it reliably and the clips stay learnable under horizontal flips and crops:

| index | class    | dynamics over the clip                 |
|-------|----------|----------------------------------------|
| 0     | Happy    | blob rises (moves up)                  |
| 1     | Sad      | blob sinks (moves down)                |
| 2     | Neutral  | blob still, constant size and brightness |
| 3     | Angry    | blob shrinks                           |
| 4     | Surprise | blob grows                             |
| 5     | Disgust  | blob shakes left-right (two periods)   |
| 6     | Fear     | blob brightens from faint to bright    |

Per-clip jitter (position, size, speed, background, colour tint) and per-pixel noise are drawn from a
``torch.Generator`` seeded with ``seed``: the same arguments always write the same files. Clip lengths vary
in ``num_frames`` (inclusive), so clips shorter than 16 exercise repetition padding.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import torch
from torch import Tensor
from torchvision.io import encode_jpeg, write_file

from .dfew import DFEW_CLASSES

__all__ = ["SYNTHETIC_DYNAMICS", "make_synthetic_dfew", "synthetic_clip"]

SYNTHETIC_DYNAMICS = {
    "Happy": "rises",
    "Sad": "sinks",
    "Neutral": "still",
    "Angry": "shrinks",
    "Surprise": "grows",
    "Disgust": "shakes left-right",
    "Fear": "brightens",
}
"""What the blob of each synthetic class does over the clip (the class is in the motion, not in one frame)."""

_MARKER = "synthetic_dfew.json"


def synthetic_clip(label: int, num_frames: int, size: int, *, generator: torch.Generator) -> Tensor:
    """Render one clip of class ``label`` (DFEW order) as uint8 frames.

    Shape:
        returns ``(t, 3, size, size)`` uint8 with ``t = num_frames``.

    Examples:
        >>> synthetic_clip(0, 4, 8, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 8, 8])
    """
    if not 0 <= label < len(DFEW_CLASSES):
        raise ValueError(f"label: expected a class index in [0, {len(DFEW_CLASSES)}), got {label}")
    if num_frames < 2 or size < 4:
        raise ValueError(f"num_frames, size: expected at least 2 frames of 4x4, got {num_frames}, {size}")
    g = generator
    u = torch.rand(8, generator=g, dtype=torch.float64).tolist()
    p = torch.linspace(0.0, 1.0, num_frames, dtype=torch.float64)
    p = p.pow(0.8 + 0.4 * u[0])  # speed profile jitter
    cx = torch.full_like(p, 0.5 + 0.12 * (u[1] - 0.5))
    cy = torch.full_like(p, 0.5 + 0.12 * (u[2] - 0.5))
    radius = torch.full_like(p, 0.16 + 0.04 * (u[3] - 0.5))
    amp = torch.full_like(p, 0.45 + 0.1 * (u[4] - 0.5))
    name = DFEW_CLASSES[label]
    if name == "Happy":
        cy = cy + 0.25 - 0.5 * p
    elif name == "Sad":
        cy = cy - 0.25 + 0.5 * p
    elif name == "Angry":
        radius = 0.28 - 0.18 * p
    elif name == "Surprise":
        radius = 0.10 + 0.18 * p
    elif name == "Disgust":
        cx = cx + 0.22 * torch.sin(2 * math.pi * (2 * p + u[5]))
    elif name == "Fear":
        amp = 0.05 + 0.55 * p
    background = 0.3 + 0.2 * u[6]
    tint = (0.8 + 0.2 * torch.rand(3, generator=g)).view(3, 1, 1)

    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    shade = (background + 0.08 * (coords - 0.5)).view(1, size, 1)  # faint vertical gradient
    frames = torch.empty(num_frames, 3, size, size, dtype=torch.uint8)
    for i in range(num_frames):  # frame by frame: small tensors stay fast on a busy CPU
        r2 = 2 * float(radius[i]) ** 2
        gy = torch.exp(-((coords - float(cy[i])) ** 2) / r2)
        gx = torch.exp(-((coords - float(cx[i])) ** 2) / r2)
        blob = float(amp[i]) * torch.outer(gy, gx)  # separable Gaussian (h, w)
        frame = shade + blob * tint + 0.04 * torch.randn(3, size, size, generator=g)
        frames[i] = frame.clamp_(0, 1).mul_(255).add_(0.5).to(torch.uint8)  # round half up (x >= 0)
    return frames


def make_synthetic_dfew(
    root: str | os.PathLike,
    *,
    clips_per_class: int = 12,
    num_frames: tuple[int, int] = (12, 24),
    size: int = 64,
    num_folds: int = 5,
    seed: int = 0,
    quality: int = 90,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic DFEW (7 classes) under ``root`` and return ``root``; readable with ``DFEW(root, ...)``.

    Writes ``root/Clip/clip_224x224/<5-digit id>/<id>_<5-digit frame>.jpg`` and
    ``root/EmoLabel_DataSplit/{train,test}(single-labeled)/set_<fold>.csv`` (header ``video_name,label``, 1-based
    labels). Fold ``f``'s test set holds every ``num_folds``-th clip of each class, so each fold is stratified.
    If ``root`` already holds a synthetic DFEW written with the same arguments nothing is rewritten; one whose
    writing was interrupted is written again.

    Args:
        root: output folder (created).
        clips_per_class: clips of each of the 7 classes.
        num_frames: inclusive range of clip lengths.
        size: frame side in pixels.
        num_folds: folds (5 as in DFEW); needs ``clips_per_class >= num_folds``.
        seed: the generator seed; the same arguments give identical files.
        quality: JPEG quality.
        overwrite: replace an existing synthetic dataset written with other arguments.

    Raises:
        FileExistsError: ``root`` holds a DFEW layout written otherwise and ``overwrite`` is false.
    """
    lo, hi = num_frames
    if not 2 <= lo <= hi:
        raise ValueError(f"num_frames: expected a range (low, high) with 2 <= low <= high, got {num_frames}")
    if not 2 <= num_folds <= clips_per_class:
        raise ValueError(f"num_folds: expected 2 <= num_folds <= clips_per_class, got {num_folds}, {clips_per_class}")
    root = Path(root)
    settings = {
        "format": "lifting_dfer synthetic DFEW/1",
        "clips_per_class": clips_per_class,
        "num_frames": [lo, hi],
        "size": size,
        "num_folds": num_folds,
        "seed": seed,
        "quality": quality,
    }
    marker = root / _MARKER
    clip_root = root / "Clip" / "clip_224x224"
    split_root = root / "EmoLabel_DataSplit"
    previous = _read_marker(marker)
    if previous == settings:
        return root
    if clip_root.exists() or split_root.exists():
        interrupted = previous is not None and previous.get("complete") is False
        if not (overwrite or interrupted):
            raise FileExistsError(
                f"{root} already holds a DFEW layout written with other settings; pass overwrite=True to replace it"
            )
        shutil.rmtree(clip_root, ignore_errors=True)
        shutil.rmtree(split_root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**settings, "complete": False}, indent=2) + "\n")  # an interrupted write is redone

    g = torch.Generator().manual_seed(seed)
    k = len(DFEW_CLASSES)
    labels = [y for y in range(k) for _ in range(clips_per_class)]
    order = torch.randperm(len(labels), generator=g).tolist()  # clip ids in shuffled class order
    folds: dict[int, int] = {}  # clip id -> test fold
    seen = [0] * k
    rows = []
    for clip_id, j in enumerate(order, start=1):
        y = labels[j]
        folds[clip_id] = seen[y] % num_folds + 1
        seen[y] += 1
        t = int(torch.randint(lo, hi + 1, (1,), generator=g))
        frames = synthetic_clip(y, t, size, generator=g)
        folder = clip_root / f"{clip_id:05d}"
        folder.mkdir(parents=True)
        for f, data in enumerate(encode_jpeg(list(frames), quality=quality), start=1):
            write_file(str(folder / f"{clip_id:05d}_{f:05d}.jpg"), data)
        rows.append((clip_id, y + 1))

    for split in ("train", "test"):
        folder = split_root / f"{split}(single-labeled)"
        folder.mkdir(parents=True)
        for fold in range(1, num_folds + 1):
            keep = [(c, y) for c, y in rows if (folds[c] == fold) == (split == "test")]
            lines = ["video_name,label"] + [f"{c},{y}" for c, y in keep]
            (folder / f"set_{fold}.csv").write_text("\n".join(lines) + "\n")
    marker.write_text(json.dumps(settings, indent=2) + "\n")
    return root


def _read_marker(marker: Path) -> dict | None:
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
