"""Path and annotation-file helpers shared by the dataset readers (errors name the file and line)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "AnnotationRow",
    "check_fold",
    "check_split",
    "clip_folders",
    "first_existing",
    "numbered_lines",
    "require_dir",
]


class AnnotationRow(NamedTuple):
    """One labelled clip of a split file: its folder (relative to the frames root), 0-based label, line number."""

    clip: str
    label: int
    line: int


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
