"""The ``lifting-dfer`` command: ``predict``/``explain`` on a video, ``summary`` of the models, ``train``/``evaluate``.

::

    lifting-dfer predict clip.mp4 --checkpoint ifdd_2dcnn.pt --output-dir predictions/
    lifting-dfer explain clip.mp4 --checkpoint ifdd_2dcnn.pt --start 32
    lifting-dfer summary --frames 16 --size 224
    lifting-dfer export ifdd_2dcnn.pt --format onnx   # ifdd_2dcnn.onnx + ifdd_2dcnn.onnx.json
    lifting-dfer train ...      # the arguments of lifting_dfer.training
    lifting-dfer evaluate ...   # the arguments of lifting_dfer.training's evaluation
    lifting-dfer check-data dfew /data/DFEW --manifest dfew.json   # lifting_dfer.data.check
    lifting-dfer prepare my_videos/ my_data/   # lifting_dfer.data.prepare: <label>/<video> -> --dataset folder

User errors (missing or unreadable files, a video shorter than one window, a checkpoint that does not fit its
model) print one line ``lifting-dfer <command>: error: ...`` to stderr and return exit status 2.
See ``docs/cli.md`` for the outputs and the JSON schema.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import math
import sys
import warnings
from collections.abc import Sequence

from .errors import CommandError
from .loading import DEFAULT_INPUT_SIZE, checkpoint_geometry, load_model

# load_model and checkpoint_geometry live in lifting_dfer.loading, CommandError in lifting_dfer.errors: the command
# line only parses and dispatches. They stay importable from here.
__all__ = ["build_parser", "checkpoint_geometry", "load_model", "main"]


def _predict(args: argparse.Namespace) -> int:
    from .video.command import run_predict

    return run_predict(args)


def _explain(args: argparse.Namespace) -> int:
    from .video.command import run_explain

    return run_explain(args)


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _frame_rate(text: str) -> float | str:
    """argparse type of ``--fps``: a positive, finite number of frames per second, or ``native``."""
    if text == "native":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frame rate (frames per second) or native, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive, finite frame rate (or native), got {text}")
    return value


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
        stats = model_complexity(functools.partial(create_model, name, **kwargs), shape, device=args.device)
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
    "check-data": ("lifting_dfer.data.check", "main", "check a DFEW / FERV39k / MAFW copy before training"),
    "prepare": ("lifting_dfer.data.prepare", "main", "turn labelled videos into a training set (--dataset folder)"),
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


def _add_video_arguments(
    parser: argparse.ArgumentParser, video_help: str, checkpoint_help: str = "a lifting_dfer checkpoint (.pt)"
) -> None:
    parser.add_argument("video", metavar="VIDEO", help=video_help)
    parser.add_argument("--checkpoint", required=True, metavar="CKPT", help=checkpoint_help)
    parser.add_argument("--output-dir", default="predictions", help="where outputs go (default: ./predictions)")
    parser.add_argument(
        "--fps",
        type=_frame_rate,
        default=None,
        metavar="F",
        help="frames per second the video is sampled at, or 'native' for its own rate (default: the "
        "rate of the checkpoint's training clips; never above the video's rate)",
    )
    parser.add_argument("--no-face-detect", action="store_true", help="centre crops instead of face detection")
    parser.add_argument(
        "--detect-every",
        type=_positive_int,
        default=None,
        metavar="K",
        help="run the face detector on every K-th frame only, holding its box between (default: "
        "about 3 detections per second of video)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if available)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lifting-dfer`` (exposed for the docs and for tests)."""
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="lifting-dfer", description="IFDD dynamic facial expression recognition.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = commands.add_parser(
        "predict",
        help="per-window emotion probabilities of a video (JSON/CSV) and a timeline plot",
        description="Decode VIDEO (or each video of a folder) in one streaming pass, crop the face of every frame, "
        "classify windows of T0 frames (T0, the input size and the training frame rate come from the checkpoint) "
        "and write <stem>.json, <stem>.csv and <stem>_timeline.png.",
    )
    _add_video_arguments(predict, "video file (mp4, avi, mov, mkv, ...) or a folder of videos",
                         "a lifting_dfer checkpoint (.pt), a folder written by save_pretrained, a Hugging Face Hub "
                         "repository id (owner/name), or an .onnx file written by 'lifting-dfer export' (with its "
                         ".onnx.json sidecar next to it)")  # fmt: skip
    predict.add_argument("--stride", type=_positive_int, default=None, help="frames between window starts "
                         "(default: T0/2)")  # fmt: skip
    predict.add_argument("--format", choices=("json", "csv", "both"), default="both", help="tables (default: both)")
    predict.add_argument("--batch-size", type=_positive_int, default=4, help="windows per forward pass (default: 4)")
    predict.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto",
                         help="compute precision of the backbone (default: auto, bf16 where the device has native "
                         "bfloat16, else fp32)")  # fmt: skip
    predict.add_argument("--backend", choices=("pytorch", "onnxruntime"), default=None,
                         help="what runs the model (default: onnxruntime for an .onnx file from 'lifting-dfer export', "
                         "else pytorch)")  # fmt: skip
    predict.add_argument("--no-plot", action="store_true", help="skip the timeline PNG")
    predict.set_defaults(func=_predict)

    explain = commands.add_parser(
        "explain",
        help="ISSM's split indices and Grad-CAM of Y_S / Y_D for one window of a video (two PNGs)",
        description="Crop the faces of VIDEO as predict does, take the window of T0 frames starting at --start and "
        "write <stem>_<start>_indices.png (where ISSM samples the static and dynamic groups) and "
        "<stem>_<start>_gradcam.png (Grad-CAM of Y_S and Y_D, paper Fig. 2a). Needs an IFDD checkpoint.",
    )
    _add_video_arguments(explain, "video file (mp4, avi, mov, mkv, ...)")
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
    export.add_argument("checkpoint", metavar="CKPT", help="a lifting_dfer checkpoint (.pt), a folder written by "
                        "save_pretrained, or a Hugging Face Hub repository id (owner/name)")  # fmt: skip
    export.add_argument(
        "--format",
        choices=("onnx", "torchscript"),
        default="onnx",
        help="onnx (onnxruntime, other ONNX runtimes) or torchscript (torch.jit.load); default: onnx",
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="the model file (default: CKPT with suffix .onnx or .torchscript)",
    )
    export.add_argument(
        "--batch",
        type=int,
        default=2,
        metavar="N",
        help="clips of the example batch traced and verified (default: 2); any batch runs later",
    )
    export.add_argument("--opset", type=int, default=20, metavar="K", help="ONNX opset (default: 20)")
    export.set_defaults(func=_export)

    for name, (_, _, text) in _DELEGATED.items():  # listed for --help; main() hands their arguments on as they are
        commands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lifting-dfer`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["train"]:  # no silent demo writing ./runs: the usage, and the flag that starts the demo
        from .training import build_parser as train_parser

        train_parser().print_usage(sys.stderr)
        print("lifting-dfer train: error: give --data-root DIR to train on a dataset, or --demo for the synthetic "
              "CPU demo (lifting-dfer train --help lists every option)", file=sys.stderr)  # fmt: skip
        return 2
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
