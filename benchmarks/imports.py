"""Import cost: ``python -m benchmarks.imports`` (``--tiny`` for one round, a smoke run).

Each case runs in a fresh interpreter, as a user's script does; the child measures its own wall time
(``time.perf_counter`` around the statements) and its peak resident memory (``ru_maxrss``), and reports whether
timm and torchvision ended up in ``sys.modules``. Cases, interleaved round by round (the order alternates) so that
load drifts hit every case alike:

- ``torch_einops``: ``import torch, einops``, the floor any lifting_dfer import pays;
- ``lifting_dfer``: ``import lifting_dfer``;
- ``layers``: ``import lifting_dfer`` and ISSM, LADM, ``interpolate_frames``, ``PyramidAggregation`` and
  ``LiftLoss`` built and run once on a tiny input;
- ``with_timm_torchvision``: ``import torch, einops, timm, torchvision``, what ``import lifting_dfer`` cost before
  the backbones imported them lazily;
- ``before`` (with ``--before-src DIR``, e.g. the ``src`` folder of an older checkout): ``import lifting_dfer``
  from ``DIR``.

Reports the median, minimum and maximum seconds and the median peak memory (MiB) of each case, and the 1-minute
load average before and after (other jobs on the machine slow every figure down). Writes
``benchmarks/results/imports.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .common import ROOT, SCHEMA, environment, write_json

__all__ = ["CASES", "main", "measure_case"]

_LAYERS = """
x = torch.randn(2, 16, 8, 7, 7)
x_s, x_d = lifting_dfer.ISSM(16, num_frames=8, height=7, width=7)(x)
y_s, y_d = lifting_dfer.LADM(16, heads=4)(x_s, x_d)
lifting_dfer.interpolate_frames(x, torch.rand(2, 4) * 7)
lifting_dfer.PyramidAggregation([8, 16], 16)([torch.randn(2, 8, 8, 14, 14), x])
lifting_dfer.LiftLoss()(y_s, x)
"""

CASES: dict[str, str] = {
    "torch_einops": "import torch, einops",
    "lifting_dfer": "import lifting_dfer",
    "layers": "import torch, lifting_dfer" + _LAYERS,
    "with_timm_torchvision": "import torch, einops, timm, torchvision",
}

_CHILD = """
import json, resource, sys, time
start = time.perf_counter()
{statements}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
print(json.dumps({{"seconds": seconds, "peak_mib": peak,
                  "imported": sorted(m for m in ("timm", "torchvision") if m in sys.modules)}}))
"""


def measure_case(statements: str, *, pythonpath: str | None = None) -> dict[str, Any]:
    """Run ``statements`` in a fresh interpreter: ``{"seconds", "peak_mib", "imported"}`` as the child saw them."""
    env = dict(os.environ)
    if pythonpath is not None:  # another source tree first (the "before" case)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    code = _CHILD.format(statements=textwrap.dedent(statements).strip())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [float(s["seconds"]) for s in samples]
    peaks = [float(s["peak_mib"]) for s in samples]
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "median_peak_mib": statistics.median(peaks),
        "imported": samples[-1]["imported"],
        "runs": len(samples),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per case (default: 7)")
    parser.add_argument("--before-src", default=None, metavar="DIR", help="also time `import lifting_dfer` from DIR")
    parser.add_argument("--tiny", action="store_true", help="one round; writes imports-tiny.json")
    parser.add_argument("--out", type=Path, default=None, help="the JSON record (default: benchmarks/results/...)")
    args = parser.parse_args(argv)
    runs = 1 if args.tiny else args.runs
    cases = {name: (code, None) for name, code in CASES.items()}
    if args.before_src is not None:
        before = str(Path(args.before_src).resolve())
        cases["before"] = (f"import lifting_dfer\nassert lifting_dfer.__file__.startswith({before!r})", before)
    load_before = os.getloadavg()[0]
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for round_ in range(runs):
        order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
        for name in order:
            code, path = cases[name]
            samples[name].append(measure_case(code, pythonpath=path))
    results = {name: _summary(values) for name, values in samples.items()}
    record = {
        "schema": SCHEMA,
        "benchmark": "imports",
        "environment": environment(torch.device("cpu")),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "results": results,
    }
    out = args.out or ROOT / "benchmarks" / "results" / ("imports-tiny.json" if args.tiny else "imports.json")
    write_json(record, out)
    print(f"| case | median s | min s | max s | peak MiB | timm / torchvision imported | ({runs} runs each)")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, r in results.items():
        imported = ", ".join(r["imported"]) or "neither"
        print(
            f"| {name} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['median_peak_mib']:.0f} | "
            f"{imported} |"
        )
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
