"""Where one copy of DFEW, FERV39k or MAFW keeps its frames and split files, and how its split files are read.

The readers ([`DFEW`][lifting_dfer.data.DFEW], [`FERV39k`][lifting_dfer.data.FERV39k],
[`MAFW`][lifting_dfer.data.MAFW]) and `lifting-dfer check-data` ([`check_dataset`][lifting_dfer.data.check_dataset])
resolve paths through the same [`DatasetLayout`][lifting_dfer.data.DatasetLayout], built by
[`dfew_layout`][lifting_dfer.data.dfew_layout], [`ferv39k_layout`][lifting_dfer.data.ferv39k_layout] or
[`mafw_layout`][lifting_dfer.data.mafw_layout]: what the check validates is what training reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._io import AnnotationRow, SplitRows, check_fold, check_split, clip_folders, first_existing, overlap_warning

__all__ = ["DatasetLayout"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset copy: its frame folder, its split files per ``(fold, split)`` and how to parse them.

    Args:
        name: the dataset's name in messages ("DFEW").
        root: the dataset folder.
        frames_root: the folder holding one frame folder per clip.
        frames_note: how ``frames_root`` was chosen (e.g. which DFEW frame sets exist), for reports.
        class_names: class names in label-index order.
        folds: the official folds (``(1,)`` for a single train/test split).
        split_candidates: ``(fold, split) -> paths`` to try, in order, for that split file.
        parse: reads one split file into [`SplitRows`][lifting_dfer.data.SplitRows] without raising on bad rows.
        num_frames: frames the paper samples per clip (16; 32 for MAFW).
        official_counts: ``(fold, split) -> clips`` of the official release.
        frames_per_clip: the exact frame count of every clip when the frame set fixes it (DFEW's ``_16f``: 16).
        explicit_split_file: a single split file given by the user for every split (no official lookup).
        where: how a split file is described in errors, formatted with ``fold``.
    """

    name: str
    root: Path
    frames_root: Path
    class_names: tuple[str, ...]
    folds: tuple[int, ...]
    split_candidates: Callable[[int, str], list[Path]]
    parse: Callable[[Path], SplitRows]
    num_frames: int
    official_counts: Mapping[tuple[int, str], int] = field(default_factory=dict)
    frames_note: str = ""
    frames_per_clip: int | None = None
    explicit_split_file: Path | None = None
    where: str = "fold {fold}"

    def split_file(self, fold: int, split: str) -> Path:
        """The split file of ``(fold, split)``; ``FileNotFoundError`` listing every path tried."""
        check_split(split)
        check_fold(fold, max(self.folds))
        if self.explicit_split_file is not None:
            return first_existing([self.explicit_split_file], f"{self.name} split file")
        what = f"{self.name} {split} split file of {self.where.format(fold=fold)}"
        return first_existing(self.split_candidates(fold, split), what)

    def read_split(self, path: str | os.PathLike) -> list[AnnotationRow]:
        """The rows of a split file; ``ValueError`` on the first bad row (naming ``file:line``), warnings logged."""
        path = Path(path)
        return self.parse(path).checked(path, logger)

    def load(self, fold: int, split: str) -> tuple[Path, list[AnnotationRow], list[Path]]:
        """``(split file, rows, frame folders)`` of ``(fold, split)``, every folder checked to exist.

        For the official test split, clips also listed in the training file of the same fold are logged as a
        train/test leak.
        """
        path = self.split_file(fold, split)
        rows = self.read_split(path)
        if split == "test" and self.explicit_split_file is None:
            self._warn_leak(fold, rows, path)
        return path, rows, clip_folders(rows, self.frames_root, path, self.root)

    def _warn_leak(self, fold: int, test_rows: list[AnnotationRow], test_file: Path) -> None:
        try:
            train_file = next((p for p in self.split_candidates(fold, "train") if p.is_file()), None)
        except (FileNotFoundError, ValueError):  # the training side has its own error when it is loaded
            return
        if train_file is None:
            return
        message = overlap_warning(self.parse(train_file).rows, train_file, test_rows, test_file)
        if message:
            logger.warning("%s", message)

    def relative(self, path: Path) -> str:
        """``path`` relative to the dataset root when inside it (POSIX separators), else absolute."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)
