"""Exported models per window: eager PyTorch vs onnxruntime vs TorchScript on CPU (``python -m benchmarks.deploy``).

For each model (default: IFDD-2DCNN and IFDD-3DViT at 16x224; the weights are random, speed does not depend on
them) a checkpoint is written and exported to ONNX and TorchScript by
`lifting_dfer.export.export_checkpoint`, the code of ``lifting-dfer export``, so the export time and its
parity check (largest ``|p_export - p_pytorch|`` on random clips, batches of 2 and 1) are those a user gets.
Then one window (a batch of 1 clip) is classified by each backend, timed interleaved with
`benchmarks.common.measure` (median and IQR over all runs; ratios of medians from the same rounds), with
``--threads`` threads for every backend (torch intra-op threads; onnxruntime ``intra_op_num_threads``).
``--parity-only`` models (default: the two baselines) are exported and checked but not timed.

Writes ``benchmarks/results/deploy-<device>.json`` (schema ``lifting_dfer.benchmarks/1``, kind ``"deploy"``,
with the load average before and after) and prints the Markdown table of ``docs/deployment.md``.
`window_backends` and `time_windows` are importable (the video benchmark reuses them).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from lifting_dfer.checkpoint import save_checkpoint
from lifting_dfer.export import OnnxRuntimeClassifier, default_output, export_checkpoint, read_sidecar, sidecar_path
from lifting_dfer.models import create_model

from .common import ROOT, SCHEMA, Timing, environment, measure, write_json

__all__ = ["main", "time_windows", "window_backends"]

BACKENDS = ("pytorch", "onnxruntime", "torchscript")
NAMES = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")


def window_backends(
    model: nn.Module,
    *,
    onnx_path: str | os.PathLike | None = None,
    torchscript_path: str | os.PathLike | None = None,
    threads: int = 2,
) -> dict[str, Callable[[Tensor], Tensor]]:
    """Per-window classifiers ``clip (b, 3, t0, h, w) -> probabilities (b, k)`` for each backend given.

    ``"pytorch"``: ``model`` in eval mode under ``torch.inference_mode``; ``"onnxruntime"``:
    `lifting_dfer.export.OnnxRuntimeClassifier` with ``threads`` intra-op threads; ``"torchscript"``:
    ``torch.jit.load``. Sets ``torch.set_num_threads(threads)``.
    """
    torch.set_num_threads(threads)
    model = model.eval()

    def pytorch(clip: Tensor) -> Tensor:
        with torch.inference_mode():
            return model(clip).softmax(dim=-1)

    backends: dict[str, Callable[[Tensor], Tensor]] = {"pytorch": pytorch}
    if onnx_path is not None:
        runtime = OnnxRuntimeClassifier(onnx_path, threads=threads)
        backends["onnxruntime"] = lambda clip: torch.from_numpy(runtime.predict(clip))
    if torchscript_path is not None:
        scripted = torch.jit.load(str(torchscript_path), map_location="cpu")

        def torchscript(clip: Tensor) -> Tensor:
            with torch.inference_mode():
                return scripted(clip)[0]

        backends["torchscript"] = torchscript
    return backends


def time_windows(
    backends: dict[str, Callable[[Tensor], Tensor]], clip: Tensor, *, rounds: int = 3, min_run_time: float = 0.5
) -> dict[str, Timing]:
    """Time ``backend(clip)`` for every backend, interleaved (`benchmarks.common.measure`)."""
    candidates = {name: (lambda fn=fn: fn(clip)) for name, fn in backends.items()}
    return measure(candidates, rounds=rounds, min_run_time=min_run_time, device=torch.device("cpu"))


def _export(
    name: str, frames: int, size: int, folder: Path, opset: int, reuse: bool
) -> tuple[nn.Module, dict[str, dict]]:
    """Build ``name`` with seed 0, save a checkpoint in ``folder`` and export it (or reuse earlier exports there)."""
    torch.manual_seed(0)
    kwargs = {"num_classes": len(NAMES), "num_frames": frames, "image_size": size}
    model = create_model(name, **kwargs).eval()
    ckpt = folder / f"{name}.pt"
    exports = {}
    for fmt in ("onnx", "torchscript"):
        path = default_output(ckpt, fmt)
        if reuse and path.exists() and sidecar_path(path).exists():
            meta = read_sidecar(path)
            if meta.arch_kwargs == kwargs and meta.verification and (fmt != "onnx" or meta.opset == opset):
                model.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
                exports[fmt] = {"path": str(path), "export_s": None, "mb": path.stat().st_size / 2**20,
                                "max_abs_diff": meta.verification["max_abs_diff"], "reused": True}  # fmt: skip
                print(f"{name}: reusing {path}", flush=True)
                continue
        if not ckpt.exists() or not reuse:
            save_checkpoint(ckpt, model, arch=name, arch_kwargs=kwargs, class_names=NAMES)
        start = time.perf_counter()
        result = export_checkpoint(ckpt, format=fmt, opset=opset)
        exports[fmt] = {
            "path": str(result.path),
            "export_s": time.perf_counter() - start,
            "mb": result.path.stat().st_size / 2**20,
            "max_abs_diff": result.max_abs_diff,
        }
        print(f"{name}: {fmt} exported in {exports[fmt]['export_s']:.0f} s, max |dp| = {result.max_abs_diff:.2e}",
              flush=True)  # fmt: skip
    return model, exports


def table(models: Sequence[dict]) -> str:
    """Markdown: per-window medians of each backend, the speed-up over eager PyTorch, parity and export time."""
    lines = [
        "| model | backend | ms / window (median) | IQR ms | vs eager | max abs diff of probabilities | export s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in models:
        timings = m.get("timings") or {}
        eager = timings.get("pytorch", {}).get("median_s")
        for backend in BACKENDS:
            t = timings.get(backend)
            fmt = {"onnxruntime": "onnx", "torchscript": "torchscript"}.get(backend)
            export = m["exports"].get(fmt, {}) if fmt else {}
            if t is None and not export:
                continue
            median = f"{t['median_s'] * 1e3:.0f}" if t else "-"
            iqr = f"{t['iqr_s'] * 1e3:.0f}" if t else "-"
            ratio = f"{eager / t['median_s']:.2f}x" if t and eager else "-"
            diff = f"{export['max_abs_diff']:.1e}" if export else "-"
            seconds = f"{export['export_s']:.0f}" if export.get("export_s") is not None else "-"
            lines.append(f"| {m['model']} | {backend} | {median} | {iqr} | {ratio} | {diff} | {seconds} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["ifdd_2dcnn", "ifdd_3dvit"], help="models exported and timed")
    p.add_argument("--parity-only", nargs="*", default=["baseline_2dcnn", "baseline_3dvit"],
                   help="models exported and checked, not timed")  # fmt: skip
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-run-time", type=float, default=0.5)
    p.add_argument("--opset", type=int, default=20)
    p.add_argument("--tiny", action="store_true", help="4 frames at 32 px, IFDD-2DCNN only: a smoke run")
    p.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        help="keep checkpoints and exports here (default: a temporary folder, removed at the end)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse exports in --export-dir of the same model, size and opset (parity from their sidecar)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/deploy-cpu.json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; return the JSON record (also written to ``--out``)."""
    args = parse_args(argv)
    if args.tiny:
        args.models, args.parity_only, args.frames, args.size = ["ifdd_2dcnn"], [], 4, 32
        args.rounds, args.min_run_time = 1, 0.01
    torch.set_num_threads(args.threads)
    out = args.out or ROOT / "benchmarks" / "results" / f"deploy-cpu{'-tiny' if args.tiny else ''}.json"
    record = {
        "schema": SCHEMA,
        "kind": "deploy",
        "tiny": args.tiny,
        "env": environment(torch.device("cpu")),
        "settings": {
            "frames": args.frames,
            "size": args.size,
            "batch": 1,
            "threads": args.threads,
            "rounds": args.rounds,
            "min_run_time_s": args.min_run_time,
            "opset": args.opset,
        },
        "load_before": list(os.getloadavg()),
        "models": [],
    }
    with contextlib.ExitStack() as stack:
        if args.export_dir is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            folder = args.export_dir
            folder.mkdir(parents=True, exist_ok=True)
        for name in [*args.models, *args.parity_only]:
            model, exports = _export(name, args.frames, args.size, folder, args.opset, args.reuse)
            entry = {"model": name, "exports": {k: {kk: v for kk, v in e.items() if kk != "path"}
                                                for k, e in exports.items()}}  # fmt: skip
            if name in args.models:
                paths = {"onnx_path": exports["onnx"]["path"], "torchscript_path": exports["torchscript"]["path"]}
                backends = window_backends(model, **paths, threads=args.threads)
                clip = torch.randn(1, 3, args.frames, args.size, args.size, generator=torch.Generator().manual_seed(1))
                timings = time_windows(backends, clip, rounds=args.rounds, min_run_time=args.min_run_time)
                entry["timings"] = {k: {"median_s": t.median, "iqr_s": t.iqr, "runs": len(t.times)}
                                    for k, t in timings.items()}  # fmt: skip
            record["models"].append(entry)
            record["load_after"] = list(os.getloadavg())
            write_json(record, out)  # after every model: a run cut short keeps what it finished
            del model
    print(table(record["models"]))
    env = record["env"]
    print(f"\n{env['cpu']}, torch {env['torch']}, {args.threads} threads, load average "
          f"{record['load_before'][0]:.1f} before / {record['load_after'][0]:.1f} after; wrote {out}")  # fmt: skip
    return record


if __name__ == "__main__":
    main()
