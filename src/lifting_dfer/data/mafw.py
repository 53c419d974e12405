"""MAFW: 11 single-label classes, 5 official folds, frames extracted per clip.

Expected layout (``root`` is the ``MAFW`` folder; see docs/datasets.md):

    root/data/frames/00025/*.png                  integer-named frames, any size (resized)
    root/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/

Split files: no header, one clip per line, the video file name and the lower-case emotion name separated by
spaces or a comma (e.g. ``00025.mp4 anger``); the video extension is dropped for the frame folder. Class indices 0..10:
anger, disgust, fear, happiness, neutral, sadness, surprise, contempt, anxiety, helplessness, disappointment.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, Issue, SplitRows, numbered_lines, require_dir, split_fields
from .clips import ClipDataset, ClipOutput, ClipTransformFn
from .layout import DatasetLayout

__all__ = ["MAFW", "MAFW_CLASSES", "MAFW_OFFICIAL_COUNTS", "mafw_layout", "read_mafw_split"]

logger = logging.getLogger(__name__)

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

#: Clips per ``(fold, split)`` in the official single-label, no-caption split files (9,172 clips).
MAFW_OFFICIAL_COUNTS = {
    (1, "train"): 7333, (1, "test"): 1839,
    (2, "train"): 7335, (2, "test"): 1837,
    (3, "train"): 7339, (3, "test"): 1833,
    (4, "train"): 7340, (4, "test"): 1832,
    (5, "train"): 7341, (5, "test"): 1831,
}  # fmt: skip

_VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


def parse_mafw_split(path: str | os.PathLike) -> SplitRows:
    """Read a MAFW split file collecting every problem (see [`read_mafw_split`][lifting_dfer.data.read_mafw_split])."""
    lookup = {n: i for i, n in enumerate(MAFW_CLASSES)}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MAFW split file {path} does not exist")
    rows, errors = [], []
    for number, text in numbered_lines(path):
        parts = split_fields(text)
        if len(parts) != 2 or not parts[0]:
            errors.append(Issue("malformed row", f"{path}:{number}: expected '<clip>.mp4 <emotion>', got {text!r}"))
            continue
        name, label = parts
        if name.lower().endswith(_VIDEO_EXTENSIONS):
            name = name[: name.rfind(".")]
        if label.lower() not in lookup:
            errors.append(
                Issue(
                    "bad label",
                    f"{path}:{number}: unknown emotion {label!r}; MAFW has "
                    f"{len(MAFW_CLASSES)} single-label classes: {', '.join(MAFW_CLASSES)}",
                )
            )
            continue
        rows.append(AnnotationRow(name, lookup[label.lower()], number))
    return SplitRows.build(rows, errors, path, MAFW_CLASSES, f"MAFW split file {path} lists no clips")


def read_mafw_split(path: str | os.PathLike) -> list[AnnotationRow]:
    """Parse a MAFW split file into rows ``(clip folder name, 0-based label, line)``.

    A clip listed twice with the same emotion is kept once (a logged warning).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming ``file:line``: a row without a clip name and an emotion, an unknown emotion, or a clip
            listed with two different emotions.
    """
    path = Path(path)
    return parse_mafw_split(path).checked(path, logger)


def mafw_layout(
    root: str | os.PathLike,
    *,
    frames_dir: str | os.PathLike = "data/frames",
    split_dir: str | os.PathLike | None = None,
    split_file: str | os.PathLike | None = None,
) -> DatasetLayout:
    """The [`DatasetLayout`][lifting_dfer.data.DatasetLayout] of a MAFW copy (arguments as in
    [`MAFW`][lifting_dfer.data.MAFW])."""
    root = require_dir(root, "MAFW root")
    frames_root = require_dir(frames_dir if Path(frames_dir).is_absolute() else root / frames_dir, "MAFW frames")
    base = Path(split_dir) if split_dir is not None else root / "Train & Test Set" / "single" / "no_caption"
    return DatasetLayout(
        name="MAFW",
        root=root,
        frames_root=frames_root,
        class_names=MAFW_CLASSES,
        folds=(1, 2, 3, 4, 5),
        split_candidates=lambda fold, split: [base / f"set_{fold}" / f"{split}.txt"],
        parse=parse_mafw_split,
        num_frames=32,
        official_counts=MAFW_OFFICIAL_COUNTS,
        explicit_split_file=None if split_file is None else Path(split_file),
    )


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
        on_corrupt, transform, seed, output: see [`ClipDataset`][lifting_dfer.data.ClipDataset]
            (``output="uint8"``: uint8 clips for [`ClipNormalize`][lifting_dfer.data.ClipNormalize] on the device).
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
        output: ClipOutput = "float",
    ) -> None:
        layout = mafw_layout(root, frames_dir=frames_dir, split_dir=split_dir, split_file=split_file)
        split_file, rows, samples = layout.load(fold, split)
        self.layout = layout
        self.frames_root = layout.frames_root
        self.root = layout.root
        self.fold = fold
        self.split = split
        self.split_file = split_file
        super().__init__(
            samples,
            [row.label for row in rows],
            MAFW_CLASSES,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
            output=output,
        )
