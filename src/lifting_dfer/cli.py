"""The ``lifting-dfer`` command: ``predict``/``explain`` on a video, ``summary`` of the models, ``train``/``evaluate``.

::

    lifting-dfer predict clip.mp4 --checkpoint ifdd_2dcnn.pt --output-dir predictions/
    lifting-dfer explain clip.mp4 --checkpoint ifdd_2dcnn.pt --start 32
    lifting-dfer summary --frames 16 --size 224
    lifting-dfer export ifdd_2dcnn.pt --format onnx   # ifdd_2dcnn.onnx + ifdd_2dcnn.onnx.json
    lifting-dfer train ...      # the arguments of lifting_dfer.training
    lifting-dfer evaluate ...   # the arguments of lifting_dfer.training's evaluation

User errors (missing or unreadable files, a video shorter than one window, a checkpoint that does not fit its
model) print one line ``lifting-dfer <command>: error: ...`` to stderr and return exit status 2.
See ``docs/cli.md`` for the outputs and the JSON schema.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import logging
import pickle
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["build_parser", "checkpoint_geometry", "load_model", "main"]

DEFAULT_INPUT_SIZE = 224
_SIZE_KEYS = ("input_size", "image_size", "img_size")


class CommandError(ValueError):
    """A user error that the command reports in one line (exit status 2)."""


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise CommandError(f"--device: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"--device {name}: CUDA is not available on this machine")
    return device


def load_model(path: str | Path, *, device: torch.device | str = "cpu"):
    """Rebuild the model stored in a ``lifting_dfer`` checkpoint; ``(model, checkpoint dict)``.

    :func:`~lifting_dfer.checkpoint.model_from_checkpoint` raises ``FileNotFoundError`` / ``ValueError`` naming
    the file and the reason (not a checkpoint, weights of another model, unknown model); errors that escape
    ``torch.load`` on arbitrary bytes become a ``ValueError`` here too.
    """
    from .checkpoint import model_from_checkpoint

    path = Path(path)
    try:
        model, ckpt = model_from_checkpoint(path, map_location="cpu")
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as err:  # torch.load's own errors
        raise CommandError(
            f"cannot use checkpoint {path}: not a readable PyTorch file ({type(err).__name__}: {err})"
        ) from err
    return model.to(device).eval(), ckpt


def checkpoint_geometry(ckpt: dict) -> tuple[int, int]:
    """``(num_frames, input_size)`` the checkpoint's model expects (``input_size`` defaults to 224).

    ``num_frames`` comes from ``arch_kwargs`` (builder default 16); the size from the checkpoint's
    ``input_size`` entry, else from ``arch_kwargs`` (``input_size``, ``image_size`` or ``img_size``).
    """
    arch_kwargs = ckpt.get("arch_kwargs") or {}
    num_frames = int(arch_kwargs.get("num_frames", 16))
    size = ckpt.get("input_size")
    for key in _SIZE_KEYS:
        size = arch_kwargs.get(key) if size is None else size
    size = DEFAULT_INPUT_SIZE if size is None else size
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise CommandError(f"checkpoint: predict needs a square input size, got {tuple(size)}")
        size = size[0]
    return num_frames, int(size)


class _Loaded(NamedTuple):
    model: torch.nn.Module
    ckpt: dict
    num_frames: int
    input_size: int
    class_names: list[str]
    device: torch.device


def _load_for_video(args: argparse.Namespace) -> _Loaded:
    """Checks and loading shared by ``predict`` and ``explain`` (the video is checked before the model loads)."""
    if not Path(args.video).exists():
        raise FileNotFoundError(f"video not found: {args.video}")
    device = _device(args.device)
    model, ckpt = load_model(args.checkpoint, device=device)
    return _Loaded(model, ckpt, *checkpoint_geometry(ckpt), list(ckpt.get("class_names") or []), device)


def _write_csv(result: dict, path: Path) -> None:
    names = result["class_names"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start_frame", "end_frame", "start_time", "end_time", "top", *names])
        for w in result["windows"]:
            times = (f"{w['start_time']:.4f}", f"{w['end_time']:.4f}")
            probs = [f"{w['probabilities'][n]:.6f}" for n in names]
            writer.writerow([w["start_frame"], w["end_frame"], *times, w["top"], *probs])


def _predict(args: argparse.Namespace) -> int:
    from .video import predict_video

    if args.stride is not None and args.stride < 1:
        raise CommandError(f"--stride: expected a positive number of frames, got {args.stride}")
    video, loaded = Path(args.video), _load_for_video(args)
    result = predict_video(
        loaded.model,
        video,
        num_frames=loaded.num_frames,
        input_size=loaded.input_size,
        class_names=loaded.class_names,
        stride=args.stride,
        fps=args.fps,
        face_detect=not args.no_face_detect,
        detect_every=args.detect_every,
        device=loaded.device,
        batch_size=args.batch_size,
    )
    extra = {"checkpoint": str(args.checkpoint), "arch": loaded.ckpt.get("arch"), "input_size": loaded.input_size}
    result = {**result, **extra}

    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if args.format in ("json", "both"):
        written.append(out_dir / f"{video.stem}.json")
        written[-1].write_text(json.dumps(result, indent=2) + "\n")
    if args.format in ("csv", "both"):
        written.append(out_dir / f"{video.stem}.csv")
        _write_csv(result, written[-1])
    if not args.no_plot:
        from .viz import plot_timeline

        written.append(plot_timeline(result, out_dir / f"{video.stem}_timeline.png"))
    counts = result["face_detection"]
    print(
        f"{video.name}: {result['num_frames']} frames at {result['fps']:.2f} fps, {len(result['windows'])} windows "
        f"of {loaded.num_frames} frames; face found on {counts['frames_with_face']} frames"
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from .video import frames_to_clip, read_faces
    from .viz import gradcam, plot_gradcam, plot_split_indices

    video, loaded = Path(args.video), _load_for_video(args)
    num_frames, class_names = loaded.num_frames, loaded.class_names
    face_detect, every = not args.no_face_detect, args.detect_every
    frames = read_faces(video, loaded.input_size, fps=args.fps, face_detect=face_detect, detect_every=every)[0].frames
    if not 0 <= args.start <= len(frames) - num_frames:
        raise CommandError(
            f"--start: the window of {num_frames} frames must start in [0, {len(frames) - num_frames}] "
            f"for a video of {len(frames)} frames, got {args.start}"
        )
    target = None
    if args.target is not None:
        if args.target not in class_names:
            raise CommandError(f"--target: expected one of {', '.join(class_names)}, got {args.target!r}")
        target = class_names.index(args.target)
    window = frames[args.start : args.start + num_frames]
    result = gradcam(loaded.model, frames_to_clip(window).to(loaded.device), target=target)
    out_dir = Path(args.output_dir)
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


def _summary(args: argparse.Namespace) -> int:
    from .flops import model_complexity
    from .models import create_model, list_models

    names = args.models or list_models()
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        raise CommandError(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(list_models())}")
    shape = (1, 3, args.frames, args.size, args.size)
    rows = []
    for name in names:
        kwargs = {"num_classes": args.num_classes, "num_frames": args.frames, "image_size": args.size}
        stats = model_complexity(lambda: create_model(name, **kwargs), shape, device=args.device)
        rows.append(
            {"model": name, "params_m": stats.params_m, "gflops": stats.gmacs, "layer_gflops": stats.layer_gmacs}
        )
    if args.json:
        print(json.dumps({"input_shape": list(shape), "models": rows}, indent=2))
        return 0
    print(f"Per clip of {args.frames}x{args.size}x{args.size} (GFLOPs = multiply-accumulates, fvcore convention)\n")
    print("| model | params (M) | GFLOPs | GFLOPs, conv/linear only |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['model']} | {row['params_m']:.2f} | {row['gflops']:.2f} | {row['layer_gflops']:.2f} |")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export.checkpoint_export import run

    return run(args)


# Commands whose arguments all belong to the training code: command -> (module, function taking argv).
_DELEGATED = {
    "train": ("lifting_dfer.training", "main", "train a model (the arguments of lifting_dfer.training.main)"),
    "evaluate": ("lifting_dfer.training", "evaluate_main", "evaluate a checkpoint on a dataset split"),
}


def _delegate(command: str, argv: Sequence[str]) -> int:
    """Run the training code's entry point for ``command`` with ``argv`` (``--help`` included)."""
    module, function, _ = _DELEGATED[command]
    try:
        target = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as err:
        raise CommandError(f"{module}.{function} is not available in this installation ({err})") from err
    status = target(list(argv))
    return 0 if status is None else int(status)


def _add_video_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="video file (mp4, avi, mov, mkv, ...)")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT", help="a lifting_dfer checkpoint (.pt)")
    parser.add_argument("--output-dir", default="predictions", help="where outputs go (default: ./predictions)")
    parser.add_argument("--fps", type=float, default=None, help="resample the video to this frame rate first")
    parser.add_argument("--no-face-detect", action="store_true", help="centre crops instead of face detection")
    parser.add_argument("--detect-every", type=int, default=1, metavar="K",
                        help="run the face detector on every K-th frame only, holding its box between (default: 1)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lifting-dfer`` (exposed for the docs and for tests)."""
    parser = argparse.ArgumentParser(prog="lifting-dfer", description="IFDD dynamic facial expression recognition.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = commands.add_parser(
        "predict",
        help="per-window emotion probabilities of a video (JSON/CSV) and a timeline plot",
        description="Decode VIDEO, crop the face of every frame, classify windows of T0 frames (T0 and the "
        "input size come from the checkpoint) and write <stem>.json, <stem>.csv and <stem>_timeline.png.",
    )
    _add_video_arguments(predict)
    predict.add_argument("--stride", type=int, default=None, help="frames between window starts (default: T0/2)")
    predict.add_argument("--format", choices=("json", "csv", "both"), default="both", help="table output format")
    predict.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default: 8)")
    predict.add_argument("--no-plot", action="store_true", help="skip the timeline PNG")
    predict.set_defaults(func=_predict)

    explain = commands.add_parser(
        "explain",
        help="ISSM's split indices and Grad-CAM of Y_S / Y_D for one window of a video (two PNGs)",
        description="Crop the faces of VIDEO as predict does, take the window of T0 frames starting at --start and "
        "write <stem>_<start>_indices.png (where ISSM samples the static and dynamic groups) and "
        "<stem>_<start>_gradcam.png (Grad-CAM of Y_S and Y_D, paper Fig. 2a). Needs an IFDD checkpoint.",
    )
    _add_video_arguments(explain)
    explain.add_argument("--start", type=int, default=0, help="first frame of the window (default: 0)")
    explain.add_argument("--target", default=None, help="class name for Grad-CAM (default: the predicted class)")
    explain.set_defaults(func=_explain)

    summary = commands.add_parser(
        "summary",
        help="parameters and GFLOPs of the models",
        description="Parameters and GFLOPs (multiply-accumulates) per clip of each registered model; "
        "examples/model_summary.py sets them beside the paper's Table 12.",
    )
    summary.add_argument("--models", nargs="*", metavar="NAME", help="models to list (default: all registered)")
    summary.add_argument("--frames", type=int, default=16, help="frames T0 per clip (default: 16)")
    summary.add_argument("--size", type=int, default=DEFAULT_INPUT_SIZE, help="frame size (default: 224)")
    summary.add_argument("--num-classes", type=int, default=7, help="classes (default: 7)")
    summary.add_argument("--device", default="meta", help="where to count: meta (default, allocates nothing), cpu")
    summary.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    summary.set_defaults(func=_summary)

    export = commands.add_parser(
        "export",
        help="a checkpoint's model as an ONNX or TorchScript file with a JSON sidecar, verified against PyTorch",
        description="Export the model of CKPT (clip -> probabilities, logits; dynamic batch axis), write "
        "<FILE>.json with the class names, frames, input size, normalisation and sampling, and print the largest "
        "difference of the probabilities against PyTorch on random clips. See docs/deployment.md.",
    )
    export.add_argument("checkpoint", metavar="CKPT", help="a lifting_dfer checkpoint (.pt)")
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx",
                        help="onnx (onnxruntime, other ONNX runtimes) or torchscript (torch.jit.load); default: onnx")
    export.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="the model file (default: CKPT with suffix .onnx or .torchscript)")
    export.add_argument("--batch", type=int, default=2, metavar="N",
                        help="clips of the example batch traced and verified (default: 2); any batch runs later")
    export.add_argument("--opset", type=int, default=20, metavar="K", help="ONNX opset (default: 20)")
    export.set_defaults(func=_export)

    for name, (_, _, text) in _DELEGATED.items():  # listed for --help; main() hands their arguments on as they are
        commands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lifting-dfer`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        command, run = argv[0], lambda: _delegate(argv[0], argv[1:])
    else:
        args = build_parser().parse_args(argv)
        command, run = args.command, lambda: args.func(args)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    with warnings.catch_warnings(record=True) as caught:  # shown as one line each, not with source lines
        warnings.simplefilter("always", UserWarning)
        try:
            status = run()
        except (FileNotFoundError, IsADirectoryError, ValueError, ImportError) as err:
            print(f"lifting-dfer {command}: error: {err}", file=sys.stderr)
            status = 2
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"lifting-dfer {command}: warning: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
