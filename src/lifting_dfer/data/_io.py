"""Path and annotation-file helpers shared by the dataset readers (errors name the file and line)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "AnnotationRow",
    "Issue",
    "SplitRows",
    "check_fold",
    "check_split",
    "clip_folders",
    "first_existing",
    "numbered_lines",
    "overlap_warning",
    "require_dir",
    "split_fields",
    "unique_rows",
]


class AnnotationRow(NamedTuple):
    """One labelled clip of a split file: its folder (relative to the frames root), 0-based label, line number."""

    clip: str
    label: int
    line: int


class Issue(NamedTuple):
    """Something wrong with a dataset copy: a short ``kind`` ("bad label", "missing clip", ...) and a message
    naming the file (``file:line`` for split files)."""

    kind: str
    message: str


class SplitRows(NamedTuple):
    """A parsed split file: its clips (each once, in file order) and every problem found in it.

    ``errors`` make the file unusable (a malformed row, a label outside the class list, one clip with two
    labels); ``warnings`` do not (a row repeated with the same label, counted once).
    """

    rows: list[AnnotationRow]
    errors: list[Issue]
    warnings: list[Issue]

    @classmethod
    def build(
        cls, rows: Sequence[AnnotationRow], errors: list[Issue], path: Path, class_names: Sequence[str], empty: str
    ) -> SplitRows:
        """The rows parsed from ``path`` with repeated clips resolved (``unique_rows``), and the error ``empty``
        when no clip is left."""
        unique, conflicts, warnings = unique_rows(rows, path, class_names)
        errors = errors + conflicts
        if not unique and not errors:
            errors.append(Issue("empty split file", empty))
        return cls(unique, errors, warnings)

    def checked(self, path: Path, logger: logging.Logger) -> list[AnnotationRow]:
        """The rows, after raising ``ValueError`` on the first error and logging the warnings."""
        if self.errors:
            more = len(self.errors) - 1
            tail = f" ({more} more problem(s) in this file; `lifting-dfer check-data` lists them all)" if more else ""
            raise ValueError(self.errors[0].message + tail)
        for issue in self.warnings:
            logger.warning("%s", issue.message)
        return self.rows


def require_dir(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {path} does not exist (or is not a folder)")
    return path


def first_existing(candidates: Sequence[Path], what: str, *, hint: str = "") -> Path:
    """The first existing path among ``candidates``, else ``FileNotFoundError`` listing all of them."""
    for c in candidates:
        if c.exists():
            return c
    tried = "\n  ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"{what} not found; looked for:\n  {tried}" + (f"\n{hint}" if hint else ""))


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, stripped_text)`` for the non-blank lines of a text file (1-based line numbers)."""
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if text:
                yield number, text


def split_fields(text: str) -> list[str]:
    """The fields of a split-file row: separated by commas when the row has one (spaces around them dropped),
    else by whitespace.

    Examples:
        >>> split_fields("Action/Sad/0010, Sad"), split_fields("00025.mp4 anger")
        (['Action/Sad/0010', 'Sad'], ['00025.mp4', 'anger'])
    """
    if "," in text:
        return [field.strip() for field in text.split(",")]
    return text.split()


def unique_rows(
    rows: Sequence[AnnotationRow], path: Path, class_names: Sequence[str]
) -> tuple[list[AnnotationRow], list[Issue], list[Issue]]:
    """Drop repeated clips of one split file: ``(unique rows, errors, warnings)``.

    A clip listed again with the same label is a warning (kept once, at its first line); with another label it
    is an error naming the file, both lines and the clip.
    """
    first: dict[str, AnnotationRow] = {}
    unique: list[AnnotationRow] = []
    errors: list[Issue] = []
    warnings: list[Issue] = []
    for row in rows:
        seen = first.setdefault(row.clip, row)
        if seen is row:
            unique.append(row)
        elif seen.label == row.label:
            warnings.append(
                Issue(
                    "repeated row",
                    f"{path}:{row.line}: clip {row.clip!r} is listed again (first at "
                    f"line {seen.line}, same label {class_names[row.label]}); counted once",
                )
            )
        else:
            errors.append(
                Issue(
                    "conflicting labels",
                    f"{path}:{row.line}: clip {row.clip!r} has two labels: "
                    f"{class_names[seen.label]} at line {seen.line} and {class_names[row.label]} at line "
                    f"{row.line}",
                )
            )
    return unique, errors, warnings


def overlap_warning(
    train: Sequence[AnnotationRow], train_file: Path, test: Sequence[AnnotationRow], test_file: Path
) -> str | None:
    """A message naming the clips listed in both the training and the test file of one fold (a leak), or None."""
    train_lines = {row.clip: row.line for row in train}
    shared = [row for row in test if row.clip in train_lines]
    if not shared:
        return None
    listed = ", ".join(
        f"{row.clip!r} ({train_file.name}:{train_lines[row.clip]}, {test_file.name}:{row.line})" for row in shared[:10]
    )
    more = f" and {len(shared) - 10} more" if len(shared) > 10 else ""
    return (
        f"{len(shared)} clip(s) of the test file {test_file} are also in the training file {train_file} "
        f"(a train/test leak): {listed}{more}"
    )


def check_fold(fold: int, num_folds: int = 5) -> int:
    if not isinstance(fold, int) or not 1 <= fold <= num_folds:
        raise ValueError(f"fold: expected an integer in 1..{num_folds}, got {fold!r}")
    return fold


def check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    return split


def clip_folders(rows: Sequence[AnnotationRow], frames_root: Path, split_file: Path) -> list[Path]:
    """``frames_root / row.clip`` for each row; ``FileNotFoundError`` naming ``file:line`` for a missing folder."""
    folders = []
    for row in rows:
        folder = frames_root / row.clip
        if not folder.is_dir():
            raise FileNotFoundError(f"{split_file}:{row.line}: clip {row.clip!r} has no frame folder {folder}")
        folders.append(folder)
    return folders
