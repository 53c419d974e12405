"""How fast ``lifting-dfer prepare`` turns videos into clips with 1 and 2 worker processes: ``python -m benchmarks.prepare``.

Writes ``--count`` synthetic face videos once (``make_face_videos``: ``--seconds`` at 25 fps, 320 x 240, two labels;
reused while the marker file says they match), or takes ``--videos DIR`` (a folder of ``<label>/<video>`` files,
e.g. real recordings). Then [`prepare_videos`][lifting_dfer.data.prepare_videos] prepares them into a fresh folder
for each worker count, ``--repeat`` rounds with the counts interleaved (the order alternates between rounds, so that
a drift of the machine's load affects every count alike). Reported per count: clips per second (median over rounds)
of the decoding and writing (``PrepareReport.seconds``), the wall time of the whole call, the CPU time of this
process and its workers, the speed-up over the first count, and the load average; ``--json FILE`` writes them with
the environment record of ``benchmarks.common``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import SCHEMA, environment, portable_path, write_json
from lifting_dfer.data import make_face_videos, prepare_videos


def make_videos(root: Path, *, count: int, seconds: float, height: int, width: int) -> Path:
    """``count`` synthetic face videos under ``root/src`` (two labels), written once per setting."""
    src = root / f"src-{count}-{seconds:g}s-{width}x{height}"
    marker = src / ".complete"
    if marker.exists():
        return src
    shutil.rmtree(src, ignore_errors=True)
    per_label = (count + 1) // 2
    make_face_videos(src, labels=("smile", "frown"), videos_per_label=per_label, seconds=seconds, height=height,
                     width=width, faceless=0)  # fmt: skip
    for extra in sorted(src.glob("frown/*.mp4"))[count - per_label :]:  # an odd count: one fewer frown
        extra.unlink()
    marker.write_text("complete\n")
    return src


def run_once(src: Path, dst: Path, workers: int) -> dict[str, float]:
    shutil.rmtree(dst, ignore_errors=True)
    start_cpu, start_children = time.process_time(), os.times()
    start = time.perf_counter()
    report = prepare_videos(src, dst, workers=workers, val_fraction=0.0, test_fraction=0.0)
    wall = time.perf_counter() - start
    end = os.times()
    cpu = (
        time.process_time()
        - start_cpu
        + (end.children_user - start_children.children_user)
        + (end.children_system - start_children.children_system)
    )
    if report.unreadable or report.error or not report.prepared:
        raise RuntimeError(f"prepare failed: {report.unreadable or report.error or 'nothing prepared'}")
    return {"clips": len(report.prepared), "seconds": report.seconds, "clips_per_second": report.clips_per_second,
            "wall_seconds": wall, "cpu_seconds": cpu, "frames": sum(r.frames for r in report.prepared)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.prepare", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        default=str(Path(tempfile.gettempdir()) / "lifting_dfer_bench_prepare"),
        help="where videos and outputs go (default: lifting_dfer_bench_prepare in the temporary folder)",
    )
    parser.add_argument("--videos", default=None, metavar="DIR", help="a folder of <label>/<video> to use instead")
    parser.add_argument("--count", type=int, default=24, help="synthetic videos (default: 24)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each synthetic video (default: 2)")
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default: 1 2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the record as JSON")
    args = parser.parse_args(argv)
    root = Path(args.root)
    src = Path(args.videos) if args.videos else make_videos(root, count=args.count, seconds=args.seconds,
                                                            height=args.height, width=args.width)  # fmt: skip
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in args.workers}
    for r in range(args.repeat):
        for workers in args.workers if r % 2 == 0 else args.workers[::-1]:
            runs[workers].append(run_once(src, root / f"dst-{workers}", workers))
    base = statistics.median(x["clips_per_second"] for x in runs[args.workers[0]])
    rows = []
    for workers, results in runs.items():
        rate = statistics.median(x["clips_per_second"] for x in results)
        rows.append({"workers": workers, "clips": results[0]["clips"], "frames": results[0]["frames"],
                     "clips_per_second": rate, "speedup": rate / base, "runs": results})  # fmt: skip
        each = ", ".join(f"{x['clips_per_second']:.2f}" for x in results)
        print(f"{workers} worker(s): {rate:.2f} clips/s (median of {len(results)}: {each}), {rate / base:.2f}x; "
              f"wall {statistics.median(x['wall_seconds'] for x in results):.1f} s, "
              f"CPU {statistics.median(x['cpu_seconds'] for x in results):.1f} s for {results[0]['clips']} clips")  # fmt: skip
    load = os.getloadavg()
    print(f"load average {' '.join(f'{x:.1f}' for x in load)} on {os.cpu_count()} CPUs ({src})")
    if args.json:
        record = {"schema": SCHEMA, "benchmark": "prepare", "environment": environment(torch.device("cpu")),
                  "videos": portable_path(src), "load_average": load, "results": rows}  # fmt: skip
        write_json(record, Path(args.json))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
