"""FERV39k: 7 classes, one official train/test split, face-crop frame folders grouped by scene and emotion.

Expected layout (``root`` is the ``FERV39k`` folder; see docs/datasets.md):

    root/2_ClipsforFaceCrop/<Scene>/<Emotion>/<4-digit id>/*.jpg
    root/4_setups/All_scenes/train_All.csv, test_All.csv

Split files: no header, one clip per line, the clip path relative to ``2_ClipsforFaceCrop`` and the emotion name,
separated by spaces (e.g. ``Action/Sad/0010 Sad``) or a comma (``Action/Sad/0010,Sad``, ``Action/Sad/0010, Sad``).
Names match case-insensitively.
Class indices follow ``class_order``: "dfew" (Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear; the default,
as in most public code) or "alphabetical" (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, Issue, SplitRows, numbered_lines, require_dir, split_fields
from .clips import ClipDataset, ClipOutput, ClipTransformFn
from .dfew import DFEW_CLASSES
from .layout import DatasetLayout

__all__ = ["FERV39K_CLASSES", "FERV39K_OFFICIAL_COUNTS", "FERV39k", "ferv39k_layout", "read_ferv39k_split"]

logger = logging.getLogger(__name__)

FERV39K_CLASSES = {
    "dfew": DFEW_CLASSES,
    "alphabetical": ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"),
}
"""FERV39k's 7 classes in the two orders public code uses (``class_order=``); ``"dfew"`` is the default."""

#: Clips of the official ``All_scenes`` setup (fold 1 stands for its one train/test split).
FERV39K_OFFICIAL_COUNTS = {(1, "train"): 31088, (1, "test"): 7847}


def _class_names(class_order: str) -> tuple[str, ...]:
    if class_order not in FERV39K_CLASSES:
        raise ValueError(f"class_order: expected one of {sorted(FERV39K_CLASSES)}, got {class_order!r}")
    return FERV39K_CLASSES[class_order]


def parse_ferv39k_split(path: str | os.PathLike, *, class_order: Literal["dfew", "alphabetical"] = "dfew") -> SplitRows:
    """Read a FERV39k split file collecting every problem (see
    [`read_ferv39k_split`][lifting_dfer.data.read_ferv39k_split])."""
    names = _class_names(class_order)
    lookup = {n.lower(): i for i, n in enumerate(names)}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FERV39k split file {path} does not exist")
    rows, errors = [], []
    for number, text in numbered_lines(path):
        parts = split_fields(text)
        if len(parts) != 2 or not parts[0].strip("/"):
            errors.append(
                Issue("malformed row", f"{path}:{number}: expected '<Scene>/<Emotion>/<id> <Emotion>', got {text!r}")
            )
            continue
        clip, label = parts[0].strip("/"), parts[1]
        if label.lower() not in lookup:
            errors.append(
                Issue(
                    "bad label",
                    f"{path}:{number}: unknown emotion {label!r}; FERV39k has {len(names)} classes: {', '.join(names)}",
                )
            )
            continue
        rows.append(AnnotationRow(clip, lookup[label.lower()], number))
    return SplitRows.build(rows, errors, path, names, f"FERV39k split file {path} lists no clips")


def read_ferv39k_split(
    path: str | os.PathLike, *, class_order: Literal["dfew", "alphabetical"] = "dfew"
) -> list[AnnotationRow]:
    """Parse a FERV39k split file into rows ``(clip path, 0-based label, line)``.

    A clip listed twice with the same emotion is kept once (a logged warning).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming ``file:line``: a row without a clip path and an emotion name, an unknown emotion, or a
            clip listed with two different emotions.
    """
    path = Path(path)
    return parse_ferv39k_split(path, class_order=class_order).checked(path, logger)


def ferv39k_layout(
    root: str | os.PathLike,
    *,
    setup: str = "All_scenes",
    class_order: Literal["dfew", "alphabetical"] = "dfew",
    frames_dir: str | os.PathLike = "2_ClipsforFaceCrop",
    split_file: str | os.PathLike | None = None,
) -> DatasetLayout:
    """The [`DatasetLayout`][lifting_dfer.data.DatasetLayout] of a FERV39k copy (arguments as in
    [`FERV39k`][lifting_dfer.data.FERV39k]); its one train/test split is fold 1."""
    root = require_dir(root, "FERV39k root")
    names = _class_names(class_order)
    frames_root = require_dir(frames_dir if Path(frames_dir).is_absolute() else root / frames_dir, "FERV39k frames")
    setup_dir = root / "4_setups" / setup

    def candidates(fold: int, split: str) -> list[Path]:
        if setup == "All_scenes":
            return [setup_dir / f"{split}_All.csv", setup_dir / f"{split}_All.txt"]
        require_dir(setup_dir, "FERV39k setup folder")
        found = sorted(setup_dir.glob(f"{split}_*"))
        if len(found) > 1:
            listed = ", ".join(p.name for p in found)
            raise ValueError(f"{setup_dir} holds several {split} files ({listed}); pass split_file")
        return found or [setup_dir / f"{split}_*.csv"]

    return DatasetLayout(
        name="FERV39k",
        root=root,
        frames_root=frames_root,
        class_names=names,
        folds=(1,),
        split_candidates=candidates,
        parse=lambda path: parse_ferv39k_split(path, class_order=class_order),
        num_frames=16,
        official_counts=FERV39K_OFFICIAL_COUNTS if setup == "All_scenes" else {},
        explicit_split_file=None if split_file is None else Path(split_file),
        where=f"setup {setup!r}",
    )


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
        on_corrupt, transform, seed, output: see [`ClipDataset`][lifting_dfer.data.ClipDataset]
            (``output="uint8"``: uint8 clips for [`ClipNormalize`][lifting_dfer.data.ClipNormalize] on the device).
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
        output: ClipOutput = "float",
    ) -> None:
        layout = ferv39k_layout(
            root, setup=setup, class_order=class_order, frames_dir=frames_dir, split_file=split_file
        )
        split_file, rows, samples = layout.load(1, split)
        self.layout = layout
        self.frames_root = layout.frames_root
        self.root = layout.root
        self.split = split
        self.setup = setup
        self.split_file = split_file
        super().__init__(
            samples,
            [row.label for row in rows],
            layout.class_names,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
            output=output,
        )
