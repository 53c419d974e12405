"""MAFW: 11 single-label classes (or the 43-label compound protocol), 5 official folds, frames extracted per clip.

Expected layout (``root`` is the ``MAFW`` folder; see docs/datasets.md):

    root/data/frames/00025/*.png                  integer-named frames, any size (resized)
    root/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/
    root/Train & Test Set/compound/no_caption/set_1/... (label_set="compound")

Split files: no header, one clip per line, the video file name and the lower-case emotion name separated by
spaces or a comma (e.g. ``00025.mp4 anger``); the video extension is dropped for the frame folder. The official
``with_caption`` files are tab-separated with the captions after the emotion (the Chinese one GBK-encoded): the
caption columns are ignored, undecoded. CRLF line ends are fine.

Class indices follow ``class_order``: ``"file"`` (the default, ours: anger, disgust, fear, happiness, neutral,
sadness, surprise, contempt, anxiety, helplessness, disappointment -> 0..10, as MAE-DFER, HiCMAE and EmoCLIP
index them), ``"dfew"`` (DFEW's seven first: happiness, sadness, neutral, anger, surprise, disgust, fear, then
contempt, anxiety, helplessness, disappointment, as DFER-CLIP and MMA-DFER) or ``"alphabetical"`` (as S2D).
``label_set="compound"`` adds the 32 compound labels of [`MAFW_COMPOUND_CLASSES`][lifting_dfer.data.MAFW_COMPOUND_CLASSES]
after the 11 single ones: MAFW's 43-class compound protocol.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from ._io import AnnotationRow, Issue, SplitRows, raw_lines, require_dir, split_fields
from .clips import ClipDataset, ClipOutput, ClipTransformFn
from .layout import DatasetLayout

__all__ = [
    "MAFW",
    "MAFW_CLASSES",
    "MAFW_CLASS_ORDERS",
    "MAFW_COMPOUND_CLASSES",
    "MAFW_OFFICIAL_COUNTS",
    "mafw_class_names",
    "mafw_layout",
    "read_mafw_split",
]

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
"""MAFW's 11 single-label classes in our label order (``class_order="file"``; the names used in its split files)."""

MAFW_CLASS_ORDERS: dict[str, tuple[str, ...]] = {
    "file": MAFW_CLASSES,
    "dfew": ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear", *MAFW_CLASSES[7:]),
    "alphabetical": tuple(sorted(MAFW_CLASSES)),
}
"""The orders public code indexes MAFW's 11 classes in (``class_order=``); ``"file"`` is the default."""

# The MAFW paper lists the emotions as AN, DI, FE, HA, SA, SU, CO, AX, HL, DS, NE; compound labels name theirs in it.
_PAPER_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "contempt", "anxiety", "helplessness",
                "disappointment", "neutral")  # fmt: skip

MAFW_COMPOUND_CLASSES = (
    "anger_disgust", "anger_disgust_contempt", "anger_disgust_anxiety", "anger_sadness", "anger_surprise",
    "anger_anxiety", "anger_helplessness", "disgust_sadness", "disgust_surprise", "disgust_contempt",
    "disgust_anxiety", "disgust_anxiety_helplessness", "disgust_helplessness", "disgust_helplessness_disappointment",
    "disgust_disappointment", "fear_sadness", "fear_sadness_anxiety", "fear_surprise", "fear_surprise_anxiety",
    "fear_anxiety", "happiness_surprise", "happiness_contempt", "sadness_surprise", "sadness_anxiety",
    "sadness_anxiety_helplessness", "sadness_helplessness", "sadness_helplessness_disappointment",
    "sadness_disappointment", "surprise_anxiety", "anxiety_helplessness", "anxiety_helplessness_disappointment",
    "helplessness_disappointment",
)  # fmt: skip
"""MAFW's 32 compound (multi-emotion) labels, each naming its emotions in the paper's order (anger, disgust, fear,
happiness, sadness, surprise, contempt, anxiety, helplessness, disappointment), listed in that order of their
emotions. With the 11 single labels they make the 43 classes of the paper's compound benchmark (Liu et al., "MAFW",
ACM MM 2022, Section 5.1: 11 single and 32 multiple expression classes). The paper and the official README
(github.com/MAFW-database/MAFW) give the count and examples (``anger_disgust_anxiety``, ``anger_disgust``,
``fear_sadness``); the list itself is the 32 multi-emotion entries of a public DFER training repository's MAFW
label map (``cate2label(...)["Group_multi"]``, 43 entries), found by code search; see docs/datasets.md."""

#: Clips per ``(fold, split)`` in the official single-label, no-caption split files (9,172 clips).
MAFW_OFFICIAL_COUNTS = {
    (1, "train"): 7333, (1, "test"): 1839,
    (2, "train"): 7335, (2, "test"): 1837,
    (3, "train"): 7339, (3, "test"): 1833,
    (4, "train"): 7340, (4, "test"): 1832,
    (5, "train"): 7341, (5, "test"): 1831,
}  # fmt: skip

_VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


ClassOrder = Literal["file", "dfew", "alphabetical"]
LabelSet = Literal["single", "compound"]


def mafw_class_names(class_order: ClassOrder = "file", label_set: LabelSet = "single") -> tuple[str, ...]:
    """MAFW's class names in label-index order: the 11 single labels in ``class_order``, then for
    ``label_set="compound"`` the 32 of [`MAFW_COMPOUND_CLASSES`][lifting_dfer.data.MAFW_COMPOUND_CLASSES].

    Examples:
        >>> mafw_class_names("dfew")[:3], len(mafw_class_names(label_set="compound"))
        (('happiness', 'sadness', 'neutral'), 43)
    """
    if class_order not in MAFW_CLASS_ORDERS:
        raise ValueError(f"class_order: expected one of {', '.join(MAFW_CLASS_ORDERS)}, got {class_order!r}")
    if label_set not in ("single", "compound"):
        raise ValueError(f"label_set: expected 'single' or 'compound', got {label_set!r}")
    return MAFW_CLASS_ORDERS[class_order] + (MAFW_COMPOUND_CLASSES if label_set == "compound" else ())


def _label_key(label: str) -> str:
    """A label as MAFW_COMPOUND_CLASSES spells it: lower case, a compound's emotions in the paper's order."""
    parts = label.lower().split("_")
    return "_".join(sorted(parts, key=_PAPER_ORDER.index)) if set(parts) <= set(_PAPER_ORDER) else label


def _fields(line: bytes) -> list[str] | None:
    """The fields of a split-file row: the first two tab-separated ones (the caption columns of the
    ``with_caption`` files are left undecoded), else as [`split_fields`][lifting_dfer.data._io.split_fields] splits
    the row; ``None`` when they are not UTF-8 text."""
    try:
        if b"\t" in line:
            return [field.strip().decode("utf-8") for field in line.split(b"\t")[:2]]
        return split_fields(line.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def parse_mafw_split(
    path: str | os.PathLike, *, class_order: ClassOrder = "file", label_set: LabelSet = "single"
) -> SplitRows:
    """Read a MAFW split file collecting every problem (see [`read_mafw_split`][lifting_dfer.data.read_mafw_split])."""
    names = mafw_class_names(class_order, label_set)
    lookup = {n: i for i, n in enumerate(names)}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MAFW split file {path} does not exist")
    rows, errors = [], []
    for number, line in raw_lines(path):
        parts = _fields(line)
        if parts is None or len(parts) != 2 or not parts[0]:
            shown = line.decode("utf-8", "backslashreplace")
            errors.append(
                Issue("malformed row", f"{path}:{number}: expected '<clip>.mp4 <emotion>' (text), got {shown!r}")
            )
            continue
        name, label = parts
        if name.lower().endswith(_VIDEO_EXTENSIONS):
            name = name[: name.rfind(".")]
        key = _label_key(label)
        if key not in lookup:
            errors.append(Issue("bad label", f"{path}:{number}: unknown emotion {label!r}; " + _label_help(key, names)))
            continue
        rows.append(AnnotationRow(name, lookup[key], number))
    return SplitRows.build(rows, errors, path, names, f"MAFW split file {path} lists no clips")


def _label_help(key: str, names: tuple[str, ...]) -> str:
    if key in MAFW_COMPOUND_CLASSES:
        return (
            "it is one of MAFW's 32 compound labels: pass label_set='compound' (the 43-class protocol, split files "
            "under 'Train & Test Set/compound/')"
        )
    if len(names) > len(MAFW_CLASSES):
        return f"MAFW's compound protocol has {len(names)} labels: {', '.join(names)}"
    return f"MAFW has {len(names)} single-label classes: {', '.join(names)}"


def read_mafw_split(
    path: str | os.PathLike, *, class_order: ClassOrder = "file", label_set: LabelSet = "single"
) -> list[AnnotationRow]:
    """Parse a MAFW split file into rows ``(clip folder name, 0-based label, line)``.

    Labels are indexed as [`mafw_class_names`][lifting_dfer.data.mafw_class_names] lists them; a compound label
    may name its emotions in any order (``disgust_anger`` is ``anger_disgust``). A clip listed twice with the same
    emotion is kept once (a logged warning).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming ``file:line``: a row without a clip name and an emotion (or not text), an unknown emotion
            (a compound one without ``label_set="compound"``), or a clip listed with two different emotions.
    """
    path = Path(path)
    return parse_mafw_split(path, class_order=class_order, label_set=label_set).checked(path, logger)


def mafw_layout(
    root: str | os.PathLike,
    *,
    class_order: ClassOrder = "file",
    label_set: LabelSet = "single",
    frames_dir: str | os.PathLike = "data/frames",
    split_dir: str | os.PathLike | None = None,
    split_file: str | os.PathLike | None = None,
) -> DatasetLayout:
    """The [`DatasetLayout`][lifting_dfer.data.DatasetLayout] of a MAFW copy (arguments as in
    [`MAFW`][lifting_dfer.data.MAFW])."""
    names = mafw_class_names(class_order, label_set)
    root = require_dir(root, "MAFW root")
    frames_root = require_dir(frames_dir if Path(frames_dir).is_absolute() else root / frames_dir, "MAFW frames")
    base = Path(split_dir) if split_dir is not None else root / "Train & Test Set" / label_set / "no_caption"
    return DatasetLayout(
        name="MAFW",
        root=root,
        frames_root=frames_root,
        class_names=names,
        folds=(1, 2, 3, 4, 5),
        split_candidates=lambda fold, split: [base / f"set_{fold}" / f"{split}.txt"],
        parse=lambda path: parse_mafw_split(path, class_order=class_order, label_set=label_set),
        num_frames=32,
        official_counts=MAFW_OFFICIAL_COUNTS if label_set == "single" else {},
        explicit_split_file=None if split_file is None else Path(split_file),
    )


class MAFW(ClipDataset):
    """MAFW fold ``fold`` (1..5), ``split`` "train" or "test" (the single-label protocol, or the 43-class compound
    one).

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)``.

    Args:
        root: the MAFW folder (holding ``data/frames/`` and ``Train & Test Set/``).
        fold: official fold, 1..5.
        split: "train" or "test".
        class_order: "file" (default), "dfew" or "alphabetical" indices of the 11 single classes (module docstring).
        label_set: "single" (11 classes) or "compound" (43: the 11 and the 32 of
            [`MAFW_COMPOUND_CLASSES`][lifting_dfer.data.MAFW_COMPOUND_CLASSES]; split files under
            ``Train & Test Set/compound/no_caption`` by default).
        num_frames: frames per clip (32 in the paper for MAFW).
        size: output side (224 in the paper).
        train: augmentation and random temporal offsets; defaults to ``split == "train"``.
        frames_dir: frame root under ``root`` (or absolute).
        split_dir: folder holding ``set_1/`` ... ``set_5/``; default ``root/Train & Test Set/single/no_caption``
            (``compound/no_caption`` for the compound labels); the ``with_caption`` folders are read too.
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
        class_order: ClassOrder = "file",
        label_set: LabelSet = "single",
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
        layout = mafw_layout(
            root,
            class_order=class_order,
            label_set=label_set,
            frames_dir=frames_dir,
            split_dir=split_dir,
            split_file=split_file,
        )
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
            layout.class_names,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            on_corrupt=on_corrupt,
            transform=transform,
            seed=seed,
            output=output,
        )
