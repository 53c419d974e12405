"""FERV39k: 7 classes, one official train/test split, face-crop frame folders grouped by scene and emotion.

Expected layout (``root`` is the ``FERV39k`` folder; see docs/datasets.md):

    root/2_ClipsforFaceCrop/<Scene>/<Emotion>/<4-digit id>/*.jpg
    root/4_setups/All_scenes/train_All.csv, test_All.csv

Split files: no header, one clip per line, the clip path relative to ``2_ClipsforFaceCrop`` and the emotion name,
separated by a space (e.g. ``Action/Sad/0010 Sad``; a comma is accepted too). Names match case-insensitively.
Class indices follow ``class_order``: "dfew" (Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear; the default,
as in most public code) or "alphabetical" (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, check_split, clip_folders, first_existing, numbered_lines, require_dir
from .clips import ClipDataset, ClipTransformFn
from .dfew import DFEW_CLASSES

__all__ = ["FERV39K_CLASSES", "FERV39k", "read_ferv39k_split"]

FERV39K_CLASSES = {
    "dfew": DFEW_CLASSES,
    "alphabetical": ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"),
}
"""FERV39k's 7 classes in the two orders public code uses (``class_order=``); ``"dfew"`` is the default."""


def _class_names(class_order: str) -> tuple[str, ...]:
    if class_order not in FERV39K_CLASSES:
        raise ValueError(f"class_order: expected one of {sorted(FERV39K_CLASSES)}, got {class_order!r}")
    return FERV39K_CLASSES[class_order]


def read_ferv39k_split(
    path: str | os.PathLike, *, class_order: Literal["dfew", "alphabetical"] = "dfew"
) -> list[AnnotationRow]:
    """Parse a FERV39k split file into rows ``(clip path, 0-based label, line)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a row without a clip path and an emotion name, or an unknown emotion, naming ``file:line``.
    """
    names = _class_names(class_order)
    lookup = {n.lower(): i for i, n in enumerate(names)}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FERV39k split file {path} does not exist")
    rows = []
    for number, text in numbered_lines(path):
        parts = text.rsplit(None, 1)
        if len(parts) != 2 and "," in text:
            parts = [p.strip() for p in text.rsplit(",", 1)]
        if len(parts) != 2 or not parts[0]:
            raise ValueError(f"{path}:{number}: expected '<Scene>/<Emotion>/<id> <Emotion>', got {text!r}")
        clip, label = parts[0].strip("/"), parts[1]
        if label.lower() not in lookup:
            raise ValueError(
                f"{path}:{number}: unknown emotion {label!r}; FERV39k has {len(names)} classes: {', '.join(names)}"
            )
        rows.append(AnnotationRow(clip, lookup[label.lower()], number))
    if not rows:
        raise ValueError(f"FERV39k split file {path} lists no clips")
    return rows


class FERV39k(ClipDataset):
    """FERV39k ``split`` "train" or "test" of a setup, read from the official layout.

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)``.

    Args:
        root: the FERV39k folder (holding ``2_ClipsforFaceCrop/`` and ``4_setups/``).
        split: "train" or "test".
        setup: folder under ``root/4_setups``; "All_scenes" reads ``{split}_All.csv``, another setup reads its
            single ``{split}_*.csv`` (pass ``split_file`` when there are several).
        class_order: "dfew" (default) or "alphabetical" class indices.
        num_frames: frames per clip (16 in the paper).
        size: output side (224 in the paper).
        train: augmentation and random temporal offsets; defaults to ``split == "train"``.
        frames_dir: frame root under ``root`` (or absolute).
        split_file: explicit split file, overriding the ``setup`` lookup.
        on_corrupt, transform, seed: see :class:`~lifting_dfer.data.clips.ClipDataset`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "test"] = "train",
        setup: str = "All_scenes",
        class_order: Literal["dfew", "alphabetical"] = "dfew",
        num_frames: int = 16,
        size: int = 224,
        train: bool | None = None,
        frames_dir: str | os.PathLike = "2_ClipsforFaceCrop",
        split_file: str | os.PathLike | None = None,
        on_corrupt: Literal["raise", "skip"] = "raise",
        transform: ClipTransformFn | None = None,
        seed: int | None = None,
    ) -> None:
        root = require_dir(root, "FERV39k root")
        check_split(split)
        names = _class_names(class_order)
        if split_file is None:
            setup_dir = root / "4_setups" / setup
            if setup == "All_scenes":
                candidates = [setup_dir / f"{split}_All.csv", setup_dir / f"{split}_All.txt"]
            else:
                require_dir(setup_dir, "FERV39k setup folder")
                found = sorted(setup_dir.glob(f"{split}_*"))
                if len(found) > 1:
                    listed = ", ".join(p.name for p in found)
                    raise ValueError(f"{setup_dir} holds several {split} files ({listed}); pass split_file")
                candidates = found or [setup_dir / f"{split}_*.csv"]
            split_file = first_existing(candidates, f"FERV39k {split} split file of setup {setup!r}")
        split_file = Path(split_file)
        frames_root = require_dir(frames_dir if Path(frames_dir).is_absolute() else root / frames_dir, "FERV39k frames")
        rows = read_ferv39k_split(split_file, class_order=class_order)
        self.root = root
        self.split = split
        self.setup = setup
        self.split_file = split_file
        super().__init__(
            clip_folders(rows, frames_root, split_file),
            [row.label for row in rows],
            names,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
        )
