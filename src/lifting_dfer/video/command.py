"""The ``predict`` and ``explain`` commands of ``lifting-dfer`` (``cli.py`` parses their arguments).

``predict`` takes one video or a folder of videos (each file gets its own outputs; an unreadable one is reported
and skipped, and a summary table follows). It checks the output folder and the inputs before loading the model,
then says in its first line which frame rate it samples at (the checkpoint's training rate by default).
Exit status: 0 when every video was processed, 1 when some of a folder's files were skipped, 2 for a user
error (one line on stderr) or when no video could be processed.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import CommandError
from ..loading import checkpoint_geometry, load_model, resolve_device
from ..normalization import checkpoint_normalization
from .backends import WindowBackend, load_backend
from .decode import VideoStream
from .faces import FaceCropper
from .normalize import normalize_frames
from .outputs import write_outputs
from .pipeline import DETECTIONS_PER_SECOND, predict_video
from .sampling import TrainingSampling, checkpoint_sampling, choose_rate
from .truncated import decoded_window

__all__ = ["VIDEO_SUFFIXES", "find_videos", "rate_line", "run_explain", "run_predict"]

#: File name suffixes a folder given to ``predict`` is searched for (case-insensitive, not recursive).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts")


def find_videos(path: Path) -> list[Path]:
    """``[path]`` for a file; the video files of a folder, sorted by name.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a folder without video files.
    """
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if not path.is_dir():
        return [path]
    videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                    and not p.name.startswith("."))  # fmt: skip
    if not videos:
        raise ValueError(f"no video files in the folder {path} (looked for {', '.join(VIDEO_SUFFIXES)})")
    return videos


def _output_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--output-dir: {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CommandError(f"--output-dir: cannot create {out} ({err.strerror or err})") from err
    return out


def rate_line(fps: float | str | None, sampling: TrainingSampling | None) -> str:
    """The first line of ``predict``: which frame rate windows are sampled at, and why.

    Examples:
        >>> from lifting_dfer.video import training_sampling
        >>> print(rate_line(None, training_sampling("dfew", 16)).replace("; ", ";\\n"))
        sampling at 5.19 fps, the training rate of the checkpoint (DFEW: 16 frames over 3.08 s per clip on average);
        --fps overrides
    """
    if fps == "native":
        return "sampling at each video's own frame rate (--fps native)"
    if fps is not None:
        return f"sampling at {fps:g} fps (--fps), at most each video's own rate"
    if sampling is not None and sampling.fps is not None:
        return (f"sampling at {sampling.fps:.2f} fps, the training rate of the checkpoint ({sampling.describe()}); "
                "--fps overrides")  # fmt: skip
    why = (f"its training data ({sampling.describe()}) has no time base" if sampling is not None
           else "the checkpoint does not record the frame rate of its training clips")  # fmt: skip
    return f"note: {why}; sampling at each video's own frame rate (pass --fps to choose)"


def _stems(videos: list[Path]) -> list[str]:
    """Output stems: the file stem, or stem plus suffix where two videos of a folder share a stem."""
    counts = Counter(v.stem for v in videos)
    return [v.stem if counts[v.stem] == 1 else f"{v.stem}_{v.suffix.lstrip('.')}" for v in videos]


def _summary_row(video: Path, result: dict | None, error: str | None) -> list[str]:
    if result is None:
        return [video.name, "-", "-", "-", "-", "-", "-", "-", f"skipped: {error}"]
    names = result["class_names"]
    mean = np.mean([[w["probabilities"][n] for n in names] for w in result["windows"]], axis=0)
    seconds_of_video = result["num_frames"] / result["fps"]
    faces = result["face_detection"]
    share = faces["frames_with_face"] / max(1, faces["frames_with_face"] + faces["fallback_frames"])
    return [video.name, f"{seconds_of_video:.1f}", str(result["num_frames"]), str(len(result["windows"])),
            names[int(np.argmax(mean))], f"{100 * share:.0f}%", f"{result['seconds']:.1f}",
            f"{seconds_of_video / result['seconds']:.2f}", "ok"]  # fmt: skip


def _print_table(rows: list[list[str]]) -> None:
    header = ["video", "seconds", "frames", "windows", "top (mean)", "faces", "wall s", "real-time x", "status"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def run_predict(args: argparse.Namespace) -> int:
    """``lifting-dfer predict`` (see the module docstring)."""
    if Path(args.checkpoint).suffix.lower() == ".torchscript":
        raise CommandError(
            f"--checkpoint: {args.checkpoint} is a TorchScript export, for deployment (torch.jit.load, LibTorch); "
            "predict runs the checkpoint it was exported from, or its ONNX export (lifting-dfer export CKPT)"
        )
    out_dir = _output_dir(args.output_dir)
    source = Path(args.video)
    videos = find_videos(source)
    name = args.backend or ("onnxruntime" if Path(args.checkpoint).suffix.lower() == ".onnx" else "pytorch")
    backend: WindowBackend = load_backend(name, args.checkpoint, device=args.device, precision=args.precision)
    info = backend.info
    print(rate_line(args.fps, info.sampling))
    rows, failures = [], 0
    for video, stem in zip(videos, _stems(videos)):
        try:
            result = predict_video(
                backend, video, stride=args.stride, fps=args.fps, face_detect=not args.no_face_detect,
                detect_every=args.detect_every, batch_size=args.batch_size, progress=sys.stderr.isatty(),
            )  # fmt: skip
        except (ValueError, FileNotFoundError) as err:
            if not source.is_dir():
                raise
            failures += 1
            print(f"lifting-dfer predict: skipped {video}: {err}", file=sys.stderr)
            rows.append(_summary_row(video, None, str(err)))
            continue
        result = {**result, "checkpoint": str(args.checkpoint), "arch": getattr(backend, "arch", None),
                  "input_size": info.input_size}  # fmt: skip
        written = write_outputs(result, out_dir, stem, table_format=args.format, plot=not args.no_plot)
        rows.append(_summary_row(video, result, None))
        counts, duration = result["face_detection"], result["num_frames"] / result["fps"]
        windows = len(result["windows"])
        print(
            f"{video.name}: {result['num_frames']} frames at {result['fps']:.2f} fps, {windows} window{'s' * (windows != 1)} "
            f"of {info.num_frames} frames; face found on {counts['frames_with_face']} frames; "
            f"{result['seconds']:.1f} s ({duration / result['seconds']:.2f}x real time, {info.precision})"
        )
        for path in written:
            print(f"wrote {path}")
    if source.is_dir():
        print()
        _print_table(rows)
    if failures == len(videos):
        return 2
    return 1 if failures else 0


def _window_crops(
    video: Path, size: int, fps: float, *, face_detect: bool, detect_every: int, start: int, num_frames: int
) -> tuple[np.ndarray, int]:
    """The face crops of frames ``[start, start + num_frames)`` and the video's frame count (streamed); for a
    truncated file with fewer frames than one window, the window sampled over what decoded (a warning)."""
    cropper = FaceCropper(size, detect=face_detect, detect_every=detect_every)
    window, total = [], 0
    with VideoStream(video, fps=fps) as stream:
        for frame in stream:
            if total < start + num_frames:  # crop every frame up to the window, so boxes are held as in predict
                crop = cropper(frame)
                if total >= start:
                    window.append(crop)
            total += 1
    if total < num_frames and stream.ended_early:
        window, _, note = decoded_window(video, num_frames, FaceCropper(size, detect=face_detect), stream)
        warnings.warn(f"{video}: {note}", stacklevel=2)
        total = num_frames
    return (np.stack(window) if len(window) == num_frames else np.empty((0,))), total


def run_explain(args: argparse.Namespace) -> int:
    """``lifting-dfer explain``: ISSM's indices and Grad-CAM for one window (two PNGs)."""
    from ..viz import gradcam, plot_gradcam, plot_split_indices

    video = Path(args.video)
    if not video.exists():
        raise FileNotFoundError(f"video not found: {video}")
    if video.is_dir():
        raise ValueError(f"explain takes one video file, got the folder {video}")
    device = resolve_device(args.device)
    model, ckpt = load_model(args.checkpoint, device=device)
    num_frames, size = checkpoint_geometry(ckpt)
    class_names = list(ckpt.get("class_names") or [])
    with VideoStream(video) as probe:
        source_fps, duration = probe.info.source_fps, probe.info.duration
    sampling = checkpoint_sampling(ckpt)
    print(rate_line(args.fps, sampling))
    rate = choose_rate(args.fps, sampling, source_fps, duration=duration, window=num_frames)
    if rate.note:
        warnings.warn(f"{video}: {rate.note}", stacklevel=2)
    every = args.detect_every or max(1, round(rate.fps / DETECTIONS_PER_SECOND))
    window, total = _window_crops(video, size, rate.fps, face_detect=not args.no_face_detect, detect_every=every,
                                  start=max(0, args.start), num_frames=num_frames)  # fmt: skip
    if not 0 <= args.start <= total - num_frames:
        raise CommandError(
            f"--start: the window of {num_frames} frames must start in [0, {total - num_frames}] "
            f"for a video of {total} frames at {rate.fps:.2f} fps, got {args.start}"
        )
    target = None
    if args.target is not None:
        if args.target not in class_names:
            raise CommandError(f"--target: expected one of {', '.join(class_names)}, got {args.target!r}")
        target = class_names.index(args.target)
    clip = normalize_frames(window, *checkpoint_normalization(ckpt)).permute(1, 0, 2, 3)  # (3, t, h, w)
    result = gradcam(model, clip.to(device), target=target)
    out_dir = _output_dir(args.output_dir)
    stem = f"{video.stem}_{args.start:05d}"
    title = f"{video.name}, frames {args.start}-{args.start + num_frames - 1}"
    written = [
        plot_split_indices(window, result.i_s, result.i_d, out_dir / f"{stem}_indices.png", title=title),
        plot_gradcam(window, result, out_dir / f"{stem}_gradcam.png", class_names=class_names),
    ]
    print(f"{title}: Grad-CAM for {class_names[result.target]}")
    for path in written:
        print(f"wrote {path}")
    return 0
