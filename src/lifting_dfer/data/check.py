"""Validate a DFEW, FERV39k or MAFW copy (or a folder of your own videos written by ``lifting-dfer prepare``:
[`check_folder`][lifting_dfer.data.check_folder]) before training, and fingerprint it
(``lifting-dfer check-data``).

[`check_dataset`][lifting_dfer.data.check_dataset] reads the copy through the same
[`DatasetLayout`][lifting_dfer.data.DatasetLayout] as the readers, so what it validates is what training reads.
Without ``decode`` it only lists folders and file sizes (no image is opened), which takes seconds for a whole
dataset. It reports:

- the frame folder (DFEW: ``clip_224x224`` or ``clip_224x224_16f``, detected) and the split files;
- clips per split file against the official counts, and the class distribution of each;
- **problems**, which make the copy unusable as is: missing split files, malformed rows, labels outside the class
  list, one clip listed with two labels, clips named in a split file without a frame folder (with the ``frames_dir``
  that holds them when they sit one folder deeper, as after an unzip that doubled a folder), clip folders without
  frames, zero-byte frames, and (``decode=True``) frames that do not decode;
- **warnings**, which leave it usable but belong next to any number reported from it: clip counts that differ from
  the official ones, rows repeated with the same label (counted once), clips in both the training and the test
  file of a fold (a leak), DFEW ``_16f`` clips without exactly 16 frames;
- clips shorter than the sampled length (padded by repetition when loaded, as in the paper's protocol).

The fingerprint is a SHA-256 over the bytes of the split files and, for every clip they name, the names and
sizes of its frame files, with paths relative to the dataset root: a moved copy keeps it; adding, removing,
renaming or resizing a frame, or editing a split file, changes it. Pixels are not read. Training runs record it
(and the frame folder) in their ``config.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

from .._arguments import parse_key_values
from ._io import AnnotationRow, Issue, SplitRows, nested_frames_hint, overlap_warning
from .dfew import DFEW, dfew_layout
from .ferv39k import FERV39k, ferv39k_layout
from .folder import CLIPS, MANIFEST, SPLITS, ManifestRow, folder_classes, parse_manifest
from .frames import CorruptFrameError, is_frame_name, read_frame
from .layout import DatasetLayout
from .mafw import MAFW, mafw_layout

__all__ = [
    "DATASET_LAYOUTS",
    "DataReport",
    "SplitSummary",
    "check_dataset",
    "check_folder",
    "dataset_layout",
    "format_report",
    "main",
]

#: Dataset name -> (reader class, layout builder).
DATASET_LAYOUTS: dict[str, tuple[type, Callable[..., DatasetLayout]]] = {
    "dfew": (DFEW, dfew_layout),
    "ferv39k": (FERV39k, ferv39k_layout),
    "mafw": (MAFW, mafw_layout),
}

_FINGERPRINT_VERSION = "lifting_dfer data fingerprint 1"
_FOLDER_FINGERPRINT_VERSION = "lifting_dfer folder fingerprint 1"
_CHUNK = 64  # clip folders per thread task


class SplitSummary(NamedTuple):
    """One split file: its fold and split, path (relative to the root), clips, official count, clips per class."""

    fold: int
    split: str
    file: str | None
    clips: int
    official: int | None
    classes: dict[str, int]


@dataclass
class DataReport:
    """What [`check_dataset`][lifting_dfer.data.check_dataset] found; ``usable`` when there is no problem."""

    dataset: str
    root: str
    frames_dir: str
    frames_note: str
    num_frames: int
    decoded: bool
    splits: list[SplitSummary]
    clips: int
    frames: int
    bytes: int
    frames_per_clip: dict[str, float]
    short_clips: list[str]
    fingerprint: str
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def usable(self) -> bool:
        return not self.problems

    def record(self) -> dict[str, Any]:
        """The part a training run stores in ``config.json``: dataset, frame folder, fingerprint and sizes."""
        return {
            "dataset": self.dataset,
            "frames_dir": self.frames_dir,
            "fingerprint": self.fingerprint,
            "clips": self.clips,
            "frames": self.frames,
            "bytes": self.bytes,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (the ``--manifest`` file)."""
        return {
            **self.record(),
            "root": self.root,
            "frames_note": self.frames_note,
            "num_frames": self.num_frames,
            "decoded": self.decoded,
            "usable": self.usable,
            "splits": [s._asdict() for s in self.splits],
            "frames_per_clip": self.frames_per_clip,
            "short_clips": self.short_clips,
            "problems": [i._asdict() for i in self.problems],
            "warnings": [i._asdict() for i in self.warnings],
            "seconds": round(self.seconds, 3),
        }


def dataset_layout(dataset: str, root: str | os.PathLike, **options: Any) -> DatasetLayout:
    """The layout of ``dataset`` ("dfew", "ferv39k" or "mafw") at ``root``.

    ``options`` are the reader's keyword arguments (as given to ``--data-arg``): the path options (``frames_dir``,
    ``split_dir``, ``split_file``, ``setup``, ``class_order``, ``label_set``) are used, the others (``on_corrupt``, ...)
    ignored.

    Raises:
        ValueError: an unknown dataset, or an option the reader does not take.
        FileNotFoundError: no ``root``, or no frame folder.
    """
    if dataset not in DATASET_LAYOUTS:
        raise ValueError(f"dataset: expected one of {', '.join(DATASET_LAYOUTS)}, got {dataset!r}")
    reader, build = DATASET_LAYOUTS[dataset]
    takes = inspect.signature(build).parameters
    unknown = sorted(set(options) - set(inspect.signature(reader).parameters))
    if unknown:
        raise ValueError(
            f"{reader.__name__} takes no option {', '.join(unknown)}; the path options are "
            f"{', '.join(k for k in takes if k != 'root')}"
        )
    return build(root, **{k: v for k, v in options.items() if k in takes})


def check_dataset(
    dataset: str,
    root: str | os.PathLike,
    *,
    num_frames: int | None = None,
    decode: bool = False,
    workers: int = 8,
    progress: bool = False,
    **options: Any,
) -> DataReport:
    """Check a dataset copy: counts, class distribution, problems, warnings and fingerprint (module docstring).

    Args:
        dataset: "dfew", "ferv39k", "mafw", or "folder" ([`check_folder`][lifting_dfer.data.check_folder]).
        root: the dataset folder.
        num_frames: the sampled length ``T0`` (default: the paper's, 16; 32 for MAFW); shorter clips are listed.
        decode: also decode every frame (slow: all frames of all clips), listing those that fail.
        workers: threads listing (and decoding) clip folders.
        progress: a progress bar over the clips on stderr.
        options: reader options, see [`dataset_layout`][lifting_dfer.data.dataset_layout].

    Raises:
        ValueError, FileNotFoundError: as [`dataset_layout`][lifting_dfer.data.dataset_layout]; a bad
            ``num_frames`` or ``workers``.
    """
    if dataset == "folder":  # a folder of your own videos, written by lifting-dfer prepare
        return check_folder(root, num_frames=num_frames, decode=decode, workers=workers, progress=progress, **options)
    start = time.perf_counter()
    layout = dataset_layout(dataset, root, **options)
    num_frames = layout.num_frames if num_frames is None else num_frames
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames: expected a positive integer, got {num_frames!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected a positive integer, got {workers!r}")
    problems: list[Issue] = []
    warnings: list[Issue] = []
    parsed, splits = _read_split_files(layout, problems, warnings)

    named: dict[str, tuple[Path, AnnotationRow]] = {}  # clip -> where it is first named
    for path, result in parsed.items():
        for row in result.rows:
            named.setdefault(row.clip, (path, row))
    clips = sorted(named)
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode() + b"\n")
    for path in sorted(parsed, key=layout.relative):
        digest.update(f"split {layout.relative(path)} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())

    counts, short, missing, total_bytes = [], [], list[str](), 0  # missing: clips whose frame folder is absent
    folders = [layout.frames_root / clip for clip in clips]
    scan = partial(_scan_clips, decode=decode)
    chunks = [folders[i : i + _CHUNK] for i in range(0, len(folders), _CHUNK)]  # one task per chunk: little overhead
    with ThreadPoolExecutor(workers) as pool:
        results = chain.from_iterable(pool.map(scan, chunks) if workers > 1 else map(scan, chunks))
        for clip, folder, (frames, issues) in zip(clips, folders, _progress(results, len(clips), progress)):
            rel = layout.relative(folder)
            problems += issues
            if frames is None:
                if not issues:  # no such folder (an unreadable one comes with its issue)
                    path, row = named[clip]
                    hint = "" if missing else nested_frames_hint(layout.frames_root, clip, layout.root)
                    problems += [Issue("nested frames", hint)] if hint else []  # before the list of missing clips
                    missing.append(clip)
                    problems.append(Issue("missing clip", f"{folder} (named at {path}:{row.line})"))
                digest.update(f"clip {rel} missing\n".encode())
                continue
            digest.update((f"clip {rel}\n" + "".join(f"{n} {s}\n" for n, s in frames)).encode())
            total_bytes += sum(s for _, s in frames)
            counts.append(len(frames))
            if not frames:
                problems.append(Issue("empty clip", f"{folder} holds no frame files"))
            elif len(frames) < num_frames:
                short.append(rel)
            if frames and layout.frames_per_clip is not None and len(frames) != layout.frames_per_clip:
                warnings.append(
                    Issue(
                        "frame count",
                        f"{folder} holds {len(frames)} frames, expected "
                        f"{layout.frames_per_clip} in {layout.frames_root.name}",
                    )
                )

    stats = {"min": min(counts), "median": statistics.median(counts), "max": max(counts)} if counts else {}
    return DataReport(
        dataset=layout.name,
        root=str(layout.root),
        frames_dir=layout.relative(layout.frames_root),
        frames_note=layout.frames_note,
        num_frames=num_frames,
        decoded=decode,
        splits=splits,
        clips=len(clips),
        frames=sum(counts),
        bytes=total_bytes,
        frames_per_clip=stats,
        short_clips=short,
        fingerprint="sha256:" + digest.hexdigest(),
        problems=problems,
        warnings=warnings,
        seconds=time.perf_counter() - start,
    )


def check_folder(
    root: str | os.PathLike,
    *,
    num_frames: int | None = None,
    decode: bool = False,
    workers: int = 8,
    progress: bool = False,
    **options: Any,
) -> DataReport:
    """Check a folder written by ``lifting-dfer prepare`` (``lifting-dfer check-data folder DST``).

    Problems (training would fail or learn from wrong data): a malformed manifest row, a clip listed twice, a clip
    folder that is missing or empty, zero-byte (and, with ``decode``, undecodable) frames, fewer frames than the
    manifest says, fewer than 2 classes, a class without training clips, no test clips. Warnings: clips on which a
    face was found on less than half of the frames, classes without validation or test clips.

    The fingerprint is a SHA-256 over the manifest's bytes and the names and sizes of the frame files of every clip
    it names, as for the paper's datasets (module docstring).
    """
    start = time.perf_counter()
    if options:
        raise ValueError(f"the folder dataset takes no option {', '.join(sorted(options))}")
    num_frames = 16 if num_frames is None else num_frames
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames: expected a positive integer, got {num_frames!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected a positive integer, got {workers!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"prepared folder {root} does not exist (or is not a folder)")
    manifest = root / MANIFEST
    rows, problems = parse_manifest(manifest)
    warnings: list[Issue] = []
    splits = _folder_splits(rows, manifest, problems, warnings)
    digest = hashlib.sha256(_FOLDER_FINGERPRINT_VERSION.encode() + b"\n")
    digest.update(f"manifest {hashlib.sha256(manifest.read_bytes()).hexdigest()}\n".encode())
    counts, short, total_bytes = _scan_folder(root, rows, num_frames, decode, workers, progress, digest, problems)
    stats = {"min": min(counts), "median": statistics.median(counts), "max": max(counts)} if counts else {}
    return DataReport(
        dataset="folder",
        root=str(root),
        frames_dir=CLIPS,
        frames_note=f"prepared by lifting-dfer prepare; clips listed in {MANIFEST}",
        num_frames=num_frames,
        decoded=decode,
        splits=splits,
        clips=len(rows),
        frames=sum(counts),
        bytes=total_bytes,
        frames_per_clip=stats,
        short_clips=short,
        fingerprint="sha256:" + digest.hexdigest(),
        problems=problems,
        warnings=warnings,
        seconds=time.perf_counter() - start,
    )


def _folder_splits(
    rows: Sequence[ManifestRow], manifest: Path, problems: list[Issue], warnings: list[Issue]
) -> list[SplitSummary]:
    """Clips per class of each split of a prepared folder; the class and split problems and warnings added."""
    classes = folder_classes(rows)
    splits = []
    for split in SPLITS:
        counts = dict.fromkeys(classes, 0)
        for row in rows:
            if row.split == split:
                counts[row.label] += 1
        splits.append(SplitSummary(1, split, MANIFEST, sum(counts.values()), None, counts))
        empty = [name for name, n in counts.items() if n == 0]
        if split == "train" and empty:
            problems.append(Issue("class without training clips", f"{manifest}: no train clip of {', '.join(empty)}"))
        elif split == "test" and not sum(counts.values()):
            problems.append(
                Issue("no test clips", f"{manifest}: no clip has the split test (training evaluates on it)")
            )
        elif empty:
            warnings.append(Issue(f"class without {split} clips", f"{manifest}: no {split} clip of {', '.join(empty)}"))
    if len(classes) < 2:
        found = f"one label, {classes[0]}" if classes else "no clip"
        problems.append(Issue("fewer than 2 classes", f"{manifest} has {found}: a classifier needs at least 2 labels"))
    for row in rows:
        if row.face_share is not None and row.face_share < 0.5:
            warnings.append(Issue("few faces", f"{row.clip}: a face was found on {100 * row.face_share:.0f}% of its "
                                  f"frames (the others are centre crops); source {row.source}"))  # fmt: skip
    return splits


def _scan_folder(
    root: Path,
    rows: Sequence[ManifestRow],
    num_frames: int,
    decode: bool,
    workers: int,
    progress: bool,
    digest: Any,
    problems: list[Issue],
) -> tuple[list[int], list[str], int]:
    """List the clip folders of ``rows`` (``digest`` updated, problems added): frames per clip, short clips, bytes."""
    folders = [root / CLIPS / row.clip for row in rows]
    chunks = [folders[i : i + _CHUNK] for i in range(0, len(folders), _CHUNK)]
    scan = partial(_scan_clips, decode=decode)
    counts, short, total_bytes = [], [], 0
    with ThreadPoolExecutor(workers) as pool:
        results = chain.from_iterable(pool.map(scan, chunks) if workers > 1 else map(scan, chunks))
        for row, folder, (frames, issues) in zip(rows, folders, _progress(results, len(rows), progress)):
            problems += issues
            if frames is None:
                if not issues:
                    problems.append(Issue("missing clip", f"{folder} (named in {root / MANIFEST})"))
                digest.update(f"clip {row.clip} missing\n".encode())
                continue
            digest.update((f"clip {row.clip}\n" + "".join(f"{n} {s}\n" for n, s in frames)).encode())
            total_bytes += sum(s for _, s in frames)
            counts.append(len(frames))
            if not frames:
                problems.append(Issue("empty clip", f"{folder} holds no frame files"))
            elif len(frames) < row.frames:
                problems.append(Issue("missing frames", f"{folder} holds {len(frames)} frames, the manifest says "
                                      f"{row.frames}"))  # fmt: skip
            if frames and len(frames) < num_frames:
                short.append(row.clip)
    return counts, short, total_bytes


def _read_split_files(
    layout: DatasetLayout, problems: list[Issue], warnings: list[Issue]
) -> tuple[dict[Path, SplitRows], list[SplitSummary]]:
    """Parse every split file of the layout once; summaries per ``(fold, split)``; problems and warnings added."""
    parsed: dict[Path, SplitRows] = {}
    splits = []
    for fold in layout.folds:
        files: dict[str, Path] = {}
        for split in ("train", "test"):
            try:
                path = layout.split_file(fold, split)
            except (FileNotFoundError, ValueError) as err:
                problems.append(Issue("missing split file", str(err).replace("\n", " ")))
                splits.append(SplitSummary(fold, split, None, 0, layout.official_counts.get((fold, split)), {}))
                continue
            if path not in parsed:
                parsed[path] = layout.parse(path)
                problems += parsed[path].errors
                warnings += parsed[path].warnings
            rows = parsed[path].rows
            files[split] = path
            official = layout.official_counts.get((fold, split))
            classes = dict.fromkeys(layout.class_names, 0)
            for row in rows:
                classes[layout.class_names[row.label]] += 1
            splits.append(SplitSummary(fold, split, layout.relative(path), len(rows), official, classes))
        if len(files) == 2 and files["train"] != files["test"]:
            leak = overlap_warning(
                parsed[files["train"]].rows, files["train"], parsed[files["test"]].rows, files["test"]
            )
            if leak:
                warnings.append(Issue("train/test leak", leak))
    differ = [s for s in splits if s.file and s.official is not None and s.clips != s.official]
    if differ and layout.explicit_split_file is None:
        counted = sum(1 for s in splits if s.file)
        warnings.append(
            Issue(
                "clip count",
                f"{len(differ)} of {counted} split files of {layout.root} hold another "
                f"number of clips than the official {layout.name} release (marked (!) in the table): "
                "results on this copy are not comparable with published ones",
            )
        )
    return parsed, splits


def _scan_clips(folders: list[Path], decode: bool) -> list[tuple[list[tuple[str, int]] | None, list[Issue]]]:
    return [_scan_clip(folder, decode) for folder in folders]


def _scan_clip(folder: Path, decode: bool) -> tuple[list[tuple[str, int]] | None, list[Issue]]:
    """``(sorted (name, size) of its frame files, issues)``; ``None`` for a missing or unreadable folder."""
    frames, issues = [], []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not is_frame_name(entry.name):
                    continue
                try:
                    frames.append((entry.name, entry.stat().st_size))
                except OSError as err:  # e.g. a dangling link
                    issues.append(Issue("unreadable frame", f"{folder / entry.name}: {err.strerror or err}"))
    except (FileNotFoundError, NotADirectoryError):
        return None, []
    except OSError as err:
        return None, [Issue("unreadable clip", f"{folder}: {err.strerror or err}")]
    frames.sort()
    for name, size in frames:
        if size == 0:
            issues.append(Issue("zero-byte frame", str(folder / name)))
        elif decode:
            try:
                read_frame(folder / name)
            except (CorruptFrameError, OSError) as err:
                issues.append(Issue("unreadable frame", str(err)))
    return frames, issues


def _progress(items, total: int, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="clips", unit="clip", leave=False, dynamic_ncols=True)


def format_report(report: DataReport, *, limit: int = 20) -> str:
    """The text ``lifting-dfer check-data`` prints; at most ``limit`` issues of each kind are listed."""
    lines = [
        f"{report.dataset} at {report.root}",
        f"frame folder: {report.frames_dir}" + (f" ({report.frames_note})" if report.frames_note else ""),
    ]
    names = list(next((s.classes for s in report.splits if s.classes), {}))
    header = ["fold", "split", "clips", "official", *names]
    table = [header, ["---"] * len(header)]
    for s in report.splits:
        official = "-" if s.official is None else str(s.official)
        flag = "" if s.official is None or s.official == s.clips else " (!)"
        table.append([str(s.fold), s.split, f"{s.clips}{flag}", official, *(str(s.classes.get(n, 0)) for n in names)])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    any_official = any(s.official is not None for s in report.splits)
    lines += [
        "",
        "clips and classes per split file" + (" ((!) differs from the official count):" if any_official else ":"),
    ]
    lines += ["| " + " | ".join(cell.rjust(w) for cell, w in zip(row, widths)) + " |" for row in table]
    lines.append("")
    if report.frames_per_clip:
        fpc = report.frames_per_clip
        lines.append(
            f"{report.clips} clips, {report.frames} frames, {_size(report.bytes)}; frames per clip: "
            f"min {fpc['min']}, median {fpc['median']:g}, max {fpc['max']}"
        )
    n_short = len(report.short_clips)
    if n_short:
        listed = ", ".join(report.short_clips[:5]) + (", ..." if n_short > 5 else "")
        lines.append(
            f"{n_short} clips have fewer than {report.num_frames} frames (padded by repetition when loaded): {listed}"
        )
    lines.append(f"fingerprint: {report.fingerprint}")
    lines.append(
        "frames decoded: " + ("all" if report.decoded else "none (only names and sizes; --decode opens every frame)")
    )
    for title, issues in (("problems", report.problems), ("warnings", report.warnings)):
        if issues:
            lines += ["", f"{title} ({len(issues)}):"]
            lines += _listing(issues, limit)
    verdict = (
        f"usable ({len(report.warnings)} warnings)"
        if report.usable
        else f"{len(report.problems)} problems: fix them before training"
    )
    lines += ["", f"{report.dataset}: {verdict} (checked in {report.seconds:.1f} s)"]
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _listing(issues: Sequence[Issue], limit: int) -> list[str]:
    by_kind: dict[str, list[Issue]] = {}
    for issue in issues:
        by_kind.setdefault(issue.kind, []).append(issue)
    lines = []
    for kind, group in by_kind.items():
        lines += [f"  [{kind}] {issue.message}" for issue in group[:limit]]
        if len(group) > limit:
            lines.append(f"  [{kind}] ... and {len(group) - limit} more (all of them in --manifest FILE)")
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lifting-dfer check-data``."""
    p = argparse.ArgumentParser(
        prog="lifting-dfer check-data",
        description="Check a DFEW, FERV39k or MAFW copy before training: frame folder, clips per split against the "
        "official counts, class distribution, missing clips, empty or zero-byte frames, bad labels, repeated rows, "
        "train/test leaks, short clips, and a fingerprint of the copy. Exit status 0: usable; 1: problems (each "
        "listed with its path); 2: usage error. 'folder' checks a folder written by lifting-dfer prepare (its "
        "manifest, clip folders, classes and splits).",
    )
    p.add_argument("dataset", choices=[*sorted(DATASET_LAYOUTS), "folder"], help="which dataset ROOT holds (folder: "
                   "a folder written by lifting-dfer prepare)")  # fmt: skip
    p.add_argument("root", metavar="ROOT", help="the dataset folder (DFEW/, FERV39k/, MAFW/ or a prepared folder)")
    p.add_argument(
        "--data-arg",
        action="append",
        metavar="KEY=VALUE",
        default=None,
        help="reader option as for training, e.g. frames_dir=clip_224x224_16f or setup=22_scenes (repeatable)",
    )
    p.add_argument(
        "--num-frames",
        type=int,
        default=None,
        help="sampled frames per clip; shorter clips are listed (default: 16; 32 for MAFW)",
    )
    p.add_argument("--decode", action="store_true", help="also decode every frame (slow; lists undecodable ones)")
    p.add_argument("--workers", type=int, default=8, help="threads listing / decoding clip folders (default: 8)")
    p.add_argument(
        "--manifest",
        metavar="FILE",
        default=None,
        help="write counts, fingerprint, problems and warnings as JSON to FILE",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.add_argument("--limit", type=int, default=20, help="issues listed per kind (default: 20; all in --manifest)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lifting-dfer check-data``: exit 0 usable, 1 problems found, 2 usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = parse_key_values(args.data_arg, "--data-arg")
        report = check_dataset(
            args.dataset,
            args.root,
            num_frames=args.num_frames,
            decode=args.decode,
            workers=args.workers,
            progress=args.progress and sys.stderr.isatty(),
            **options,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    status = 1 if report.problems or (args.strict and report.warnings) else 0
    if args.manifest is not None:
        try:
            Path(args.manifest).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        except OSError as err:
            print(f"{parser.prog}: error: cannot write --manifest {args.manifest}: {err}", file=sys.stderr)
            return 2
    try:
        print(format_report(report, limit=args.limit) + (f"\nwrote {args.manifest}" if args.manifest else ""))
        sys.stdout.flush()
    except BrokenPipeError:  # `check-data ... | head`: the reader left; the status still tells the result
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status
