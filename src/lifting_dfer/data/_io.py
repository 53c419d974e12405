"""Path and annotation-file helpers shared by the dataset readers (errors name the file and line)."""

from __future__ import annotations

import codecs
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
    "nested_frames_hint",
    "numbered_lines",
    "overlap_warning",
    "raw_lines",
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


def raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line_number, stripped_bytes)`` for the non-blank lines of a file (1-based; a UTF-8 BOM and the CR of
    CRLF line ends dropped), undecoded: a reader decodes the fields it needs (MAFW's GBK captions stay bytes)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            text = (line.removeprefix(codecs.BOM_UTF8) if number == 1 else line).strip()
            if text:
                yield number, text


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, stripped_text)`` for the non-blank lines of a UTF-8 text file (1-based line numbers).

    Raises:
        ValueError: a line that is not UTF-8, naming ``file:line`` and the byte.
    """
    for number, line in raw_lines(path):
        try:
            yield number, line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path}:{number}: not UTF-8 text (byte {line[err.start]:#04x} at column {err.start + 1}); "
                f"split files are plain UTF-8 text"
            ) from None


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


def nested_frames_hint(frames_root: Path, clip: str, root: Path | None = None) -> str:
    """A hint when ``clip`` is missing from ``frames_root`` but sits one folder deeper, else ``""``.

    Unzipping often doubles a folder (``2_ClipsforFaceCrop/2_ClipsforFaceCrop/...``, ``data/frames/frames/...``);
    then every clip is missing. Looked at: ``frames_root / frames_root.name``, and the only folder inside
    ``frames_root`` when there is one. The suggested ``frames_dir`` is relative to the dataset ``root`` when given.
    """
    candidates = [frames_root / frames_root.name]
    try:
        inside = [p for p in frames_root.iterdir() if p.is_dir()]
    except OSError:
        inside = []
    candidates += inside if len(inside) == 1 else []
    found = next((c for c in candidates if (c / clip).is_dir()), None)
    if found is None:
        return ""
    given = found.relative_to(root).as_posix() if root is not None and found.is_relative_to(root) else str(found)
    return (
        f"the clip folders are one level deeper, in {found} (a folder doubled when unzipping?): pass "
        f"frames_dir={given!r} (--data-arg frames_dir={given})"
    )


def clip_folders(
    rows: Sequence[AnnotationRow], frames_root: Path, split_file: Path, root: Path | None = None
) -> list[Path]:
    """``frames_root / row.clip`` for each row; ``FileNotFoundError`` naming ``file:line`` for a missing folder
    (with [`nested_frames_hint`][lifting_dfer.data._io.nested_frames_hint]'s suggestion when it has one)."""
    folders = []
    for row in rows:
        folder = frames_root / row.clip
        if not folder.is_dir():
            hint = nested_frames_hint(frames_root, row.clip, root)
            raise FileNotFoundError(
                f"{split_file}:{row.line}: clip {row.clip!r} has no frame folder {folder}"
                + (f"; {hint}" if hint else "")
            )
        folders.append(folder)
    return folders
