"""MAFW: 11 single-label classes, 5 official folds, frames extracted per clip.

Expected layout (``root`` is the ``MAFW`` folder; see docs/datasets.md):

    root/data/frames/00025/*.png                  integer-named frames, any size (resized)
    root/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/

Split files: no header, one clip per line, the video file name and the lower-case emotion name separated by a
space (e.g. ``00025.mp4 anger``); the video extension is dropped for the frame folder. Class indices 0..10:
anger, disgust, fear, happiness, neutral, sadness, surprise, contempt, anxiety, helplessness, disappointment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ._io import (
    AnnotationRow,
    check_fold,
    check_split,
    clip_folders,
    first_existing,
    numbered_lines,
    require_dir,
)
from .clips import ClipDataset, ClipTransformFn

__all__ = ["MAFW", "MAFW_CLASSES", "read_mafw_split"]

MAFW_CLASSES = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
    "contempt",
    "anxiety",
    "helplessness",
    "disappointment",
)
"""MAFW's 11 single-label classes in label order (the names used in its split files)."""

_VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


def read_mafw_split(path: str | os.PathLike) -> list[AnnotationRow]:
    """Parse a MAFW split file into rows ``(clip folder name, 0-based label, line)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a row without a clip name and an emotion, or an unknown emotion, naming ``file:line``.
    """
    lookup = {n: i for i, n in enumerate(MAFW_CLASSES)}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MAFW split file {path} does not exist")
    rows = []
    for number, text in numbered_lines(path):
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected '<clip>.mp4 <emotion>', got {text!r}")
        name, label = parts
        if name.lower().endswith(_VIDEO_EXTENSIONS):
            name = name[: name.rfind(".")]
        if label.lower() not in lookup:
            raise ValueError(
                f"{path}:{number}: unknown emotion {label!r}; MAFW has {len(MAFW_CLASSES)} single-label classes: "
                f"{', '.join(MAFW_CLASSES)}"
            )
        rows.append(AnnotationRow(name, lookup[label.lower()], number))
    if not rows:
        raise ValueError(f"MAFW split file {path} lists no clips")
    return rows


class MAFW(ClipDataset):
    """MAFW fold ``fold`` (1..5), ``split`` "train" or "test" (single-label, no-caption protocol).

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)``.

    Args:
        root: the MAFW folder (holding ``data/frames/`` and ``Train & Test Set/``).
        fold: official fold, 1..5.
        split: "train" or "test".
        num_frames: frames per clip (32 in the paper for MAFW).
        size: output side (224 in the paper).
        train: augmentation and random temporal offsets; defaults to ``split == "train"``.
        frames_dir: frame root under ``root`` (or absolute).
        split_dir: folder holding ``set_1/`` ... ``set_5/``; default ``root/Train & Test Set/single/no_caption``.
        split_file: explicit split file, overriding the ``split_dir``/``fold``/``split`` lookup.
        on_corrupt, transform, seed: see :class:`~lifting_dfer.data.clips.ClipDataset`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fold: int = 1,
        split: Literal["train", "test"] = "train",
        num_frames: int = 32,
        size: int = 224,
        train: bool | None = None,
        frames_dir: str | os.PathLike = "data/frames",
        split_dir: str | os.PathLike | None = None,
        split_file: str | os.PathLike | None = None,
        on_corrupt: Literal["raise", "skip"] = "raise",
        transform: ClipTransformFn | None = None,
        seed: int | None = None,
    ) -> None:
        root = require_dir(root, "MAFW root")
        check_split(split)
        check_fold(fold)
        if split_file is None:
            base = Path(split_dir) if split_dir is not None else root / "Train & Test Set" / "single" / "no_caption"
            candidates = [base / f"set_{fold}" / f"{split}.txt"]
            split_file = first_existing(candidates, f"MAFW {split} split file of fold {fold}")
        split_file = Path(split_file)
        frames_root = require_dir(frames_dir if Path(frames_dir).is_absolute() else root / frames_dir, "MAFW frames")
        rows = read_mafw_split(split_file)
        self.root = root
        self.fold = fold
        self.split = split
        self.split_file = split_file
        super().__init__(
            clip_folders(rows, frames_root, split_file),
            [row.label for row in rows],
            MAFW_CLASSES,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
        )
