"""The labelled videos given to ``lifting-dfer prepare``: SRC read, exact copies found, splits drawn.

SRC is a folder of ``<label>/<video>`` files (videos may sit in subfolders of a label folder; hidden files and
files that are not videos are ignored) or a CSV of ``video,label[,split]`` rows (paths relative to the CSV's
folder; a header naming the columns is optional). [`list_sources`][lifting_dfer.data.sources.list_sources] reads
it, [`drop_copies`][lifting_dfer.data.sources.drop_copies] finds files with the same bytes and
[`assign_splits`][lifting_dfer.data.sources.assign_splits] draws the stratified splits.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from .folder import SPLITS
from .splits import stratified_split

__all__ = ["Source", "assign_splits", "drop_copies", "list_sources"]


class Source(NamedTuple):
    """One labelled video of SRC."""

    video: Path
    label: str
    split: str | None
    """The split the CSV gives, else ``None`` (assigned by [`assign_splits`][lifting_dfer.data.prepare.assign_splits])."""
    key: str
    """The video's path relative to SRC (or as the CSV writes it): the ``source`` column of the manifest."""
    name: str
    """The clip folder name it asks for (made unique per label)."""
    where: str
    """How messages name it: the path, and ``file:line`` for a CSV row."""


def _video_suffixes() -> tuple[str, ...]:
    from ..video.command import VIDEO_SUFFIXES

    return VIDEO_SUFFIXES


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _clip_name(relative: Path) -> str:
    """A flat folder name for a video's relative path: parts joined by ``__``, suffix dropped."""
    parts = [p for p in relative.with_suffix("").parts if p not in ("", ".", "..", "/")]
    return "__".join(parts) or "video"


def _check_label(label: str, where: str) -> str:
    label = label.strip()
    if not label or label in (".", "..") or label.startswith(".") or any(c in label for c in "/\\\0"):
        raise ValueError(f"{where}: {label!r} cannot name a class folder (expected a name without / or \\ that does "
                         "not start with a dot)")  # fmt: skip
    return label


def _folder_sources(src: Path, notes: list[str]) -> list[Source]:
    suffixes = _video_suffixes()
    entries = sorted(src.iterdir())
    folders = [d for d in entries if d.is_dir() and not d.name.startswith(".")]
    loose = [f.name for f in entries if f.is_file() and f.suffix.lower() in suffixes]
    if loose:
        notes.append(f"ignored {len(loose)} video(s) directly in {src} (no label folder): {', '.join(loose[:3])}"
                     + (", ..." if len(loose) > 3 else ""))  # fmt: skip
    if not folders:
        raise ValueError(f"{src} holds no label folders: expected {src}/<label>/<video> files (one folder per label), "
                         "or give a CSV of video,label[,split]")  # fmt: skip
    sources = []
    for folder in folders:
        label = _check_label(folder.name, str(folder))
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
        if not files:
            raise ValueError(f"label folder {folder} is empty: put the videos of {label!r} there, or remove it")
        videos = [p for p in files if p.suffix.lower() in suffixes]
        if not videos:
            shown = ", ".join(p.name for p in files[:3]) + (", ..." if len(files) > 3 else "")
            raise ValueError(f"label folder {folder} holds no videos ({len(files)} other file(s): {shown}; videos end in "
                             f"{', '.join(suffixes[:5])}, ...): add the videos of {label!r}, or remove it")  # fmt: skip
        if len(videos) < len(files):
            notes.append(f"{folder}: ignored {len(files) - len(videos)} file(s) that are not videos")
        for video in videos:
            sources.append(Source(video, label, None, video.relative_to(src).as_posix(),
                                  _clip_name(video.relative_to(folder)), str(video)))  # fmt: skip
    return sources


_CSV_COLUMNS = {"video": ("video", "path", "file", "clip"), "label": ("label", "class", "emotion"), "split": ("split",)}


def _csv_sources(path: Path, notes: list[str]) -> list[Source]:
    base = path.parent
    sources: list[Source] = []
    seen: dict[str, Source] = {}
    columns: dict[str, int] | None = None
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            fields = [x.strip() for x in row]
            if not any(fields):
                continue
            if columns is None:
                names = [x.lower() for x in fields]
                found = {key: next((i for i, n in enumerate(names) if n in aliases), None)
                         for key, aliases in _CSV_COLUMNS.items()}  # fmt: skip
                if found["video"] is not None and found["label"] is not None:
                    columns = {k: v for k, v in found.items() if v is not None}
                    continue
                columns = {"video": 0, "label": 1, "split": 2}
            where = f"{path}:{number}"
            if len(fields) <= max(columns["video"], columns["label"]):
                raise ValueError(f"{where}: expected video,label[,split], got {row!r}")
            text, label = fields[columns["video"]], _check_label(fields[columns["label"]], where)
            split = fields[columns["split"]] if "split" in columns and len(fields) > columns["split"] else ""
            if split and split not in SPLITS:
                raise ValueError(f"{where}: split: expected one of {', '.join(SPLITS)} (or nothing), got {split!r}")
            if not text:
                raise ValueError(f"{where}: the video column is empty")
            relative = Path(text)
            video = relative if relative.is_absolute() else base / relative
            key = relative.as_posix()
            name = _clip_name(relative) if not relative.is_absolute() and ".." not in relative.parts else video.stem
            source = Source(video, label, split or None, key, name, f"{video} ({where})")
            first = seen.setdefault(key, source)
            if first is not source:
                if first.label != label:
                    raise ValueError(f"the same video is under two labels: {first.where} says {first.label!r}, "
                                     f"{where} says {label!r}: keep one row")  # fmt: skip
                notes.append(f"{where}: {key} is listed again with the same label; counted once")
                continue
            sources.append(source)
    if not sources:
        raise ValueError(f"{path} lists no videos (expected rows of video,label[,split])")
    return sources


def list_sources(src: str | os.PathLike, notes: list[str] | None = None) -> list[Source]:
    """The labelled videos of SRC: a folder of ``<label>/<video>`` files or a CSV of ``video,label[,split]``.

    Raises:
        FileNotFoundError: no SRC.
        ValueError: an empty label folder, a label folder without videos, no label folder, a malformed CSV row,
            a label that cannot name a folder, one CSV video under two labels.
    """
    src = Path(src)
    notes = [] if notes is None else notes
    if src.is_dir():
        return _folder_sources(src, notes)
    if src.is_file():
        return _csv_sources(src, notes)
    raise FileNotFoundError(f"SRC {src} does not exist (expected a folder of <label>/<video> files or a CSV)")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def drop_copies(sources: Sequence[Source]) -> tuple[list[Source], list[tuple[Source, Source]]]:
    """Sources without exact copies (same bytes) of an earlier one: ``(kept, [(left out, its original)])``.

    Only files of equal size are read (SHA-256). Raises ``ValueError`` when the copies have different labels.
    """
    by_size: dict[int, list[Source]] = defaultdict(list)
    for source in sources:
        with contextlib.suppress(OSError):  # a missing file is reported when it is read
            size = source.video.stat().st_size
            if size > 0:
                by_size[size].append(source)
    copies: list[tuple[Source, Source]] = []
    for group in by_size.values():
        if len(group) < 2:
            continue
        by_digest: dict[str, Source] = {}
        for source in group:
            try:
                first = by_digest.setdefault(_digest(source.video), source)
            except OSError:
                continue
            if first is source:
                continue
            if first.label != source.label:
                raise ValueError(f"the same video is under two labels: {first.where} ({first.label}) and "
                                 f"{source.where} ({source.label}) have the same bytes: keep it under one")  # fmt: skip
            copies.append((source, first))
    dropped = {id(s) for s, _ in copies}
    return [s for s in sources if id(s) not in dropped], copies


def assign_splits(sources: Sequence[Source], *, val_fraction: float, test_fraction: float, seed: int) -> dict[str, str]:
    """``{source key: split}``: the CSV's split where it gives one, else stratified by label.

    Per label, ``floor(n * test_fraction + 0.5)`` videos go to test, then ``val_fraction / (1 - test_fraction)`` of
    the rest to val ([`stratified_split`][lifting_dfer.data.stratified_split]); every label keeps at least one
    training video. The same sources and seed always give the same splits.

    Examples:
        >>> from pathlib import Path
        >>> srcs = [Source(Path(f"{y}{i}.mp4"), y, None, f"{y}{i}.mp4", f"{y}{i}", "") for y in "ab" for i in range(10)]
        >>> splits = assign_splits(srcs, val_fraction=0.2, test_fraction=0.2, seed=0)
        >>> sorted(list(splits.values()).count(s) for s in ("train", "val", "test"))
        [4, 4, 12]
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction, test_fraction: expected fractions >= 0 with a sum below 1, got {val_fraction} "
                         f"and {test_fraction}")  # fmt: skip
    splits = {s.key: s.split for s in sources if s.split is not None}
    free = sorted((s for s in sources if s.split is None), key=lambda s: s.key)
    classes = sorted({s.label for s in free})
    labels = [classes.index(s.label) for s in free]
    rest, test = stratified_split(labels, test_fraction, seed=seed)
    train, val = stratified_split([labels[i] for i in rest], val_fraction / (1 - test_fraction), seed=seed + 1)
    for split, indices in (("test", test), ("val", [rest[i] for i in val]), ("train", [rest[i] for i in train])):
        splits.update((free[i].key, split) for i in indices)
    return splits
