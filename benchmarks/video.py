"""Video inference benchmark: ``python -m benchmarks.video`` (``--tiny`` for a seconds-long smoke run).

Runs ``lifting-dfer predict`` as a user does (a fresh process per case, ``--no-plot``, JSON output) with an
IFDD-2DCNN checkpoint at the paper's input (16 frames, 224 px; weights freshly initialised with seed 0 and saved
with ``save_checkpoint``: speed does not depend on them; its ``sampling`` record is DFEW's, 16 frames per clip)
on real face videos, and records per case:

- real-time factor: seconds of video per second of wall time of the whole command (start-up, model loading,
  decoding, face crops, model); the command's own figure inside ``predict`` is kept too;
- frames per second of each stage (decode: source frames; detect: kept frames; backbone: frames; head: windows)
  from the JSON's ``timing`` (the new pipeline only);
- peak resident memory of the process (``ru_maxrss`` from ``wait4``);
- the 1-minute load average before and after (other jobs on the machine slow every figure down).

Cases: ``after`` (this checkout) at the default (training-matched) rate in ``--precision auto`` and ``fp32``,
and at the video's native rate; ``before`` (``--before-src``, e.g. the ``src`` folder of an older checkout, whose
default is the native rate) on the same videos. Checks: fp32 probabilities against the plain model on each window
(same crops, first video, in this process; target 1e-5); bf16 against fp32 from the two ``after`` runs (target
0.02); resident memory sampled every 0.5 s while the last (longest) video runs in this process, by quarter of the
run (flat: within 10%). Children get ``OMP_NUM_THREADS=--threads`` and any ``--env``.

Writes ``benchmarks/results/video.json`` (``python -m benchmarks.make_docs`` puts it in ``docs/performance.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .common import ROOT, SCHEMA, environment, file_record, portable_path, write_json

__all__ = ["Case", "main", "run_case", "table"]

logger = logging.getLogger("benchmarks.video")

NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]

# Targets of issue 9 (IFDD-2DCNN 16x224, this 2-core machine).
RTF_DEFAULT_MIN = 1.0
RTF_NATIVE_AIM = 0.7
PEAK_MAX_BYTES = 1 << 30
PEAK_SPREAD_MAX = 0.10
FP32_TOL = 1e-5
BF16_TOL = 0.02
ONNX_TOL = 1e-4  # onnxruntime vs PyTorch fp32, the export tests' tolerance


@dataclass
class Case:
    """One ``predict`` run: which code, video, rate and precision."""

    version: str  # "after" (this checkout) or "before" (--before-src)
    video: str
    rate: str  # "default" or "native"
    precision: str = "auto"
    backend: str = "pytorch"
    # filled in by run_case
    status: int | None = None
    wall_s: float | None = None
    video_s: float | None = None
    peak_rss_bytes: int | None = None
    load_before: float | None = None
    load_after: float | None = None
    result: dict = field(default_factory=dict)  # fps, frames, windows, predict seconds, stage timing, precision

    @property
    def rtf(self) -> float | None:
        return None if not self.wall_s or self.video_s is None else self.video_s / self.wall_s


def make_checkpoint(path: Path, *, num_frames: int, size: int) -> Path:
    """A freshly initialised IFDD-2DCNN (seed 0) saved like a trained one, with DFEW's sampling record."""
    from lifting_dfer.checkpoint import save_checkpoint
    from lifting_dfer.models import create_model
    from lifting_dfer.video import training_sampling

    torch.manual_seed(0)
    kwargs = {"num_classes": len(NAMES), "num_frames": num_frames, "image_size": size}
    model = create_model("ifdd_2dcnn", **kwargs)
    return save_checkpoint(path, model, arch="ifdd_2dcnn", arch_kwargs=kwargs, class_names=NAMES, input_size=size,
                           sampling=training_sampling("dfew", num_frames).to_dict())  # fmt: skip


def export_onnx_file(ckpt: Path) -> Path:
    """``lifting-dfer export`` of the benchmark checkpoint (``<ckpt>.onnx``, its sidecar) for the onnxruntime rows."""
    from lifting_dfer.export import export_checkpoint

    result = export_checkpoint(ckpt, format="onnx", output=ckpt.with_suffix(".onnx"))
    logger.info("exported %s (max |p_onnx - p_pytorch| = %.1e)", result.path, result.max_abs_diff)
    return Path(result.path)


def _command(case: Case, ckpt: Path, out: Path) -> list[str]:
    if case.backend == "onnxruntime":
        ckpt = ckpt.with_suffix(".onnx")  # written by export_onnx_file
    argv = ["predict", case.video, "--checkpoint", str(ckpt), "--output-dir", str(out), "--format", "json",
            "--no-plot", "--device", "cpu"]  # fmt: skip
    if case.rate == "native":
        argv += ["--fps", "native"] if case.version == "after" else []  # before: native is the default
    if case.version == "after":
        argv += ["--precision", case.precision, "--backend", case.backend]
    return [sys.executable, "-m", "lifting_dfer", *argv]


# Forks and execs the command, waits for it and prints its exit status and peak RSS (KiB) as JSON. Run as a small
# separate process: Linux counts the resident size of the process a child was forked from in the child's
# ru_maxrss, so forking the command straight from this (large) process would inflate its peak.
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}))
"""


def _popen_with_rusage(argv: list[str], env: dict[str, str]) -> tuple[int, float, int, str, str]:
    """Run ``argv``; ``(exit status, wall seconds, peak RSS bytes, stdout, stderr)`` of exactly that command."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        launcher = subprocess.run([sys.executable, "-c", _LAUNCHER, *argv], env=env, stdout=subprocess.PIPE,
                                  stderr=err, text=True, check=True)  # fmt: skip
        wall = time.perf_counter() - start
        *lines, report = launcher.stdout.splitlines()
        child = json.loads(report)
        err.seek(0)
        return child["status"], wall, child["maxrss_kib"] * 1024, "\n".join(lines), err.read()


def run_case(
    case: Case, ckpt: Path, *, src: Path, threads: int, env: dict[str, str], out: Path, in_process: bool = False
) -> Case:
    """Run one case in a fresh process (``in_process``: in this one, for ``--tiny``); fill in its figures."""
    out.mkdir(parents=True, exist_ok=True)
    argv = _command(case, ckpt, out)
    case.load_before = os.getloadavg()[0]
    if in_process:
        status, wall, peak, stdout, stderr = _run_in_process(argv[3:])
    else:
        child_env = {**os.environ, **env, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads),
                     "MPLBACKEND": "Agg"}  # fmt: skip
        status, wall, peak, stdout, stderr = _popen_with_rusage(argv, child_env)
    case.status, case.wall_s, case.peak_rss_bytes = status, wall, peak
    case.load_after = os.getloadavg()[0]
    if case.status != 0:
        logger.warning("case %s %s %s failed (%s): %s", case.version, Path(case.video).name, case.rate, case.status,
                       stderr.strip()[-2000:])  # fmt: skip
        return case
    result = json.loads((out / f"{Path(case.video).stem}.json").read_text())
    case.video_s = result["num_frames"] / result["fps"]
    case.result = {k: result.get(k) for k in ("fps", "num_frames", "seconds", "timing", "precision", "backend")}
    case.result["windows"] = len(result["windows"])
    case.result["probabilities"] = [[w["probabilities"][n] for n in result["class_names"]] for w in result["windows"]]
    case.result["first_line"] = stdout.splitlines()[0] if stdout else ""
    return case


def _run_in_process(argv: list[str]) -> tuple[int, float, int, str, str]:
    """``lifting_dfer.cli.main(argv)`` here; peak RSS is this process's so far."""
    import contextlib
    import io
    import resource

    from lifting_dfer.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(argv)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return status, time.perf_counter() - start, peak, out.getvalue(), err.getvalue()


def import_floor(src: Path, threads: int, env: dict[str, str]) -> dict[str, object]:
    """Peak RSS of a process that only imports what ``predict`` needs (torch, timm, OpenCV, PyAV, ...) and exits."""
    child_env = {**os.environ, **env, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads)}
    code = "import lifting_dfer.cli, lifting_dfer.video, cv2, av"
    status, wall, peak, _, stderr = _popen_with_rusage([sys.executable, "-c", code], child_env)
    if status != 0:
        raise SystemExit(f"benchmarks.video: importing lifting_dfer failed: {stderr.strip()[-500:]}")
    return {"code": code, "peak_rss_bytes": peak, "wall_s": wall}


def check_fp32_equality(ckpt: Path, video: str) -> dict[str, object]:
    """Streaming predict (fp32, fast paths, per-frame reuse) against the plain model on each window's crops."""
    from lifting_dfer.checkpoint import model_from_checkpoint
    from lifting_dfer.video import TorchBackend, frames_to_clip, predict_video, read_faces
    from lifting_dfer.video.pipeline import DETECTIONS_PER_SECOND

    backend = TorchBackend.from_checkpoint(ckpt, precision="fp32")
    result = predict_video(backend, video)
    every = max(1, round(result["fps"] / DETECTIONS_PER_SECOND))
    frames = read_faces(video, backend.info.input_size, fps=result["fps"], detect_every=every)[0].frames
    model, _ = model_from_checkpoint(ckpt)
    got, want = [], []
    with torch.inference_mode():
        for w in result["windows"]:
            clip = frames_to_clip(frames[w["start_frame"] : w["end_frame"]])[None]
            want.append(model(clip).softmax(-1)[0])
            got.append(torch.tensor([w["probabilities"][n] for n in result["class_names"]]))
    gap = (torch.stack(got) - torch.stack(want)).abs().max().item()
    return {"video": video, "windows": len(got), "reuses_frames": backend.reuses_frames, "folded": backend.folded,
            "max_abs_diff": gap, "tol": FP32_TOL, "ok": gap <= FP32_TOL}  # fmt: skip


def check_flat_memory(ckpt: Path, video: str, *, interval: float = 0.5) -> dict[str, object]:
    """Resident memory sampled while ``predict_video`` runs on ``video`` here: its maximum in each quarter of the
    run (flat when memory does not grow with the video's length)."""
    import threading

    from lifting_dfer.video import TorchBackend, predict_video

    def rss_mib() -> int:
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

    backend = TorchBackend.from_checkpoint(ckpt, precision="auto")
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            samples.append(rss_mib())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result = predict_video(backend, video)
    done.set()
    thread.join()
    q = max(1, len(samples) // 4)
    quarters = [max(samples[i * q : (i + 1) * q] or [0]) for i in range(3)] + [max(samples[3 * q :] or [0])]
    spread = max(quarters) / max(1, min(quarters)) - 1
    return {"video": video, "frames": result["num_frames"], "samples": len(samples), "quarters_mib": quarters,
            "spread": spread, "tol": PEAK_SPREAD_MAX, "ok": spread <= PEAK_SPREAD_MAX}  # fmt: skip


def _targets(cases: list[Case], checks: dict[str, dict]) -> list[dict[str, object]]:
    targets = []

    def add(name: str, value: float | None, op: str, threshold: float) -> None:
        if value is not None:
            met = value >= threshold if op == ">=" else value <= threshold
            targets.append({"name": name, "value": value, "op": op, "threshold": threshold, "met": met})

    after = [c for c in cases if c.version == "after" and c.status == 0]
    for c in after:
        label = f"{Path(c.video).name}, {c.rate} rate, precision {c.result.get('precision')}"
        label += f", {c.backend}" if c.backend != "pytorch" else ""
        if c.rate == "default":
            add(f"real-time factor, {label}", c.rtf, ">=", RTF_DEFAULT_MIN)
        else:
            add(f"real-time factor, {label} (aim)", c.rtf, ">=", RTF_NATIVE_AIM)
        add(f"peak resident memory GiB, {label}", c.peak_rss_bytes / 2**30, "<=", PEAK_MAX_BYTES / 2**30)
    default = [c for c in after if c.rate == "default" and c.precision == "auto" and c.backend == "pytorch"]
    if len(default) >= 2:
        peaks = [c.peak_rss_bytes for c in default]
        add("peak memory spread between videos (max / min - 1)", max(peaks) / min(peaks) - 1, "<=", PEAK_SPREAD_MAX)
    if "fp32_equality" in checks:
        add("fp32: max |p - p(model per window)|", checks["fp32_equality"]["max_abs_diff"], "<=", FP32_TOL)
    if "flat_memory" in checks:
        add("resident memory, max of the last quarter of a run vs the first (- 1)", checks["flat_memory"]["spread"],
            "<=", PEAK_SPREAD_MAX)  # fmt: skip
    if "bf16_gap" in checks:
        add("bf16: max |p(bf16) - p(fp32)|", checks["bf16_gap"]["max_abs_diff"], "<=", BF16_TOL)
    if "onnxruntime_gap" in checks:
        add("onnxruntime: max |p(onnx) - p(pytorch fp32)|", checks["onnxruntime_gap"]["max_abs_diff"], "<=", ONNX_TOL)
    return targets


def table(record: dict) -> str:
    """The printed summary."""
    header = ("version", "video", "rate", "prec", "fps", "RTF", "wall s", "peak MB", "decode", "detect", "backbone",
              "head w/s", "load")  # fmt: skip
    rows = [header] + [_row(c) for c in record["cases"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i > 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]  # fmt: skip
    for t in record["targets"]:
        met = "MET " if t["met"] else "MISS"
        lines.append(f"target {met} {t['name']}: {t['value']:.3g} {t['op']} {t['threshold']:.3g}")
    return "\n".join(lines)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def stage_rate(case: dict, stage: str) -> float | None:
    """Items per second of a pipeline stage (frames; windows for ``head``), ``None`` when not recorded."""
    return ((case["result"].get("timing") or {}).get(stage) or {}).get("per_second")


def _row(c: dict) -> tuple[str, ...]:
    return (
        c["version"], Path(c["video"]).name, c["rate"],
        (c["result"].get("precision") or "-") + ("" if c.get("backend") in (None, "pytorch") else f" {c['backend']}"),
        _fmt(c["result"].get("fps"), 2), _fmt(c["rtf"], 2), _fmt(c["wall_s"], 1),
        _fmt(c["peak_rss_bytes"] and c["peak_rss_bytes"] / 2**20, 0),
        *(_fmt(stage_rate(c, stage), 1) for stage in ("decode", "detect", "backbone", "head")),
        f"{c['load_before']:.1f}-{c['load_after']:.1f}",
    )  # fmt: skip


def _tiny_video(path: Path, frames: int = 120, size: int = 64, fps: int = 25) -> str:
    """A small synthetic video (a drifting bright square on noise), for ``--tiny``."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height = stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            img[8 + i % 16 : 24 + i % 16, 16:32] = 220
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    return str(path)


def _earlier_before(path: Path, videos: list[str], num_frames: int, size: int) -> list[Case]:
    """The ``before`` cases of an earlier record for these videos (same model geometry), as ``Case`` objects."""
    record = json.loads(path.read_text())
    settings = record.get("settings", {})
    if (settings.get("frames"), settings.get("size")) != (num_frames, size):
        raise SystemExit(f"benchmarks.video: {path} was run at {settings.get('frames')}x{settings.get('size')}")
    fields = set(Case.__dataclass_fields__)
    by_name = {Path(v).name: v for v in videos}  # records keep file names only
    found = [Case(**{**{k: v for k, v in c.items() if k in fields}, "video": by_name[Path(c["video"]).name]})
             for c in record["cases"] if c["version"] == "before" and Path(c["video"]).name in by_name]  # fmt: skip
    if not found:
        raise SystemExit(f"benchmarks.video: {path} has no 'before' case for {', '.join(videos)}")
    return found


def _duration(video: str) -> float | None:
    """Length of ``video`` in seconds, from its container (``None`` when it does not say)."""
    import av

    with av.open(video) as container:
        return None if container.duration is None else container.duration / av.time_base


def _commit_of(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.video", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--videos",
        nargs="+",
        type=Path,
        default=[],
        help="videos with a face, shortest first (docs/performance.md names public ones and their SHA-256); "
        "the record keeps their names, sizes and SHA-256",
    )
    p.add_argument(
        "--before-src",
        type=Path,
        default=None,
        help="src folder of the version to compare with (e.g. ../main/src); no 'before' rows without it",
    )
    p.add_argument(
        "--before-from",
        type=Path,
        default=None,
        help="take the 'before' rows from an earlier record (same videos and model) instead of rerunning "
        "them (they take an hour on 2 loaded cores)",
    )
    p.add_argument(
        "--native",
        choices=("first", "all", "none"),
        default="first",
        help="videos also run at their native rate (default: the first only)",
    )
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each run (default: 2)")
    p.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE", help="more environment for the runs")
    p.add_argument("--backends", nargs="+", default=["pytorch"], help="predict --backend values (default: pytorch)")
    p.add_argument("--no-checks", action="store_true", help="skip the in-process fp32 equality check")
    p.add_argument(
        "--tiny",
        action="store_true",
        help="8x64 model on a 5 s synthetic video, run in this process: checks that it works",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/video[-tiny].json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; return the JSON record (also written to ``--out``)."""
    args = parse_args(argv)
    if not args.tiny and not args.videos:
        raise SystemExit(
            "benchmarks.video: give --videos (face videos, shortest first; docs/performance.md names public ones)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    env = dict(item.split("=", 1) for item in args.env)
    out = args.out or ROOT / "benchmarks" / "results" / f"video{'-tiny' if args.tiny else ''}.json"
    src = ROOT / "src"
    with tempfile.TemporaryDirectory(prefix="lifting_dfer_video_bench_") as tmp:
        work = Path(tmp)
        num_frames, size = (8, 64) if args.tiny else (16, 224)
        ckpt = make_checkpoint(work / "ifdd_2dcnn.pt", num_frames=num_frames, size=size)
        videos = [_tiny_video(work / "tiny.mp4")] if args.tiny else [str(v) for v in args.videos]
        missing = [v for v in videos if not Path(v).is_file()]
        if missing:
            raise SystemExit(f"benchmarks.video: no such video(s): {', '.join(missing)} (see --videos)")
        cases: list[Case] = []
        for i, video in enumerate(videos if not args.tiny else []):
            for backend in args.backends:
                cases.append(Case("after", video, "default", "auto", backend))
            if i == 0:
                cases.append(Case("after", video, "default", "fp32"))
            if args.native == "all" or (args.native == "first" and i == 0):
                cases.append(Case("after", video, "native", "auto"))
            if args.before_src is not None and args.before_from is None:
                cases.append(Case("before", video, "default", "fp32"))
        if args.tiny:  # one run through the command line (in this process) keeps the entry point working
            cases.append(Case("after", videos[0], "default", "auto"))
        if any(c.backend == "onnxruntime" for c in cases):
            export_onnx_file(ckpt)
        earlier = _earlier_before(args.before_from, videos, num_frames, size) if args.before_from else []
        checks: dict[str, dict] = {"import_floor": import_floor(src, args.threads, env)}
        start = time.perf_counter()
        for k, case in enumerate(cases):
            code = src if case.version == "after" else args.before_src.resolve()
            logger.info("case %d/%d: %s %s %s %s", k + 1, len(cases), case.version, Path(case.video).name, case.rate,
                        case.precision)  # fmt: skip
            run_case(case, ckpt, src=code, threads=args.threads, env=env, out=work / f"out{k}", in_process=args.tiny)
        cases += earlier
        pair = [c for c in cases if c.version == "after" and c.video == videos[0] and c.rate == "default"
                and c.backend == "pytorch" and c.status == 0]  # fmt: skip
        by_precision = {c.precision: c for c in pair}
        if {"auto", "fp32"} <= set(by_precision) and by_precision["auto"].result["precision"] == "bf16":
            a, b = (np.array(by_precision[p].result["probabilities"]) for p in ("auto", "fp32"))
            checks["bf16_gap"] = {"video": videos[0], "max_abs_diff": float(np.abs(a - b).max()), "tol": BF16_TOL,
                                  "ok": float(np.abs(a - b).max()) <= BF16_TOL}  # fmt: skip
        by_backend = {c.backend: c for c in cases if c.version == "after" and c.video == videos[0]
                      and c.rate == "default" and c.status == 0 and c.result.get("precision") == "fp32"}  # fmt: skip
        if {"pytorch", "onnxruntime"} <= set(by_backend):
            a, b = (np.array(by_backend[k].result["probabilities"]) for k in ("onnxruntime", "pytorch"))
            gap = float(np.abs(a - b).max())
            checks["onnxruntime_gap"] = {
                "video": videos[0],
                "max_abs_diff": gap,
                "tol": ONNX_TOL,
                "ok": gap <= ONNX_TOL,
            }
        if not args.no_checks:
            torch.set_num_threads(args.threads)
            checks["fp32_equality"] = check_fp32_equality(ckpt, videos[0])
            checks["flat_memory"] = check_flat_memory(ckpt, videos[-1])
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    env_record = environment(torch.device("cpu"))
    torch.set_num_threads(threads)
    env_record["child_env"] = {"OMP_NUM_THREADS": str(args.threads), **env}
    env_record["before_src"] = None if args.before_src is None else portable_path(args.before_src)
    env_record["before_commit"] = None if args.before_src is None else _commit_of(args.before_src)
    if args.before_from is not None:
        earlier_env = json.loads(args.before_from.read_text())["env"]
        env_record["before_from"] = {"file": args.before_from.name, "date": earlier_env["date"],
                                     "argv": earlier_env["argv"]}  # fmt: skip
        env_record["before_src"], env_record["before_commit"] = earlier_env["before_src"], earlier_env["before_commit"]
    record = {
        "schema": SCHEMA,
        "kind": "video",
        "tiny": args.tiny,
        "env": env_record,
        "settings": {"model": "ifdd_2dcnn", "frames": num_frames, "size": size, "threads": args.threads},
        "videos": [] if args.tiny else [{**file_record(v), "seconds": _duration(v)} for v in videos],
        "cases": [{**asdict(c), "video": Path(c.video).name, "rtf": c.rtf} for c in cases],
        "checks": checks,
        "elapsed_s": time.perf_counter() - start,
    }
    for c in record["cases"]:
        c["result"].pop("probabilities", None)
    for check in checks.values():  # names, not this machine's paths
        if "video" in check:
            check["video"] = Path(check["video"]).name
    record["targets"] = [] if args.tiny else _targets(cases, checks)
    write_json(record, out)
    print(table(record))
    print(f"\nwrote {out}")
    return record


if __name__ == "__main__":
    main()
