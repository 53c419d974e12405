"""``lifting-dfer export``: a checkpoint to an ONNX or TorchScript classifier, its sidecar, and a parity check.

The exported graph maps a normalised clip ``(batch, 3, t0, h, w)`` to ``(probabilities, logits)``, both
``(batch, k)``. After writing the file and its sidecar
([`ExportMetadata`][lifting_dfer.export.ExportMetadata]), the export is run on random clips, a batch of
``batch`` and a single clip (the batch axis is dynamic), through onnxruntime
([`OnnxRuntimeClassifier`][lifting_dfer.export.OnnxRuntimeClassifier], as a consumer would) or
``torch.jit.load``, and compared with the PyTorch model; the largest absolute difference of the probabilities is
stored in the sidecar.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import warnings
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._optional import optional_import
from .._version import __version__
from ..loading import checkpoint_geometry, load_model
from ..normalization import checkpoint_normalization
from .exporters import DEFAULT_OPSET, export_onnx, export_torchscript
from .runtime import OnnxRuntimeClassifier, _first_line
from .sidecar import PARITY_TOLERANCE, ExportMetadata, file_sha256, write_sidecar

__all__ = ["ExportResult", "Probabilities", "default_output", "export_checkpoint", "run"]


Format = Literal["onnx", "torchscript"]
_SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript"}


class Probabilities(nn.Module):
    """A classifier returning ``(softmax(logits), logits)``: what the exported graph computes.

    Shape:
        - clip: ``(b, 3, t0, h, w)`` -> probabilities, logits: ``(b, k)``
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        output = self.model(clip)
        logits = getattr(output, "logits", output)
        return logits.softmax(dim=-1), logits


class ExportResult(NamedTuple):
    """What [`export_checkpoint`][lifting_dfer.export.export_checkpoint] wrote and measured."""

    path: Path
    sidecar: Path
    metadata: ExportMetadata
    max_abs_diff: float
    """Largest ``|p_export - p_pytorch|`` over the verification clips."""


def default_output(checkpoint: str | os.PathLike, format: Format) -> Path:
    """``CKPT`` with its suffix replaced: ``run/best.pt`` -> ``run/best.onnx`` or ``run/best.torchscript``; a folder
    of [`save_pretrained`][lifting_dfer.save_pretrained] gets the suffix added beside it, a Hub repository id
    ``owner/name`` gives ``name.onnx`` in the current folder.

    Examples:
        >>> default_output("runs/best.pt", "torchscript").as_posix()
        'runs/best.torchscript'
        >>> default_output("hf-hub:owner/ifdd_2dcnn-dfew", "onnx").as_posix()
        'ifdd_2dcnn-dfew.onnx'
    """
    from ..pretrained import is_pretrained_source

    path = Path(checkpoint)
    if is_pretrained_source(checkpoint):
        folder = path if path.is_dir() else Path(path.name)
        return folder.parent / f"{folder.name}{_SUFFIX[format]}"
    return path.with_suffix(_SUFFIX[format])


def _versions(format: Format) -> dict[str, str]:
    versions = {"lifting_dfer": str(__version__), "torch": str(torch.__version__)}
    for package in ("onnx", "onnxscript") if format == "onnx" else ():
        versions[package] = importlib_metadata.version(package)
    return versions


def _torchscript_probabilities(path: Path) -> Callable[[Tensor], Tensor]:
    module = torch.jit.load(str(path), map_location="cpu")
    return lambda clip: module(clip)[0]


def export_checkpoint(
    checkpoint: str | os.PathLike,
    *,
    format: Format = "onnx",
    output: str | os.PathLike | None = None,
    batch: int = 2,
    opset: int = DEFAULT_OPSET,
    seed: int = 0,
) -> ExportResult:
    """Export the model of a ``lifting_dfer`` checkpoint, write its sidecar, verify it against PyTorch.

    Args:
        checkpoint: a checkpoint written by [`save_checkpoint`][lifting_dfer.save_checkpoint] (training writes them).
        format: ``"onnx"`` (onnxruntime and other ONNX runtimes) or ``"torchscript"`` (``torch.jit.load``,
            LibTorch).
        output: the model file; default [`default_output`][lifting_dfer.export.default_output]. The sidecar is
            ``<output>.json``.
        batch: clips in the example batch that is traced and verified (``>= 2`` for ONNX: see
            [`export_onnx`][lifting_dfer.export.export_onnx]); a single clip is verified too. The file accepts
            any batch.
        opset: ONNX opset.
        seed: seed of the random verification clips.

    Returns:
        An [`ExportResult`][lifting_dfer.export.ExportResult]; its ``max_abs_diff`` is also in the sidecar's
        ``verification``.

    Raises:
        FileNotFoundError, ValueError: a missing or unreadable checkpoint, one whose model the registry cannot
            rebuild, an output path that is the checkpoint itself, or bad sizes.
        ImportError: the ``onnx`` extra is missing (ONNX only).
    """
    if format not in _SUFFIX:
        raise ValueError(f"format: expected 'onnx' or 'torchscript', got {format!r}")
    checkpoint = Path(checkpoint)
    path = Path(output) if output is not None else default_output(checkpoint, format)
    if checkpoint.exists() and path.exists() and path.resolve() == checkpoint.resolve():
        raise ValueError(f"output: {path} is the checkpoint itself; choose another file name")
    if format == "onnx":  # before the (slow) model rebuild: the exporter and the verification need them
        for module in ("onnx", "onnxscript", "onnxruntime"):
            optional_import(module, extra="onnx")
    minimum = 2 if format == "onnx" else 1
    if batch < minimum:
        why = " (a batch of 1 would fix the ONNX graph's batch axis to 1)" if format == "onnx" else ""
        raise ValueError(f"batch: expected at least {minimum} clips for --format {format}{why}, got {batch}")
    model, ckpt = load_model(checkpoint)
    num_frames, size = checkpoint_geometry(ckpt)
    class_names = list(ckpt.get("class_names") or [])
    classifier = Probabilities(model).eval()
    generator = torch.Generator().manual_seed(seed)
    clips = [torch.randn(n, 3, num_frames, size, size, generator=generator) for n in (batch, 1)]
    with torch.no_grad():
        logits = classifier(clips[1])[1]
    if logits.shape != (1, len(class_names)):
        raise ValueError(
            f"checkpoint {checkpoint}: the model gives logits of shape {tuple(logits.shape)} for one clip, "
            f"but the checkpoint names {len(class_names)} classes"
        )

    names = {"input_names": ["clip"], "output_names": ["probabilities", "logits"]}
    if format == "onnx":
        export_onnx(classifier, (clips[0],), path, opset=opset, **names)
    else:
        export_torchscript(classifier, (clips[0],), path)
    epoch = ckpt.get("epoch")
    metadata = ExportMetadata(
        model_file=path.name,
        model_format=format,
        sha256=file_sha256(path),
        arch=str(ckpt["arch"]),
        class_names=tuple(class_names),
        num_frames=num_frames,
        input_size=size,
        mean=checkpoint_normalization(ckpt).mean,
        std=checkpoint_normalization(ckpt).std,
        sampling=ckpt.get("sampling") if isinstance(ckpt.get("sampling"), dict) else None,
        arch_kwargs=dict(ckpt.get("arch_kwargs") or {}),
        opset=opset if format == "onnx" else None,
        checkpoint={"file": checkpoint.name, "epoch": epoch if isinstance(epoch, int) else None},
        versions=_versions(format),
    )
    sidecar = write_sidecar(metadata, path)

    exported: Callable[[Tensor], object]
    if format == "onnx":
        with warnings.catch_warnings():  # "never verified": that is what happens next
            warnings.simplefilter("ignore", UserWarning)
            exported = OnnxRuntimeClassifier(path).predict
    else:
        exported = _torchscript_probabilities(path)
    diff = 0.0
    with torch.no_grad():
        for clip in clips:
            reference = classifier(clip)[0]
            diff = max(diff, (torch.as_tensor(exported(clip)) - reference).abs().max().item())
    verification = {"max_abs_diff": diff, "batch_sizes": [len(c) for c in clips], "seed": seed}
    metadata = dataclasses.replace(metadata, verification=verification)
    write_sidecar(metadata, path)
    return ExportResult(path, sidecar, metadata, diff)


def run(args: argparse.Namespace) -> int:
    """The ``lifting-dfer export`` command (arguments from ``cli.build_parser``); returns the exit status."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+.* is deprecated", category=FutureWarning)
            result = export_checkpoint(
                args.checkpoint, format=args.format, output=args.output, batch=args.batch, opset=args.opset
            )
    except RuntimeError as err:  # torch.export / the ONNX exporter / tracing refused the model: one line, not pages
        raise ValueError(f"{args.checkpoint}: {args.format} export failed: {_first_line(err)}") from err
    if args.format == "torchscript":  # said once, instead of torch's FutureWarnings with source lines
        warnings.warn(
            f"TorchScript is deprecated in PyTorch {torch.__version__.split('+')[0]} (torch.jit.trace/save/load "
            "warn); the file loads with this version; prefer --format onnx for new deployments",
            UserWarning,
            stacklevel=1,
        )
    meta = result.metadata
    kind = f"ONNX opset {meta.opset}" if meta.model_format == "onnx" else "TorchScript"
    size_mb = result.path.stat().st_size / 2**20
    batches = " and ".join(str(n) for n in (meta.verification or {}).get("batch_sizes", []))
    status = "ok" if result.max_abs_diff <= PARITY_TOLERANCE else f"ABOVE the tolerance {PARITY_TOLERANCE:g}"
    print(
        f"{meta.arch} from {args.checkpoint}: {len(meta.class_names)} classes, {meta.num_frames} frames at "
        f"{meta.input_size}x{meta.input_size} -> {kind}"
    )
    print(f"wrote {result.path} ({size_mb:.1f} MB)")
    print(f"wrote {result.sidecar}")
    print(
        f"verified on random clips (batches of {batches}): max |p_{meta.model_format} - p_pytorch| = "
        f"{result.max_abs_diff:.2e} ({status})"
    )
    return 0 if result.max_abs_diff <= PARITY_TOLERANCE else 1
