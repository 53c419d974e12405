"""``lifting-dfer prepare SRC DST``: labelled raw videos become a training set of face crops (``--dataset folder``).

SRC is a folder of ``<label>/<video>`` files (videos may sit in subfolders of a label folder), or a CSV of
``video,label[,split]`` rows (paths relative to the CSV's folder; a header naming the columns is optional; see
[`lifting_dfer.data.sources`][lifting_dfer.data.sources]). Each
video is decoded with [`VideoStream`][lifting_dfer.video.VideoStream] and every frame's face cropped by the
[`FaceCropper`][lifting_dfer.video.FaceCropper] of ``predict``, with its box smoothing and its detection rate (about
``DETECTIONS_PER_SECOND`` detections per second of video), so training and inference see faces cropped the same
way. The crops are written to ``DST/clips/<label>/<name>/`` and listed in ``DST/manifest.csv`` (layout:
[`lifting_dfer.data.folder`][lifting_dfer.data.folder]).

- A video in which no face is found is reported by name and left out (``keep_no_face`` keeps it, centre-cropped);
  an unreadable file is reported and skipped; a file that is an exact copy of another under the same label is
  left out (it would leak between splits), under another label it is an error.
- Clips are written to a temporary folder and renamed when complete, so an interruption or a full disk never
  leaves a half-written clip; a rerun skips the clips already finished (``resumes``).
- Videos are processed by ``workers`` processes, each single-threaded (FFmpeg and OpenCV threads set to 1).
- Splits are stratified by label (``test_fraction``, then ``val_fraction``, with ``seed``) unless the CSV gives them;
  the manifest records them, and a rerun keeps the rows it finds.

Bad input (an empty label folder, a label folder without videos, a single label, the same video under two labels,
DST inside SRC, settings that differ from those DST was prepared with) raises ``ValueError`` with one line before
anything is written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from .._atomic import atomic_write_text
from .._optional import optional_import
from .folder import CLIPS, MANIFEST, SPLITS, ManifestRow, folder_classes, parse_manifest, write_manifest
from .sources import Source, assign_splits, drop_copies, list_sources

__all__ = ["PREPARE_RECORD", "ClipResult", "ClipTask", "PrepareReport", "main", "prepare_clip", "prepare_videos"]

PREPARE_RECORD = "prepare.json"
"""File (inside DST) recording the settings the crops were made with."""
CLIP_RECORD = "clip.json"
"""File (inside each finished clip folder) holding its manifest row."""
_FORMAT = "lifting_dfer prepared folder 1"
_CONSISTENT = ("size", "fps", "detect_every", "face_detect", "margin", "jpeg_quality")  # must match on a rerun
_MARGIN = 0.25  # FaceCropper's default: the crop predict makes


class ClipTask(NamedTuple):
    """What one worker does: decode ``video``, crop its faces, write ``DST/clips/<clip>/``."""

    video: str
    label: str
    split: str
    clip: str
    source: str
    root: str
    size: int
    fps: float | None
    detect_every: int | None
    face_detect: bool
    keep_no_face: bool
    jpeg_quality: int


class ClipResult(NamedTuple):
    """What became of a [`ClipTask`][lifting_dfer.data.prepare.ClipTask]."""

    task: ClipTask
    status: Literal["done", "no_face", "unreadable", "write_error"]
    row: ManifestRow | None
    frames: int
    message: str | None
    warnings: tuple[str, ...] = ()


@dataclass
class PrepareReport:
    """What [`prepare_videos`][lifting_dfer.data.prepare.prepare_videos] did (``lifting-dfer prepare`` prints it)."""

    root: Path
    rows: list[ManifestRow]
    """The whole manifest, as written."""
    prepared: list[ManifestRow] = field(default_factory=list)
    """Clips written by this run."""
    reused: int = 0
    """Clips found finished (not redone)."""
    no_face: list[tuple[str, int]] = field(default_factory=list)
    """Videos left out because no face was found: ``(video, frames)``."""
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """Videos skipped: ``(video, reason)``."""
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """Videos left out as exact copies of another under the same label: ``(left out, kept)``."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    """A write error (disk full, ...) that stopped the run; the clips finished before it are kept."""
    interrupted: bool = False
    workers: int = 1
    seconds: float = 0.0
    """Wall time of the decoding and writing (listing and checking SRC excluded)."""

    @property
    def processed(self) -> int:
        """Videos decoded by this run (prepared, left out without a face, or unreadable)."""
        return len(self.prepared) + len(self.no_face) + len(self.unreadable)

    @property
    def clips_per_second(self) -> float | None:
        """Videos processed per second of ``seconds`` (``None`` when nothing was processed)."""
        return self.processed / self.seconds if self.processed and self.seconds > 0 else None


# --- one clip (runs in a worker process) --------------------------------------------------------------------------


def write_frame(path: Path, crop, quality: int) -> None:
    """Write one RGB crop as a JPEG (encoded in memory, so that a full disk raises ``OSError`` from ``write``)."""
    cv2 = optional_import("cv2", extra="video", package="opencv-python-headless")
    ok, data = cv2.imencode(".jpg", crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode the crop {crop.shape} as JPEG")
    with open(path, "wb") as f:
        f.write(data.tobytes())


def prepare_clip(task: ClipTask) -> ClipResult:
    """Decode one video, crop the face of every frame, write the clip folder; never raises for a bad video.

    Frames go to ``.<name>.partial`` beside the clip folder, which is renamed to ``<name>`` once every frame and
    ``clip.json`` are written; on any failure (or an interruption) the partial folder is removed.
    """
    folder = Path(task.root) / CLIPS / task.clip
    partial = folder.with_name(f".{folder.name}.partial")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = _write_clip(task, folder, partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if result.status != "done":
            shutil.rmtree(partial, ignore_errors=True)
    return result._replace(warnings=tuple(dict.fromkeys(str(w.message) for w in caught)))


def _write_clip(task: ClipTask, folder: Path, partial: Path) -> ClipResult:
    from ..video.decode import VideoStream
    from ..video.faces import FaceCropper
    from ..video.pipeline import DETECTIONS_PER_SECOND

    def failed(status, frames: int, message: str) -> ClipResult:
        return ClipResult(task, status, None, frames, message)

    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    except OSError as err:
        return failed("write_error", 0, f"cannot write {partial}: {err.strerror or err}")
    try:
        stream = VideoStream(task.video, fps=task.fps, threads=1)
    except (FileNotFoundError, ValueError) as err:
        return failed("unreadable", 0, str(err))
    frames = 0
    with stream:
        every = task.detect_every or max(1, round(stream.fps / DETECTIONS_PER_SECOND))
        cropper = FaceCropper(task.size, margin=_MARGIN, detect=task.face_detect, detect_every=every)
        try:
            for frame in stream:
                crop = cropper(frame)
                frames += 1
                try:
                    write_frame(partial / f"{frames:06d}.jpg", crop, task.jpeg_quality)
                except OSError as err:
                    return failed("write_error", frames, f"cannot write {folder}: {err.strerror or err}")
        except ValueError as err:
            return failed("unreadable", frames, str(err))
        fps, source_fps = stream.fps, stream.info.source_fps
    if cropper.detects and cropper.frames_with_face == 0 and not task.keep_no_face:
        return failed("no_face", frames, f"no face found on any of its {frames} frames")
    share = cropper.frames_with_face / frames if cropper.detects else None
    row = ManifestRow(task.clip, task.label, task.split, frames, fps, source_fps, share, task.source)
    try:
        (partial / CLIP_RECORD).write_text(json.dumps(row.to_dict(), indent=1) + "\n")
        os.rename(partial, folder)
    except OSError as err:
        return failed("write_error", frames, f"cannot write {folder}: {err.strerror or err}")
    return ClipResult(task, "done", row, frames, None)


# --- the run ------------------------------------------------------------------------------------------------------


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_stop: Any = None  # in a worker process: the parent's multiprocessing Event that says "take no new clip"


def _init_worker(stop: Any) -> None:
    """Each worker process runs single-threaded (one video per CPU is the parallelism) and watches ``stop``."""
    import torch

    global _stop
    _stop = stop
    cv2 = optional_import("cv2", extra="video", package="opencv-python-headless")
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _pooled_clip(task: ClipTask) -> ClipResult | None:
    """[`prepare_clip`][lifting_dfer.data.prepare.prepare_clip] in a worker, or ``None`` once the run is stopping."""
    return None if _stop is not None and _stop.is_set() else prepare_clip(task)


@contextlib.contextmanager
def _single_threaded() -> Iterator[None]:
    cv2 = optional_import("cv2", extra="video", package="opencv-python-headless")
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _run(tasks: Sequence[ClipTask], workers: int, handle: Callable[[ClipResult], bool], progress: bool) -> None:
    """Run ``prepare_clip`` on every task, ``workers`` processes at a time; ``handle`` returns False to stop.

    On a stop (a write error) or an interruption, the clips not started are dropped and those running end (Ctrl-C
    reaches the workers too: they remove their partial folder); clips that finished meanwhile are still handled.
    """
    from tqdm.auto import tqdm

    def bar():
        return tqdm(total=len(tasks), desc="prepare", unit="clip", disable=not progress, dynamic_ncols=True)

    if workers == 1 or len(tasks) <= 1:
        with _single_threaded(), bar() as progress_bar:
            for task in tasks:
                keep_going = handle(prepare_clip(task))
                progress_bar.update()
                if not keep_going:
                    return
        return
    # fork: the workers start at once with everything imported (the prepare code uses no thread before this)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    stop = context.Event()
    pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context, initializer=_init_worker, initargs=(stop,))
    futures = [pool.submit(_pooled_clip, task) for task in tasks]
    handled = set()
    try:
        with bar() as progress_bar:
            for future in as_completed(futures):
                handled.add(future)
                result = None if future.cancelled() else future.result()
                progress_bar.update(result is not None)
                if result is not None and not handle(result):
                    stop.set()
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:  # clips that finished while the run was stopping
            finished = future not in handled and future.done() and not future.cancelled()
            result = future.result() if finished and future.exception() is None else None
            if result is not None:
                handle(result)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _settings_record(dst: Path, settings: dict[str, Any]) -> None:
    """Compare ``settings`` with those DST was prepared with; ``ValueError`` naming the first that differs."""
    path = dst / PREPARE_RECORD
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is unreadable ({err}): DST does not look like a folder lifting-dfer prepare wrote; "
                         "choose a new DST") from err  # fmt: skip
    if not isinstance(stored, dict) or stored.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a record of lifting-dfer prepare (format {_FORMAT!r}); choose a new DST")
    for key in _CONSISTENT:
        if stored.get(key) != settings[key]:
            option = f"--{key.replace('_', '-')}"
            raise ValueError(f"{dst} was prepared with {key} {stored.get(key)!r}, this run asks for {settings[key]!r}: "
                             f"rerun with the same {option}, or choose another DST")  # fmt: skip


def _finished(dst: Path) -> dict[str, ManifestRow]:
    """Rows of the clip folders already finished, by clip (from each folder's ``clip.json``)."""
    rows = {}
    for record in sorted((dst / CLIPS).glob(f"*/*/{CLIP_RECORD}")):
        try:
            row = ManifestRow(**json.loads(record.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # not ours, or damaged: left alone, redone under another name
        rows[row.clip] = row
    return rows


def _unique_names(sources: Sequence[Source], taken: set[str]) -> dict[str, str]:
    """``{source key: clip}`` with clip ``<label>/<name>`` unique among ``taken`` and each other."""
    clips = {}
    for source in sorted(sources, key=lambda s: s.key):
        base = f"{source.label}/{source.name}"
        candidates = [base, f"{base}_{source.video.suffix.lstrip('.').lower()}"]
        clip = next((c for c in candidates if c not in taken), None)
        n = 2
        while clip is None:
            clip = f"{base}_{n}" if f"{base}_{n}" not in taken else None
            n += 1
        taken.add(clip)
        clips[source.key] = clip
    return clips


def prepare_videos(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    workers: int | None = None,
    size: int = 224,
    fps: float | None = None,
    detect_every: int | None = None,
    face_detect: bool = True,
    keep_no_face: bool = False,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    jpeg_quality: int = 95,
    progress: bool = False,
) -> PrepareReport:
    """Turn the labelled videos of ``src`` into the prepared folder ``dst`` (see the module docstring).

    Args:
        src: a folder of ``<label>/<video>`` files, or a CSV of ``video,label[,split]``.
        dst: the prepared folder (created; a rerun continues it).
        workers: processes decoding videos (default: the CPUs available).
        size: side of the face crops written (``predict`` crops to the checkpoint's input size; training resizes).
        fps: write frames at this rate at most (default: the video's own; see
            [`VideoStream`][lifting_dfer.video.VideoStream]).
        detect_every: run the face detector on every k-th frame (default: about 3 times per second, as ``predict``).
        face_detect: ``False`` for centre crops (videos that show only the face already).
        keep_no_face: keep videos in which no face was found (centre crops), instead of leaving them out.
        val_fraction, test_fraction, seed: the stratified split of the videos the CSV gives no split.
        jpeg_quality: JPEG quality of the frames (0-100).
        progress: a progress bar (clips, clips/s) on stderr.

    Raises:
        FileNotFoundError, ValueError: bad input (see the module docstring); nothing is written then.
        OSError: the manifest could not be written (the finished clip folders are kept; a rerun lists them).
    """
    workers = default_workers() if workers is None else workers
    settings = _settings(workers, size, fps, detect_every, face_detect, keep_no_face, jpeg_quality)
    src, dst = Path(src), Path(dst)
    notes: list[str] = []
    sources, copies = _read_source(src, dst, notes)
    splits = assign_splits(sources, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    _check_detector(face_detect, size)
    settings.update(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, source=str(src.resolve()))
    rows = _open_destination(dst, settings)
    todo = [s for s in sources if s.key not in {row.source for row in rows.values()}]
    tasks = _tasks(todo, splits, rows, dst, settings)
    report = PrepareReport(
        dst, [], reused=len(sources) - len(todo), notes=notes, workers=min(workers, max(1, len(tasks)))
    )
    report.duplicates = [(a.where, b.where) for a, b in copies]
    _execute(tasks, workers, report, rows, progress)
    return report


def _settings(
    workers: int,
    size: int,
    fps: float | None,
    detect_every: int | None,
    face_detect: bool,
    keep_no_face: bool,
    jpeg_quality: int,
) -> dict[str, Any]:
    """The checked crop settings, as ``prepare.json`` records them."""
    from ..video.decode import check_fps

    for name, value, low in (("workers", workers, 1), ("size", size, 16), ("jpeg_quality", jpeg_quality, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    if jpeg_quality > 100:
        raise ValueError(f"jpeg_quality: expected 0..100, got {jpeg_quality}")
    if detect_every is not None and (not isinstance(detect_every, int) or detect_every < 1):
        raise ValueError(f"detect_every: expected a positive integer, got {detect_every!r}")
    return {"format": _FORMAT, "size": size, "fps": check_fps(fps, "fps"), "detect_every": detect_every,
            "face_detect": face_detect, "margin": _MARGIN, "jpeg_quality": jpeg_quality,
            "keep_no_face": keep_no_face}  # fmt: skip


def _read_source(src: Path, dst: Path, notes: list[str]) -> tuple[list[Source], list[tuple[Source, Source]]]:
    """The labelled videos of SRC without exact copies, and the copies; bad input raises ``ValueError``."""
    if src.is_dir() and dst.resolve().is_relative_to(src.resolve()):
        raise ValueError(
            f"DST {dst} is inside SRC {src}: its folders would be read as labels; choose a DST outside SRC"
        )
    sources = list_sources(src, notes)
    labels = sorted({s.label for s in sources})
    if len(labels) < 2:
        raise ValueError(f"{src} has a single label, {labels[0]!r}: a classifier needs at least 2 (one folder, or one "
                         "label in the CSV, per class)")  # fmt: skip
    return drop_copies(sources)


def _open_destination(dst: Path, settings: dict[str, Any]) -> dict[str, ManifestRow]:
    """Create DST (or check that a rerun matches it) and return the rows of its finished clips, by clip.

    The manifest's rows come first (a user's edits stay), then the ``clip.json`` of finished clip folders it does not
    list (a run stopped before writing it); partial folders of a killed run are removed.
    """
    rows: dict[str, ManifestRow] = {}
    if dst.exists():
        if not dst.is_dir():
            raise ValueError(f"DST {dst} exists and is not a folder")
        if (dst / PREPARE_RECORD).exists():
            _settings_record(dst, settings)
        elif any(dst.iterdir()):
            raise ValueError(f"DST {dst} is not empty and was not written by lifting-dfer prepare (no {PREPARE_RECORD}): "
                             "choose a new or empty folder")  # fmt: skip
        if (dst / MANIFEST).exists():
            listed, issues = parse_manifest(dst / MANIFEST)
            if issues:
                raise ValueError(f"{issues[0].message} (fix or delete {dst / MANIFEST}; the clip folders are kept and "
                                 "listed again)")  # fmt: skip
            rows = {row.clip: row for row in listed if (dst / CLIPS / row.clip).is_dir()}
    dst.mkdir(parents=True, exist_ok=True)
    if not (dst / PREPARE_RECORD).exists():
        atomic_write_text(dst / PREPARE_RECORD, json.dumps(settings, indent=1) + "\n")
    for stale in (dst / CLIPS).glob("*/.*.partial"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    for clip, row in _finished(dst).items():
        rows.setdefault(clip, row)
    return rows


def _tasks(
    todo: Sequence[Source], splits: dict[str, str], rows: dict[str, ManifestRow], dst: Path, settings: dict[str, Any]
) -> list[ClipTask]:
    """One task per video still to prepare, its clip named uniquely among the clips and folders of DST."""
    taken = set(rows) | {p.relative_to(dst / CLIPS).as_posix() for p in (dst / CLIPS).glob("*/*")}
    names = _unique_names(todo, taken)
    return [ClipTask(str(s.video), s.label, splits[s.key], names[s.key], s.key, str(dst), settings["size"],
                     settings["fps"], settings["detect_every"], settings["face_detect"], settings["keep_no_face"],
                     settings["jpeg_quality"]) for s in todo]  # fmt: skip


def _execute(
    tasks: Sequence[ClipTask], workers: int, report: PrepareReport, rows: dict[str, ManifestRow], progress: bool
) -> None:
    """Run the tasks, fill ``report`` and write the manifest of every finished clip, also after a failure."""

    def handle(result: ClipResult) -> bool:
        report.warnings.extend(result.warnings)
        if result.status == "done" and result.row is not None:
            rows[result.row.clip] = result.row
            report.prepared.append(result.row)
        elif result.status == "no_face":
            report.no_face.append((result.task.video, result.frames))
        elif result.status == "unreadable":
            report.unreadable.append((result.task.video, result.message or ""))
        else:
            report.error = result.message
            return False
        return True

    start = time.perf_counter()
    try:
        _run(tasks, workers, handle, progress)
    except KeyboardInterrupt:
        report.interrupted = True
    except BrokenExecutor as err:  # a worker died (killed, out of memory, a crash in a decoder)
        report.error = f"a worker process stopped unexpectedly ({err})"
    finally:
        report.seconds = time.perf_counter() - start
        report.rows = sorted(rows.values(), key=lambda r: r.clip)
        try:
            write_manifest(report.root, report.rows)
        except OSError as err:
            raise OSError(f"cannot write {report.root / MANIFEST}: {err.strerror or err}; the {len(rows)} finished "
                          f"clips are kept in {report.root / CLIPS} and a rerun lists them") from err  # fmt: skip


def _check_detector(face_detect: bool, size: int) -> None:
    """``ValueError`` when face detection is asked for but this OpenCV has no Haar cascade."""
    if not face_detect:
        return
    from ..video.faces import FaceCropper

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detects = FaceCropper(size).detects
    if not detects:
        raise ValueError("face detection needs OpenCV's Haar cascades, which this OpenCV lacks (OpenCV 5): pip install "
                         "'opencv-python-headless>=4.8,<5', or pass --no-face-detect for videos that show only the face")  # fmt: skip


# --- command line -------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lifting-dfer prepare``."""
    p = argparse.ArgumentParser(
        prog="lifting-dfer prepare",
        description="Turn labelled videos into a training set: crop the face of every frame (the cropper, box "
        "smoothing and detection rate of predict), write DST/clips/<label>/<name>/ frame folders and "
        "DST/manifest.csv (clip, label, split, frames, fps, source fps, share of frames with a face). Train on it "
        "with: lifting-dfer train --dataset folder --data-root DST. A rerun continues where a run stopped. Exit "
        "status 0: done; 1: some videos were unreadable, or a write failed (the finished clips are kept); 2: bad "
        "input (nothing written).",
    )
    p.add_argument("src", metavar="SRC", help="a folder of <label>/<video> files, or a CSV of video,label[,split]")
    p.add_argument("dst", metavar="DST", help="the prepared folder (created; a rerun continues it)")
    p.add_argument("--workers", type=int, default=None, help="processes, one video each (default: the CPUs)")
    p.add_argument("--size", type=int, default=224, help="side of the face crops in pixels (default: 224)")
    p.add_argument("--fps", type=float, default=None, help="write at most F frames per second (default: every frame)")
    p.add_argument("--detect-every", type=int, default=None, metavar="K",
                   help="run the face detector on every K-th frame (default: about 3 times per second, as predict)")  # fmt: skip
    p.add_argument("--no-face-detect", dest="face_detect", action="store_false",
                   help="centre crops, no face detection (videos that show only the face)")  # fmt: skip
    p.add_argument("--keep-no-face", action="store_true",
                   help="keep videos in which no face is found (centre crops) instead of leaving them out")  # fmt: skip
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of each label's videos for validation "
                   "(default: 0.15; unless the CSV gives splits)")  # fmt: skip
    p.add_argument("--test-fraction", type=float, default=0.15, help="share of each label's videos for the test "
                   "(default: 0.15)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of the frames (default: 95)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def _counts(rows: Sequence[ManifestRow]) -> str:
    parts = []
    for label in folder_classes(rows):
        mine = [r for r in rows if r.label == label]
        per_split = ", ".join(f"{s} {n}" for s in SPLITS if (n := sum(r.split == s for r in mine)))
        parts.append(f"{label} {len(mine)} ({per_split})")
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lifting-dfer prepare``; returns the exit status (see ``build_parser``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        report = prepare_videos(
            args.src, args.dst, workers=args.workers, size=args.size, fps=args.fps, detect_every=args.detect_every,
            face_detect=args.face_detect, keep_no_face=args.keep_no_face, val_fraction=args.val_fraction,
            test_fraction=args.test_fraction, seed=args.seed, jpeg_quality=args.jpeg_quality,
            progress=args.progress and sys.stderr.isatty(),
        )  # fmt: skip
    except (FileNotFoundError, NotADirectoryError, ValueError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"note: {note}")
    for left_out, kept in report.duplicates:
        print(f"left out, a copy of {kept}: {left_out}")
    for video, frames in report.no_face:
        print(f"left out, no face found on its {frames} frames: {video}")
    for video, reason in report.unreadable:
        print(f"{prog}: skipped {video}: {reason}", file=sys.stderr)
    for message in dict.fromkeys(report.warnings):
        print(f"{prog}: warning: {message}", file=sys.stderr)
    rate = report.clips_per_second
    speed = f" in {report.seconds:.1f} s ({rate:.2f} clips/s, {report.workers} worker(s))" if rate else ""
    print(f"prepared {len(report.prepared)} clip(s){speed}; {report.reused} were already done")
    print(f"{report.root}: {len(report.rows)} clips, {_counts(report.rows)}")
    print(f"wrote {report.root / MANIFEST}; check it with: lifting-dfer check-data folder {report.root}")
    if report.error:
        print(f"{prog}: error: {report.error}; the {len(report.rows)} finished clips are kept: free some space "
              "and rerun the same command to continue", file=sys.stderr)  # fmt: skip
        return 1
    if report.interrupted:
        print(f"{prog}: interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
    if not report.rows:
        print(f"{prog}: error: {report.root} holds no clip: every video was left out or unreadable", file=sys.stderr)
        return 1
    return 1 if report.unreadable else 0
