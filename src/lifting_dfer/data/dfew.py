"""DFEW: 7 classes, 5 official folds of single-labelled clips, pre-extracted aligned face frames.

Expected layout (``root`` is the ``DFEW`` folder; see docs/datasets.md):

    root/Clip/clip_224x224/00001/00001_00001.jpg ...     all frames (default ``frames_dir``)
    root/Clip/clip_224x224_16f/00001/1.jpg ... 16.jpg    16 time-normalised frames (``frames_dir="clip_224x224_16f"``)
    root/EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv
    root/EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv

Split CSV: a ``video_name,label`` header, then rows such as ``1,5``: the clip number (zero-padded to 5 digits
for its folder) and the 1-based label 1 Happy, 2 Sad, 3 Neutral, 4 Angry, 5 Surprise, 6 Disgust, 7 Fear
(label 0, "not single-labelled", is skipped). Indices here are 0-based in that order.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, check_fold, check_split, clip_folders, first_existing, require_dir
from .clips import ClipDataset, ClipTransformFn

__all__ = ["DFEW", "DFEW_CLASSES", "read_dfew_split"]

logger = logging.getLogger(__name__)

DFEW_CLASSES = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
"""DFEW's 7 classes in index order: label ``i`` of a split file (1-based) is ``DFEW_CLASSES[i - 1]``."""

_SPLIT_FOLDERS = ("{split}(single-labeled)", "{split}_single-labeled", "{split}_single_labeled")


def read_dfew_split(path: str | os.PathLike) -> list[AnnotationRow]:
    """Parse a DFEW split CSV into rows ``(clip folder name, 0-based label, line)``; label-0 rows are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a malformed row or a label outside 0..7, naming ``file:line``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DFEW split file {path} does not exist")
    rows: list[AnnotationRow] = []
    skipped = 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            fields = [x.strip() for x in row]
            if not any(fields):
                continue
            if len(fields) < 2:
                raise ValueError(f"{path}:{number}: expected 'video_name,label', got {row!r}")
            name, label = fields[0], fields[1]
            if not (name.isdigit() and label.lstrip("-").isdigit()):
                if number == 1 and not rows:
                    continue  # header row (video_name,label)
                raise ValueError(f"{path}:{number}: expected an integer clip number and label, got {row!r}")
            y = int(label)
            if y == 0:
                skipped += 1
                continue
            if not 1 <= y <= len(DFEW_CLASSES):
                raise ValueError(
                    f"{path}:{number}: label {y} outside 1..{len(DFEW_CLASSES)} "
                    f"({', '.join(f'{i + 1} {c}' for i, c in enumerate(DFEW_CLASSES))}), row {row!r}"
                )
            rows.append(AnnotationRow(f"{int(name):05d}", y - 1, number))
    if skipped:
        logger.info("%s: skipped %d rows with label 0 (not single-labelled)", path, skipped)
    if not rows:
        raise ValueError(f"DFEW split file {path} lists no labelled clips")
    return rows


class DFEW(ClipDataset):
    """DFEW fold ``fold`` (1..5), ``split`` "train" or "test", read from the official layout.

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)``.

    Args:
        root: the DFEW folder (holding ``Clip/`` and ``EmoLabel_DataSplit/``).
        fold: official fold, 1..5.
        split: "train" or "test".
        num_frames: frames per clip (16 in the paper).
        size: output side (224 in the paper).
        train: augmentation and random temporal offsets; defaults to ``split == "train"``.
        frames_dir: frame folder under ``root/Clip`` (or ``root``): "clip_224x224" (all frames, default) or
            "clip_224x224_16f"; an absolute path is used as is.
        split_dir: folder holding ``train(single-labeled)``/``test(single-labeled)`` (also accepted:
            ``train_single-labeled``); default ``root/EmoLabel_DataSplit``.
        split_file: explicit split CSV, overriding ``split_dir``/``fold``/``split`` lookup.
        on_corrupt, transform, seed: see :class:`~lifting_dfer.data.clips.ClipDataset`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fold: int = 1,
        split: Literal["train", "test"] = "train",
        num_frames: int = 16,
        size: int = 224,
        train: bool | None = None,
        frames_dir: str | os.PathLike = "clip_224x224",
        split_dir: str | os.PathLike | None = None,
        split_file: str | os.PathLike | None = None,
        on_corrupt: Literal["raise", "skip"] = "raise",
        transform: ClipTransformFn | None = None,
        seed: int | None = None,
    ) -> None:
        root = require_dir(root, "DFEW root")
        check_split(split)
        check_fold(fold)
        if split_file is None:
            base = Path(split_dir) if split_dir is not None else root / "EmoLabel_DataSplit"
            candidates = [base / p.format(split=split) / f"set_{fold}.csv" for p in _SPLIT_FOLDERS]
            split_file = first_existing(candidates, f"DFEW {split} split file for fold {fold}")
        split_file = Path(split_file)
        frames_root = first_existing(
            [Path(frames_dir)] if Path(frames_dir).is_absolute() else [root / "Clip" / frames_dir, root / frames_dir],
            f"DFEW frame folder {str(frames_dir)!r}",
        )
        rows = read_dfew_split(split_file)
        samples = clip_folders(rows, frames_root, split_file)
        self.root = root
        self.fold = fold
        self.split = split
        self.split_file = split_file
        super().__init__(
            samples,
            [row.label for row in rows],
            DFEW_CLASSES,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
        )
