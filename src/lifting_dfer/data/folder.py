"""Your own videos as a dataset: the folder ``lifting-dfer prepare`` writes, read by ``--dataset folder``.

Layout of a prepared folder ``DST``::

    DST/manifest.csv                        one row per clip (the dataset: training reads only this file)
    DST/prepare.json                        the settings the crops were made with (size, frame rate, detector)
    DST/clips/<label>/<name>/000001.jpg ... the face crop of every frame, size x size JPEG, in time order
    DST/clips/<label>/<name>/clip.json      prepare's own record of the clip (its manifest row)

``manifest.csv`` has the columns ``clip,label,split,frames,fps,source_fps,face_share,source``: the clip folder
(relative to ``DST/clips``), its label, its split (``train``, ``val`` or ``test``), the number of frames written,
the frame rate they were written at, the video's own rate, the share of frames on which a face was found (empty
without face detection) and the video it came from. The class names are the labels, sorted; a clip's label or
split may be edited in the file (a rerun of ``prepare`` keeps the rows it finds).

[`FolderDataset`][lifting_dfer.data.FolderDataset] reads one split, sampling ``T0`` frames uniformly over each clip
as the paper's datasets are; [`folder_sampling`][lifting_dfer.data.folder.folder_sampling] gives the frame rate
this implies (``T0`` over the mean clip duration), which training stores in its checkpoints so that ``predict``
windows videos at that rate. [`check_folder`][lifting_dfer.data.check_folder] is ``lifting-dfer check-data
folder DST``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from .._atomic import atomic_write_text
from ._io import Issue
from .clips import ClipDataset
from .splits import train_val_split

__all__ = [
    "MANIFEST",
    "MANIFEST_COLUMNS",
    "SPLITS",
    "FolderDataset",
    "ManifestRow",
    "folder_datasets",
    "folder_sampling",
    "parse_manifest",
    "read_manifest",
    "write_manifest",
]

MANIFEST = "manifest.csv"
"""File name of the manifest inside a prepared folder."""
CLIPS = "clips"
"""Folder (inside a prepared folder) holding ``<label>/<name>/`` frame folders."""
MANIFEST_COLUMNS = ("clip", "label", "split", "frames", "fps", "source_fps", "face_share", "source")
"""Columns of ``manifest.csv``, in order."""
SPLITS = ("train", "val", "test")
"""Split names a manifest may use."""


class ManifestRow(NamedTuple):
    """One clip of a prepared folder (a row of ``manifest.csv``)."""

    clip: str
    """Its frame folder, relative to ``DST/clips`` (``<label>/<name>``, POSIX separators)."""
    label: str
    split: str
    """``train``, ``val`` or ``test``."""
    frames: int
    """Frames written."""
    fps: float
    """Frame rate the frames were written at (the video's own, or lower with ``prepare --fps``)."""
    source_fps: float
    face_share: float | None
    """Share of the frames on which a face was found (``None``: written without face detection)."""
    source: str
    """The video it came from (relative to the source folder or CSV of ``prepare``)."""

    @property
    def seconds(self) -> float:
        """Duration of the clip: ``frames / fps``."""
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()

    def to_fields(self) -> list[str]:
        """The CSV fields (numbers written so that they read back equal)."""
        share = "" if self.face_share is None else f"{self.face_share:.4f}"
        return [self.clip, self.label, self.split, str(self.frames), repr(self.fps), repr(self.source_fps), share,
                self.source]  # fmt: skip

    @classmethod
    def from_fields(cls, fields: Sequence[str]) -> ManifestRow:
        """Parse the CSV fields of one row; ``ValueError`` saying which field is wrong."""
        if len(fields) != len(MANIFEST_COLUMNS):
            raise ValueError(
                f"expected {len(MANIFEST_COLUMNS)} fields ({','.join(MANIFEST_COLUMNS)}), got {len(fields)}"
            )
        clip, label, split, frames, fps, source_fps, share, source = (f.strip() for f in fields)
        if not clip or not label:
            raise ValueError("clip and label must not be empty")
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        try:
            row = cls(clip, label, split, int(frames), float(fps), float(source_fps),
                      None if share == "" else float(share), source)  # fmt: skip
        except ValueError as err:
            raise ValueError(f"frames, fps, source_fps, face_share: expected numbers ({err})") from None
        if row.frames < 1 or not (math.isfinite(row.fps) and row.fps > 0):
            raise ValueError(f"expected frames >= 1 and fps > 0, got {row.frames} and {row.fps}")
        if row.face_share is not None and not 0 <= row.face_share <= 1:
            raise ValueError(f"face_share: expected a share in [0, 1], got {row.face_share}")
        return row


def parse_manifest(path: str | os.PathLike) -> tuple[list[ManifestRow], list[Issue]]:
    """Read ``manifest.csv`` collecting every problem (a malformed row, a clip listed twice) as ``file:line``.

    Raises:
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: a prepared folder holds a manifest.csv (run lifting-dfer prepare SRC DST first)"
        )
    rows: list[ManifestRow] = []
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, fields in enumerate(csv.reader(f), start=1):
            if not any(field.strip() for field in fields):
                continue
            if number == 1:
                if [c.strip() for c in fields] != list(MANIFEST_COLUMNS):
                    issues.append(Issue("malformed row", f"{path}:1: expected the header {','.join(MANIFEST_COLUMNS)}"))
                    break
                continue
            try:
                row = ManifestRow.from_fields(fields)
            except ValueError as err:
                issues.append(Issue("malformed row", f"{path}:{number}: {err}: {','.join(fields)!r}"))
                continue
            if row.clip in seen:
                issues.append(Issue("repeated clip", f"{path}:{number}: clip {row.clip!r} is listed again (first at "
                                    f"line {seen[row.clip]})"))  # fmt: skip
                continue
            seen[row.clip] = number
            rows.append(row)
    return rows, issues


def read_manifest(root: str | os.PathLike) -> list[ManifestRow]:
    """The rows of ``root/manifest.csv``; ``ValueError`` on the first problem (naming ``file:line``).

    Raises:
        FileNotFoundError: no manifest (the folder was not prepared).
        ValueError: a malformed row or a clip listed twice.
    """
    rows, issues = parse_manifest(Path(root) / MANIFEST)
    if issues:
        more = (
            f" ({len(issues) - 1} more; lifting-dfer check-data folder {root} lists them all)"
            if len(issues) > 1
            else ""
        )
        raise ValueError(issues[0].message + more)
    return rows


def write_manifest(root: str | os.PathLike, rows: Sequence[ManifestRow]) -> Path:
    """Write ``root/manifest.csv`` (sorted by clip) through a temporary file: all or nothing."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(row.to_fields() for row in sorted(rows, key=lambda r: r.clip))
    return atomic_write_text(Path(root) / MANIFEST, buffer.getvalue())


def folder_classes(rows: Sequence[ManifestRow]) -> tuple[str, ...]:
    """The class names of a manifest: its labels, sorted.

    Examples:
        >>> row = ManifestRow("x", "smile", "train", 8, 25.0, 25.0, 1.0, "x.mp4")
        >>> folder_classes([row, row._replace(label="frown")])
        ('frown', 'smile')
    """
    return tuple(sorted({row.label for row in rows}))


def folder_sampling(rows: Sequence[ManifestRow], num_frames: int):
    """The [`TrainingSampling`][lifting_dfer.video.TrainingSampling] of ``num_frames`` frames spread uniformly over
    the clips of ``rows``: over their mean duration, i.e. at ``num_frames / mean seconds`` frames per second.

    Examples:
        >>> rows = [ManifestRow("a", "x", "train", 50, 25.0, 25.0, 1.0, "a.mp4"),
        ...         ManifestRow("b", "y", "train", 90, 30.0, 30.0, 1.0, "b.mp4")]
        >>> s = folder_sampling(rows, 16)
        >>> s.clip_seconds, s.fps
        (2.5, 6.4)
    """
    from ..video.sampling import TrainingSampling

    if not rows:
        raise ValueError("rows: expected at least one clip")
    seconds = statistics.fmean(row.seconds for row in rows)
    return TrainingSampling("folder", num_frames, seconds, num_frames / seconds)


class FolderDataset(ClipDataset):
    """One split of a folder prepared by ``lifting-dfer prepare`` (see the module docstring for the layout).

    The classes are the manifest's labels, sorted, whatever the split; clips are sampled as
    [`ClipDataset`][lifting_dfer.data.ClipDataset] does (``num_frames`` frames uniformly over the whole clip).

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)``.

    Args:
        root: the prepared folder (holding ``manifest.csv`` and ``clips/``).
        split: ``train``, ``val`` or ``test``.
        num_frames, size: frames per clip and output side.
        train: augmentation and random temporal offsets; defaults to ``split == "train"``.
        options: the other [`ClipDataset`][lifting_dfer.data.ClipDataset] options (``on_corrupt``, ``transform``,
            ``seed``, ...), passed on.

    Raises:
        FileNotFoundError: no manifest, or a clip folder it names is missing.
        ValueError: a malformed manifest, fewer than 2 classes, or no clip in ``split``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        split: Literal["train", "val", "test"] = "train",
        num_frames: int = 16,
        size: int = 224,
        train: bool | None = None,
        **options: Any,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        self.root = Path(root)
        rows = read_manifest(self.root)
        classes = folder_classes(rows)
        if len(classes) < 2:
            found = f"one label, {classes[0]}" if classes else "no clip"
            raise ValueError(f"{self.root / MANIFEST} has {found}: a classifier needs at least 2 labels")
        chosen = [row for row in rows if row.split == split]
        if not chosen:
            counts = ", ".join(f"{s} {sum(r.split == s for r in rows)}" for s in SPLITS)
            raise ValueError(
                f"{self.root / MANIFEST} has no {split} clips ({counts}): rerun lifting-dfer prepare with a "
                f"--{'val' if split == 'val' else 'test'}-fraction above 0, or set some rows' split to {split}"
            )
        samples = []
        for row in chosen:
            folder = self.root / CLIPS / row.clip
            if not folder.is_dir():
                raise FileNotFoundError(f"{self.root / MANIFEST}: clip {row.clip!r} has no frame folder {folder}")
            samples.append(folder)
        self.split = split
        self.rows = chosen
        self.all_rows = rows
        super().__init__(
            samples,
            [classes.index(row.label) for row in chosen],
            classes,
            num_frames=num_frames,
            size=size,
            train=split == "train" if train is None else train,
            **options,
        )

    def training_sampling(self, num_frames: int | None = None):
        """The frame rate training clips of ``num_frames`` frames (default: this dataset's) imply, over every clip of
        the manifest ([`folder_sampling`][lifting_dfer.data.folder.folder_sampling])."""
        return folder_sampling(self.all_rows, self.num_frames if num_frames is None else num_frames)


def folder_datasets(
    root: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0, **options: Any
) -> tuple[ClipDataset, ClipDataset | None, FolderDataset]:
    """``(train, val, test)`` of a prepared folder for training: its manifest's splits.

    When the manifest has no ``val`` clips, the training clips are split ``val_fraction`` (stratified, as for the
    paper's datasets; ``None`` for 0). ``options`` go to [`FolderDataset`][lifting_dfer.data.FolderDataset]
    (``num_frames``, ``size``, ``on_corrupt``, ...).
    """
    full = FolderDataset(root, split="train", seed=seed, **options)
    train: ClipDataset = full
    val: ClipDataset | None
    if any(row.split == "val" for row in full.all_rows):
        val = FolderDataset(root, split="val", seed=seed, **options)
    elif val_fraction > 0:
        train, val = train_val_split(train, val_fraction, seed=seed)
    else:
        val = None
    return train, val, FolderDataset(root, split="test", seed=seed, **options)
