"""The CPU demo as a record: ``python -m benchmarks.demo`` runs ``python examples/train_dfew.py --output-dir
runs/demo`` in an empty temporary folder, as the Quickstart tells a newcomer to, and writes what it printed, its
wall time per epoch and in all, and its test UAR/WAR to ``benchmarks/results/demo.json``.

The docs quote the demo's output and figures from this record (``python -m benchmarks.make_docs`` writes them into
the pages), so the pages agree with each other and with one run on a named machine. The last digits of the
accuracy can differ on another CPU or thread count (floating-point summation order).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .common import ROOT, SCHEMA, environment, write_json

__all__ = ["main", "run_demo"]

COMMAND = ["examples/train_dfew.py", "--output-dir", "runs/demo"]


def run_demo(folder: Path, *, threads: int | None, extra: Sequence[str] = ()) -> dict[str, object]:
    """Run the demo in ``folder``; its printed lines (``folder`` written as ``.``), timings and test metrics."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / COMMAND[0]), *COMMAND[1:], "--no-progress", *extra],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.demo: the demo failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    here = str(folder.resolve())
    lines = [line.replace(here + os.sep, "").replace(here, ".") for line in proc.stdout.splitlines()]
    fold = folder / "runs" / "demo" / "fold1"
    epochs = [json.loads(line) for line in (fold / "metrics.jsonl").read_text().splitlines() if line.strip()]
    summary = json.loads((fold / "test_metrics.json").read_text())["summary"]
    return {
        "command": ["python", *COMMAND, "--no-progress", *extra],
        "stdout": lines,
        "wall_s": wall,
        "epoch_s": [e["epoch_seconds"] for e in epochs],
        "best_epoch": summary["best_epoch"],
        "test_uar": summary["test_uar"],
        "test_war": summary["test_war"],
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the demo and write its record; return it."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the run (default: unset)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "demo.json")
    p.add_argument("extra", nargs="*", help="more options for the demo (after --), e.g. -- --epochs 2")
    args = p.parse_args(argv)
    env = environment(torch.device("cpu"))  # before the run: the commit and files as they were when it started
    env["threads"] = args.threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="lifting_dfer_demo_") as tmp:
        run = run_demo(Path(tmp), threads=args.threads, extra=args.extra)
    record = {"schema": SCHEMA, "kind": "demo", "tiny": bool(args.extra), "env": env, **run}
    write_json(record, args.out)
    print("\n".join(run["stdout"]))
    print(f"wall {run['wall_s']:.0f} s; wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
