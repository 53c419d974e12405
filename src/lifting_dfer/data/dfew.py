"""DFEW: 7 classes, 5 official folds of single-labelled clips, pre-extracted aligned face frames.

Expected layout (``root`` is the ``DFEW`` folder; see docs/datasets.md):

    root/Clip/clip_224x224/00001/00001_00001.jpg ...     all frames
    root/Clip/clip_224x224_16f/00001/1.jpg ... 16.jpg    16 time-normalised frames
    root/EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv
    root/EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv

The frame folder is found automatically: ``clip_224x224`` (the paper's protocol: 16 frames sampled over the whole
clip) when it exists, else ``clip_224x224_16f``; ``frames_dir`` picks one explicitly.

Split CSV: a ``video_name,label`` header, then rows such as ``1,5``: the clip number (zero-padded to 5 digits
for its folder) and the 1-based label 1 Happy, 2 Sad, 3 Neutral, 4 Angry, 5 Surprise, 6 Disgust, 7 Fear
(label 0, "not single-labelled", is skipped). Indices here are 0-based in that order. The header is read by
name (columns in any order; see [`read_dfew_split`][lifting_dfer.data.read_dfew_split]); a file without a header
starts with data.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, Issue, SplitRows, first_existing, require_dir
from .clips import ClipDataset, ClipOutput, ClipTransformFn
from .layout import DatasetLayout

__all__ = ["DFEW", "DFEW_CLASSES", "DFEW_FRAME_SETS", "DFEW_OFFICIAL_COUNTS", "dfew_layout", "read_dfew_split"]

logger = logging.getLogger(__name__)

DFEW_CLASSES = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
"""DFEW's 7 classes in index order: label ``i`` of a split file (1-based) is ``DFEW_CLASSES[i - 1]``."""

#: The frame sets of the release, in the order the automatic detection tries them.
DFEW_FRAME_SETS = ("clip_224x224", "clip_224x224_16f")

#: Clips per ``(fold, split)`` in the official single-labelled split files (11,697 clips, each in one test fold).
DFEW_OFFICIAL_COUNTS = {
    (1, "train"): 9356, (1, "test"): 2341,
    (2, "train"): 9356, (2, "test"): 2341,
    (3, "train"): 9357, (3, "test"): 2340,
    (4, "train"): 9358, (4, "test"): 2339,
    (5, "train"): 9361, (5, "test"): 2336,
}  # fmt: skip

_SPLIT_FOLDERS = ("{split}(single-labeled)", "{split}_single-labeled", "{split}_single_labeled")

# Header names, compared after lower-casing and dropping spaces, "_" and "-": the official ``video_name,label``
# and the spellings seen in public code.
_NAME_COLUMNS = ("videoname", "video", "clip", "clipname", "name")
_LABEL_COLUMNS = ("label", "emotion")


def _column(cell: str) -> str:
    return re.sub(r"[\s_\-]", "", cell.lower())


def _header_columns(fields: list[str]) -> tuple[int, int] | None:
    """``(clip column, label column)`` of a header row, or None when the row does not name both."""
    names = [_column(f) for f in fields]
    clip = next((i for i, n in enumerate(names) if n in _NAME_COLUMNS), None)
    label = next((i for i, n in enumerate(names) if n in _LABEL_COLUMNS), None)
    return None if clip is None or label is None else (clip, label)


def parse_dfew_split(path: str | os.PathLike) -> SplitRows:
    """Read a DFEW split CSV collecting every problem (see [`read_dfew_split`][lifting_dfer.data.read_dfew_split])."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DFEW split file {path} does not exist")
    rows: list[AnnotationRow] = []
    errors: list[Issue] = []
    columns: tuple[int, int] | None = None
    skipped = 0
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"DFEW split file {path} is not UTF-8 text (byte {err.start}: {err.reason}); the official split files are "
            "plain ASCII: save it again as CSV (UTF-8)"
        ) from None
    for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        fields = [x.strip() for x in row]
        if not any(fields):
            continue
        if columns is None:  # the first row: a header naming the columns, or data in the official order
            columns = _header_columns(fields)
            if columns is not None:
                continue
            columns = (0, 1)
            if not (len(fields) >= 2 and fields[0].isdigit() and fields[1].lstrip("-").isdigit()):
                errors.append(
                    Issue(
                        "malformed row",
                        f"{path}:{number}: expected a header naming the columns "
                        f"video_name and label (in any order) or a first row of data such as '1,5', "
                        f"got {row!r}",
                    )
                )
                break
        if len(fields) <= max(columns):
            errors.append(Issue("malformed row", f"{path}:{number}: expected 'video_name,label', got {row!r}"))
            continue
        name, label = fields[columns[0]], fields[columns[1]]
        if not (name.isdigit() and label.lstrip("-").isdigit()):
            errors.append(
                Issue("malformed row", f"{path}:{number}: expected an integer clip number and label, got {row!r}")
            )
            continue
        y = int(label)
        if y == 0:
            skipped += 1
            continue
        if not 1 <= y <= len(DFEW_CLASSES):
            classes = ", ".join(f"{i + 1} {c}" for i, c in enumerate(DFEW_CLASSES))
            errors.append(
                Issue(
                    "bad label",
                    f"{path}:{number}: label {y} outside 1..{len(DFEW_CLASSES)} ({classes}), row {row!r}",
                )
            )
            continue
        rows.append(AnnotationRow(f"{int(name):05d}", y - 1, number))
    if skipped:
        logger.info("%s: skipped %d rows with label 0 (not single-labelled)", path, skipped)
    return SplitRows.build(rows, errors, path, DFEW_CLASSES, f"DFEW split file {path} lists no labelled clips")


def read_dfew_split(path: str | os.PathLike) -> list[AnnotationRow]:
    """Parse a DFEW split CSV into rows ``(clip folder name, 0-based label, line)``; label-0 rows are skipped.

    The first row is either a header or data. A header is read by name, in any column order: the clip column is
    ``video_name`` (also ``video``, ``clip``, ``clip_name``, ``name``), the label column ``label`` (also
    ``emotion``), compared ignoring case, spaces, ``_`` and ``-``; other columns are ignored. A first row of two
    integers is data in the official order ``video_name,label``. A clip listed twice with the same label is kept
    once (a logged warning).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming ``file:line``: a first row that is neither a header nor data, a malformed row, a label
            outside 0..7, or a clip listed with two different labels.
    """
    path = Path(path)
    return parse_dfew_split(path).checked(path, logger)


def _find_frames(root: Path, frames_dir: str | os.PathLike | None) -> tuple[Path, str]:
    """The frame folder and a note on how it was chosen: ``frames_dir``, else the first frame set found."""
    if frames_dir is not None:
        given = Path(frames_dir)
        candidates = [given] if given.is_absolute() else [root / "Clip" / given, root / given]
        return first_existing(candidates, f"DFEW frame folder {str(frames_dir)!r}"), "given by frames_dir"
    candidates = [base / name for name in DFEW_FRAME_SETS for base in (root / "Clip", root)]
    found = [c for c in candidates if c.is_dir()]
    if not found:
        raise FileNotFoundError(
            "DFEW frame folder not found; looked for:\n  "
            + "\n  ".join(str(c) for c in candidates)
            + "\nunpack Clip/clip_224x224 (or clip_224x224_16f) of the release there, or pass frames_dir="
        )
    chosen = found[0]
    others = [c.name for c in found[1:] if c.name != chosen.name]
    note = "auto-detected" + (
        f"; {', '.join(others)} also present (frames_dir= selects it)"
        if others
        else "; the only DFEW frame set present"
    )
    return chosen, note


def dfew_layout(
    root: str | os.PathLike,
    *,
    frames_dir: str | os.PathLike | None = None,
    split_dir: str | os.PathLike | None = None,
    split_file: str | os.PathLike | None = None,
) -> DatasetLayout:
    """The [`DatasetLayout`][lifting_dfer.data.DatasetLayout] of a DFEW copy (arguments as in
    [`DFEW`][lifting_dfer.data.DFEW]).

    Raises:
        FileNotFoundError: no ``root``, or no frame folder (every path tried is listed).
    """
    root = require_dir(root, "DFEW root")
    frames_root, note = _find_frames(root, frames_dir)
    base = Path(split_dir) if split_dir is not None else root / "EmoLabel_DataSplit"

    def candidates(fold: int, split: str) -> list[Path]:
        return [base / folder.format(split=split) / f"set_{fold}.csv" for folder in _SPLIT_FOLDERS]

    return DatasetLayout(
        name="DFEW",
        root=root,
        frames_root=frames_root,
        frames_note=note,
        class_names=DFEW_CLASSES,
        folds=(1, 2, 3, 4, 5),
        split_candidates=candidates,
        parse=parse_dfew_split,
        num_frames=16,
        official_counts=DFEW_OFFICIAL_COUNTS,
        frames_per_clip=16 if frames_root.name == "clip_224x224_16f" else None,
        explicit_split_file=None if split_file is None else Path(split_file),
    )


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
        frames_dir: frame folder under ``root/Clip`` (or ``root``): "clip_224x224" (all frames) or
            "clip_224x224_16f"; an absolute path is used as is. ``None`` (default): the first of the two that
            exists, in that order.
        split_dir: folder holding ``train(single-labeled)``/``test(single-labeled)`` (also accepted:
            ``train_single-labeled``); default ``root/EmoLabel_DataSplit``.
        split_file: explicit split CSV, overriding ``split_dir``/``fold``/``split`` lookup.
        on_corrupt, transform, seed, output: see [`ClipDataset`][lifting_dfer.data.ClipDataset]
            (``output="uint8"``: uint8 clips for [`ClipNormalize`][lifting_dfer.data.ClipNormalize] on the device).
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
        frames_dir: str | os.PathLike | None = None,
        split_dir: str | os.PathLike | None = None,
        split_file: str | os.PathLike | None = None,
        on_corrupt: Literal["raise", "skip"] = "raise",
        transform: ClipTransformFn | None = None,
        seed: int | None = None,
        output: ClipOutput = "float",
    ) -> None:
        layout = dfew_layout(root, frames_dir=frames_dir, split_dir=split_dir, split_file=split_file)
        split_file, rows, samples = layout.load(fold, split)
        logger.debug("DFEW frames: %s (%s)", layout.frames_root, layout.frames_note)
        self.layout = layout
        self.frames_root = layout.frames_root
        self.root = layout.root
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
            output=output,
        )
