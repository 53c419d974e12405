"""Shared benchmark plumbing: environment record, interleaved timing, memory, JSON output.

Timing uses :class:`torch.utils.benchmark.Timer`, after a warm-up that runs each candidate until it stops getting
faster (2 to 6 runs). Each round calls ``blocked_autorange(min_run_time)`` on every
candidate in turn (the order alternates between rounds), or ``timeit(1)`` when one run already takes longer than
``min_run_time`` (then ``blocked_autorange`` would spend a whole run estimating its block size). The median and
the inter-quartile range are taken over every timed run of every round; ratios are the ratio of the medians of
candidates timed interleaved in the same rounds, so machine load drifts affect both sides alike.

Memory (one extra run, outside the timing):

- CUDA: ``torch.cuda.max_memory_allocated`` during the run minus what was allocated before it (``peak_bytes``);
- every device, forward+backward: the bytes autograd saves for the backward pass (``saved_bytes``), counted with
  :func:`torch.autograd.graph.saved_tensors_hooks` once per storage, parameters excluded. This is the activation
  memory a training step keeps alive between forward and backward, the dominant part of the peak; it is not the
  allocator's peak (CPU PyTorch has no allocator statistics).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.benchmark import Timer

__all__ = [
    "ROOT",
    "SCHEMA",
    "Timing",
    "Workload",
    "environment",
    "file_record",
    "measure",
    "peak_bytes",
    "portable_path",
    "saved_bytes",
    "write_json",
]

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "lifting_dfer.benchmarks/1"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def portable_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a record may hold it: relative to the repository when inside it, else the file name alone.

    Records are committed; an absolute path says only where one machine kept its files.
    """
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return p.name


def _portable_argv(argv: Sequence[str]) -> list[str]:
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and value.startswith(os.sep):
            out.append(f"{key}={portable_path(value)}")
        else:
            out.append(portable_path(arg) if arg.startswith(os.sep) else arg)
    return out


def file_record(path: str | os.PathLike[str]) -> dict[str, object]:
    """Name, size and SHA-256 of an input file (a video): enough for someone else to check they have the same."""
    import hashlib

    p = Path(path)
    digest = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"name": p.name, "bytes": p.stat().st_size, "sha256": digest.hexdigest()}


def _modified_files() -> list[str] | None:
    """Tracked files that differ from the commit, records and docs left out (a benchmark rewrites those)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status is None:
        return None
    # "XY path" lines; _git strips the output, which takes the first line's leading space (" M path" -> "M path")
    paths = [line[2:].strip().split(" -> ")[-1] for line in status.splitlines() if line.strip()]
    return sorted(p for p in paths if not p.startswith(("benchmarks/results/", "docs/")))


def environment(device: torch.device) -> dict[str, object]:
    """Commit, versions, device and machine: what a JSON record needs to be compared with another.

    ``modified`` lists the tracked files (records and docs aside) that differed from ``commit`` when the record
    was made: empty for a clean checkout, the one kind of record the docs should quote. Paths in ``argv`` are
    made repository-relative (or reduced to file names), so a record names no folder of the machine it ran on.
    """
    env: dict[str, object] = {
        "commit": _git("rev-parse", "HEAD"),
        "modified": _modified_files(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "argv": _portable_argv(sys.argv[1:]),
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


def _as_tuple(out: object) -> tuple[Tensor, ...]:
    if isinstance(out, Tensor):
        return (out,)
    if isinstance(out, (tuple, list)):
        return tuple(t for o in out for t in _as_tuple(o))
    raise TypeError(f"expected tensors, got {type(out).__name__}")


@dataclass
class Workload:
    """Something to time forward (``no_grad``) and forward+backward (``autograd.grad``, nothing accumulates).

    ``forward`` returns a tensor or a (nested) tuple of tensors; forward+backward back-propagates fixed random
    output gradients (or 1 for a scalar loss) to ``grad_inputs`` (inputs and parameters). ``modules`` are put in
    eval mode for the forward timing and in training mode for forward+backward.
    """

    forward: Callable[[], object]
    grad_inputs: Sequence[Tensor]
    modules: Sequence[nn.Module] = ()
    _grads: tuple[Tensor, ...] | None = field(default=None, repr=False)

    def prepare(self, mode: str) -> None:
        for m in self.modules:
            m.train(mode == "fwd+bwd")

    def fwd(self) -> None:
        with torch.no_grad():
            self.forward()

    def fwd_bwd(self) -> None:
        outs = tuple(o for o in _as_tuple(self.forward()) if o.requires_grad)
        if self._grads is None:
            gen = torch.Generator(device=outs[0].device).manual_seed(0)
            self._grads = tuple(
                torch.ones_like(o)
                if o.ndim == 0
                else torch.randn(o.shape, generator=gen, device=o.device, dtype=o.dtype)
                for o in outs
            )
        torch.autograd.grad(outs, list(self.grad_inputs), self._grads, allow_unused=True)

    def run(self, mode: str) -> Callable[[], None]:
        return self.fwd if mode == "fwd" else self.fwd_bwd


@dataclass
class Timing:
    """Per-run times (seconds) of one candidate, over all rounds, and the median of each round."""

    times: list[float]
    round_medians: list[float]
    round_means: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def mean(self) -> float:
        """The expected time of one run: what a loop of many runs (an epoch) takes per run."""
        return statistics.fmean(self.times)

    @property
    def iqr(self) -> float:
        if len(self.times) < 2:
            return 0.0
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[2] - q[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    candidates: dict[str, Callable[[], None]],
    *,
    rounds: int,
    min_run_time: float,
    device: torch.device,
    timer: Callable[[], float] | None = None,
) -> dict[str, Timing]:
    """Time ``candidates`` interleaved: ``rounds`` rounds, each timing every candidate once, order alternating.

    ``timer`` replaces the wall clock (``time.perf_counter``), e.g. ``time.process_time`` for the CPU time of a
    single-threaded candidate on a shared machine.
    """
    import time

    timer = timer or time.perf_counter

    timers, single = {}, {}
    for name, fn in candidates.items():
        # Warm-up (allocator, kernels, lazy init): at least 2 runs, more while runs still get >20% faster (the
        # first runs of a large model on CPU can take 10x the steady state while the allocator grows), at most 6.
        previous = float("inf")
        for k in range(6):
            start = timer()
            fn()
            _sync(device)
            single[name] = timer() - start
            if k >= 1 and single[name] > 0.8 * previous:
                break
            previous = single[name]
        timers[name] = Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads(), label=name, timer=timer)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    medians: dict[str, list[float]] = {name: [] for name in candidates}
    means: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            timer = timers[name]
            m = timer.timeit(1) if single[name] >= min_run_time else timer.blocked_autorange(min_run_time=min_run_time)
            times[name].extend(m.times)
            medians[name].append(m.median)
            means[name].append(statistics.fmean(m.times))
    return {name: Timing(times[name], medians[name], means[name]) for name in names}


def saved_bytes(fn: Callable[[], object], exclude: Sequence[Tensor] = ()) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn()`` runs (once per storage, ``exclude`` left out)."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        if t.device.type != "meta":
            storage = t.untyped_storage()
            if storage.data_ptr() not in skip:
                seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def peak_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """CUDA: peak allocated bytes during ``fn()`` above what was allocated before; ``None`` elsewhere."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def write_json(record: dict[str, object], path: Path) -> None:
    """Write ``record`` as indented JSON (atomically: a temporary file, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
