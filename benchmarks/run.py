"""Benchmark entry point: ``python -m benchmarks.run`` (add ``--tiny`` for a seconds-long smoke run).

Times forward (``no_grad``, eval mode) and forward+backward (training mode) of

1. ``interp``: :func:`~lifting_dfer.interpolation.interpolate_frames` against the naive ``grid_sample``
   reference (:func:`benchmarks.reference.naive_interpolate_frames`) and against the bandwidth floor, a plain
   ``index_select`` copy of the bytes the interpolation reads (the two neighbour frames of each of the ``z``
   positions, i.e. ``2 z`` frames);
2. ``head``: ISSM + LADM at the paper's shapes (``b=16, t=8, h=w=14``; ``C=128, D_C=1`` as in IFDD-2DCNN and
   ``C=768, D_C=4, mlp_ratio=3`` as in IFDD-3DViT; plus ``b=2, C=768``) against
   :class:`benchmarks.reference.NaiveLiftingHead` loaded with the same weights;
3. ``models``: each full model next to its own backbone: clips/s, the head's share of time (``1 - t_backbone /
   t_model``) and of multiply-accumulates (:mod:`lifting_dfer.flops`, per clip), against the paper's Table 12;
4. ``compile``: ``torch._dynamo.explain`` graph and graph-break counts of ISSM + LADM and of each IFDD model's
   head (everything after the backbone).

Prints a table and writes a JSON record (default ``benchmarks/results/<device>.json``; see
``benchmarks/common.py`` for how times and memory are measured). ``python -m benchmarks.make_docs`` turns the
records into ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lifting_dfer.interpolation import interpolate_frames
from lifting_dfer.issm import ISSM
from lifting_dfer.ladm import LADM
from lifting_dfer.loss import LiftLoss

from .common import ROOT, SCHEMA, Timing, Workload, environment, measure, peak_bytes, saved_bytes, write_json
from .reference import NaiveLiftingHead, naive_interpolate_frames

__all__ = ["PAPER", "TINY", "LiftingHead", "Settings", "main"]

logger = logging.getLogger("benchmarks")

# Table 12 of the paper, per 16x224x224 clip: (params in M, GMACs in thop's convention).
PAPER_TABLE12 = {
    "ifdd_2dcnn": (1.18, 3.86),
    "baseline_2dcnn": (1.55, 3.73),
    "ifdd_3dvit": (37.44, 36.01),
    "baseline_3dvit": (23.41, 32.83),
}
BASELINE_OF = {"ifdd_2dcnn": "baseline_2dcnn", "ifdd_3dvit": "baseline_3dvit"}

# Targets of issue 5.
HEAD_SPEEDUP_MIN = 1.5
INTERP_FLOOR_MAX = 3.0


@dataclass(frozen=True)
class HeadCase:
    """ISSM + LADM benchmark shape and settings."""

    name: str
    b: int
    c: int
    t: int
    h: int
    w: int
    compress: int
    heads: int = 8
    mlp_ratio: float = 4.0
    paper: bool = True  # a paper shape (checked against the speed-up target)


@dataclass(frozen=True)
class Settings:
    """Shapes of one benchmark run."""

    interp: tuple[tuple[str, tuple[int, int, int, int, int]], ...]
    head: tuple[HeadCase, ...]
    models: tuple[str, ...]
    model_clip: tuple[int, int]  # (t0, image size)
    model_overrides: dict[str, dict[str, object]] = field(default_factory=dict)


PAPER = Settings(
    interp=(("C=128", (16, 128, 8, 14, 14)), ("C=768", (16, 768, 8, 14, 14))),
    head=(
        HeadCase("C=128 b=16 (2DCNN)", 16, 128, 8, 14, 14, compress=1, mlp_ratio=4.0),
        HeadCase("C=768 b=16 (3DViT)", 16, 768, 8, 14, 14, compress=4, mlp_ratio=3.0),
        HeadCase("C=768 b=2 (3DViT)", 2, 768, 8, 14, 14, compress=4, mlp_ratio=3.0, paper=False),
    ),
    models=("ifdd_2dcnn", "baseline_2dcnn", "ifdd_3dvit", "baseline_3dvit"),
    model_clip=(16, 224),
)

TINY = Settings(
    interp=(("tiny", (2, 8, 8, 6, 6)),),
    head=(HeadCase("tiny", 2, 16, 8, 6, 6, compress=2, heads=2, mlp_ratio=2.0),),
    models=("ifdd_2dcnn", "baseline_2dcnn"),
    model_clip=(4, 32),
    model_overrides={"ifdd_2dcnn": {"dim": 16}, "baseline_2dcnn": {"hidden": 16}},
)


class LiftingHead(nn.Module):
    """The library's ISSM then LADM, ``x: (b, c, t, h, w) -> (y_s, y_d)``; state dict keys ``issm.*``, ``ladm.*``."""

    def __init__(self, case: HeadCase) -> None:
        super().__init__()
        self.issm = ISSM(case.c, case.t, case.h, case.w, compress=case.compress)
        self.ladm = LADM(case.c, heads=case.heads, mlp_ratio=case.mlp_ratio)
        with torch.no_grad():  # a trained ISSM has moved off the even/odd split: fractional indices
            self.issm.to_static.weight.normal_(0, 0.05)
            self.issm.to_dynamic.weight.normal_(0, 0.05)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.ladm(*self.issm(x))


# --------------------------------------------------------------------------------------------------- records
@dataclass
class Row:
    section: str
    case: str
    variant: str
    mode: str
    median_s: float
    iqr_s: float
    runs: int
    saved_bytes: int | None = None
    peak_bytes: int | None = None
    shape: dict[str, object] = field(default_factory=dict)


@dataclass
class Ratio:
    section: str
    case: str
    mode: str
    name: str  # "numerator/denominator" of medians
    value: float
    rounds: list[float]


@dataclass
class Bench:
    """Everything one run collects."""

    device: torch.device
    rounds: int
    min_run_time: float
    rows: list[Row] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    models: list[dict[str, object]] = field(default_factory=list)
    compile: list[dict[str, object]] = field(default_factory=list)
    targets: list[dict[str, object]] = field(default_factory=list)

    def compare(
        self,
        section: str,
        case: str,
        workloads: dict[str, Workload],
        *,
        shape: dict[str, object],
        ratios: Sequence[tuple[str, str]] = (),
        memory_exclude: Sequence[Tensor] = (),
    ) -> dict[str, dict[str, Timing]]:
        """Time every workload in both modes, interleaved; record rows and ``num/den`` ratios."""
        out: dict[str, dict[str, Timing]] = {}
        for mode in ("fwd", "fwd+bwd"):
            for w in workloads.values():
                w.prepare(mode)
            timings = measure(
                {name: w.run(mode) for name, w in workloads.items()},
                rounds=self.rounds,
                min_run_time=self.min_run_time,
                device=self.device,
            )
            out[mode] = timings
            for name, w in workloads.items():
                saved = saved_bytes(w.forward, memory_exclude) if mode == "fwd+bwd" else None
                peak = peak_bytes(w.run(mode), self.device)
                tm = timings[name]
                self.rows.append(
                    Row(section, case, name, mode, tm.median, tm.iqr, len(tm.times), saved, peak, dict(shape))
                )
            for num, den in ratios:
                per_round = [a / b for a, b in zip(timings[num].round_medians, timings[den].round_medians)]
                value = timings[num].median / timings[den].median
                self.ratios.append(Ratio(section, case, mode, f"{num}/{den}", value, per_round))
            logger.info("%s %s %s done", section, case, mode)
        return out

    def ratio(self, section: str, case: str, mode: str, name: str) -> float:
        return next(r.value for r in self.ratios if (r.section, r.case, r.mode, r.name) == (section, case, mode, name))

    def target(self, name: str, value: float, op: str, threshold: float, note: str = "") -> None:
        met = value >= threshold if op == ">=" else value <= threshold
        self.targets.append({"name": name, "value": value, "op": op, "threshold": threshold, "met": met, "note": note})


def _params(*modules: nn.Module) -> list[Tensor]:
    return [p for m in modules for p in m.parameters() if p.requires_grad]


# --------------------------------------------------------------------------------------------------- sections
def bench_interp(bench: Bench, settings: Settings, tiny: bool) -> None:
    """interpolate_frames vs grid_sample reference vs index_select bandwidth floor."""
    for case, (b, c, t, h, w) in settings.interp:
        torch.manual_seed(0)
        z = t // 2
        x = torch.randn(b, c, t, h, w, device=bench.device, requires_grad=True)
        # positions of a trained ISSM: around 2i (static group), fractional, some at the ends of the range
        index = torch.arange(0, t, 2, device=bench.device) + torch.rand(b, z, device=bench.device) * 2 - 1
        index = index.clamp(0, t - 1).requires_grad_()
        lower = index.detach()[0].floor().long()
        frames = torch.cat([lower, (lower + 1).clamp(max=t - 1)])  # the 2z frames interpolation reads
        workloads = {
            "library": Workload(lambda x=x, i=index: interpolate_frames(x, i), [x, index]),
            "naive": Workload(lambda x=x, i=index: naive_interpolate_frames(x, i), [x, index]),
            "floor": Workload(lambda x=x, f=frames: torch.index_select(x, 2, f), [x]),
        }
        shape = {"b": b, "c": c, "t": t, "h": h, "w": w, "z": z}
        bench.compare("interp", case, workloads, shape=shape, ratios=[("naive", "library"), ("library", "floor")])
        if not tiny:
            for mode in ("fwd", "fwd+bwd"):
                value = bench.ratio("interp", case, mode, "library/floor")
                name = f"interpolate_frames {case} {mode}: time / index_select floor"
                bench.target(name, value, "<=", INTERP_FLOOR_MAX)
        del x, index, workloads


def _head_macs(case: HeadCase) -> dict[str, float]:
    """GMACs of one ISSM + LADM forward (meta device), split into weight layers and attention products."""
    from lifting_dfer.flops import count_macs

    with torch.device("meta"):
        head = LiftingHead(case)
        macs, layer_macs, _ = count_macs(head, torch.zeros(case.b, case.c, case.t, case.h, case.w))
    return {"gmacs": macs / 1e9, "layer_gmacs": layer_macs / 1e9, "attention_gmacs": (macs - layer_macs) / 1e9}


def bench_head(bench: Bench, settings: Settings, tiny: bool) -> None:
    """ISSM + LADM vs the naive reference with the same weights."""
    for case in settings.head:
        torch.manual_seed(0)
        library = LiftingHead(case).to(bench.device)
        naive = NaiveLiftingHead(
            case.c, case.t, case.h, case.w, compress=case.compress, heads=case.heads, mlp_ratio=case.mlp_ratio
        ).to(bench.device)
        naive.load_state_dict(library.state_dict())
        x = torch.randn(case.b, case.c, case.t, case.h, case.w, device=bench.device, requires_grad=True)
        workloads = {
            "library": Workload(lambda m=library, x=x: m(x), [x, *_params(library)], [library]),
            "naive": Workload(lambda m=naive, x=x: m(x), [x, *_params(naive)], [naive]),
        }
        shape = {k: getattr(case, k) for k in ("b", "c", "t", "h", "w", "compress", "heads", "mlp_ratio")}
        shape.update(_head_macs(case))
        params = _params(library, naive)
        bench.compare("head", case.name, workloads, shape=shape, ratios=[("naive", "library")], memory_exclude=params)
        if case.paper and not tiny:
            value = bench.ratio("head", case.name, "fwd+bwd", "naive/library")
            bench.target(f"ISSM+LADM {case.name} fwd+bwd: speed-up over naive", value, ">=", HEAD_SPEEDUP_MIN)
        del library, naive, x, workloads


def _build(name: str, settings: Settings, device: torch.device | str) -> nn.Module:
    from lifting_dfer.models import create_model

    t0, size = settings.model_clip
    with torch.device(device):
        return create_model(name, num_frames=t0, image_size=size, **settings.model_overrides.get(name, {}))


def _model_macs(name: str, settings: Settings) -> dict[str, object]:
    """Per-clip multiply-accumulates on the meta device: model, backbone, and the head's parts."""
    from torch.utils.flop_counter import FlopCounterMode

    from lifting_dfer.flops import count_params, model_complexity

    t0, size = settings.model_clip
    shape = (1, 3, t0, size, size)
    model = _build(name, settings, "meta").eval()
    full = model_complexity(model, shape)
    backbone = model_complexity(model.backbone, shape)
    with torch.device("meta"), FlopCounterMode(display=False, depth=2) as counter:
        model(torch.zeros(shape))
    top = type(model).__name__
    parts = {
        key.split(".", 1)[1]: sum(v.values()) // 2
        for key, v in counter.get_flop_counts().items()
        if key.startswith(top + ".") and key.count(".") == 1
    }
    return {
        "params": full.params,
        "backbone_params": count_params(model.backbone),
        "gmacs": full.gmacs,
        "thop_gmacs": full.thop_gmacs,
        "backbone_gmacs": backbone.gmacs,
        "backbone_thop_gmacs": backbone.thop_gmacs,
        "head_gmacs": full.gmacs - backbone.gmacs,
        "head_thop_gmacs": full.thop_gmacs - backbone.thop_gmacs,
        "head_flop_share": (full.gmacs - backbone.gmacs) / full.gmacs,
        "parts_gmacs": {k: v / 1e9 for k, v in parts.items()},
    }


def _training_loss(model: nn.Module, clip: Tensor, labels: Tensor) -> Tensor:
    out = model(clip)
    if hasattr(out, "y_s"):  # IFDDOutput
        return F.cross_entropy(out.logits, labels) + LiftLoss()(out.y_s, out.x)
    return F.cross_entropy(out, labels)


class _ModelWorkload(Workload):
    """Forward: eval-mode logits. Forward+backward: training loss (cross entropy [+ LiftLoss])."""

    def __init__(self, model: nn.Module, clip: Tensor, labels: Tensor) -> None:
        self.model, self.clip, self.labels = model, clip, labels
        super().__init__(self._forward, _params(model), [model])

    def _forward(self) -> Tensor:
        if self.model.training:
            return _training_loss(self.model, self.clip, self.labels)
        return self.model(self.clip)


def bench_models(bench: Bench, settings: Settings, batch: int, tiny: bool, timed: Sequence[str] | None) -> None:
    """Full models next to their backbones: head share of MACs (all), clips/s and head share of time (``timed``)."""
    t0, size = settings.model_clip
    for name in settings.models:
        torch.manual_seed(0)
        info: dict[str, object] = {"model": name, "batch": batch, "frames": t0, "image_size": size}
        info.update(_model_macs(name, settings))
        if name in PAPER_TABLE12 and not tiny:
            info["paper_params_m"], info["paper_gmacs"] = PAPER_TABLE12[name]
        if timed is not None and name not in timed:
            for mode in ("fwd", "fwd+bwd"):
                info[f"{mode}_clips_per_s"] = info[f"{mode}_head_time_share"] = None
            bench.models.append(info)
            continue
        model = _build(name, settings, bench.device)
        clip = torch.randn(batch, 3, t0, size, size, device=bench.device)
        labels = torch.randint(0, 7, (batch,), device=bench.device)
        backbone = model.backbone
        workloads = {
            "model": _ModelWorkload(model, clip, labels),
            "backbone": Workload(lambda m=backbone, c=clip: m(c), _params(backbone), [backbone]),
        }
        timings = bench.compare(
            "models", name, workloads, shape={"b": batch, "t0": t0, "size": size}, ratios=[("backbone", "model")],
            memory_exclude=_params(model),
        )  # fmt: skip
        for mode, tm in timings.items():
            info[f"{mode}_clips_per_s"] = batch / tm["model"].median
            info[f"{mode}_head_time_share"] = 1 - tm["backbone"].median / tm["model"].median
        bench.models.append(info)
        del model, clip, workloads, backbone
    if not tiny:
        by_name = {m["model"]: m for m in bench.models}
        for ifdd, base in BASELINE_OF.items():
            if ifdd in by_name and base in by_name:
                ours = by_name[ifdd]["thop_gmacs"] - by_name[base]["thop_gmacs"]
                paper = PAPER_TABLE12[ifdd][1] - PAPER_TABLE12[base][1]
                bench.target(
                    f"{ifdd}: GMACs added to {base} (thop convention) vs paper's {paper:.2f}", ours, "<=", paper,
                    note="Table 12 difference, same counting convention as the paper",
                )  # fmt: skip


class _Features(nn.Module):
    """Stands in for a backbone: returns fixed stage features (so dynamo traces only the head)."""

    def __init__(self, features: list[Tensor]) -> None:
        super().__init__()
        self.features = features

    def forward(self, clip: Tensor) -> list[Tensor]:
        return list(self.features)


def _explain(target: str, fn: Callable[..., object], *args: object) -> dict[str, object]:
    import torch._dynamo as dynamo

    dynamo.reset()
    out = dynamo.explain(fn)(*args)
    reasons = sorted({str(getattr(r, "reason", r)).splitlines()[0] for r in out.break_reasons})
    return {"target": target, "graphs": out.graph_count, "graph_breaks": out.graph_break_count, "reasons": reasons}


def bench_compile(bench: Bench, settings: Settings, tiny: bool) -> None:
    """Graph breaks under torch.compile (dynamo explain; no inductor compilation, so it is cheap)."""
    torch.manual_seed(0)
    case = HeadCase("explain", 2, 32, 8, 6, 6, compress=2, heads=4)
    head = LiftingHead(case).to(bench.device).train()
    x = torch.randn(case.b, case.c, case.t, case.h, case.w, device=bench.device)
    bench.compile.append(_explain("ISSM+LADM", head, x))
    t0, size = settings.model_clip
    for name in settings.models:
        if not name.startswith("ifdd"):
            continue
        model = _build(name, settings, bench.device).train()
        clip = torch.randn(1, 3, t0, size, size, device=bench.device)
        with torch.no_grad():
            features = [f.detach() for f in model.backbone(clip)]
        backbone, model.backbone = model.backbone, _Features(features)
        try:
            bench.compile.append(_explain(f"{name} head (after the backbone)", model, clip))
        finally:
            model.backbone = backbone
    for entry in bench.compile:
        if not tiny:
            bench.target(f"torch.compile graph breaks: {entry['target']}", entry["graph_breaks"], "<=", 0)
    import torch._dynamo as dynamo

    dynamo.reset()


# --------------------------------------------------------------------------------------------------- output
def _fmt_time(s: float) -> str:
    return f"{s * 1e3:10.2f}" if s < 100 else f"{s:9.1f}s"


def _fmt_mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def table(bench: Bench) -> str:
    """The printed summary: one line per timing, then ratios, models, compile and targets."""
    lines = [
        f"{'section':8} {'case':22} {'variant':9} {'mode':8} {'median ms':>10} {'IQR ms':>9} {'runs':>5} "
        f"{'saved MB':>9} {'peak MB':>8}"
    ]
    for r in bench.rows:
        lines.append(
            f"{r.section:8} {r.case:22} {r.variant:9} {r.mode:8} {_fmt_time(r.median_s)} {r.iqr_s * 1e3:9.2f} "
            f"{r.runs:5d} {_fmt_mb(r.saved_bytes):>9} {_fmt_mb(r.peak_bytes):>8}"
        )
    if bench.ratios:
        lines += ["", f"{'ratio of medians':34} {'case':22} {'mode':8} {'value':>7}  per round"]
        for q in bench.ratios:
            rounds = " ".join(f"{v:.2f}" for v in q.rounds)
            lines.append(f"{q.section + ': ' + q.name:34} {q.case:22} {q.mode:8} {q.value:7.2f}  [{rounds}]")
    if bench.models:
        lines += [
            "",
            f"{'model':15} {'params M':>8} {'GMACs':>7} {'head GMACs':>10} {'head MAC %':>10} {'thop GMACs':>10} "
            f"{'fwd clip/s':>10} {'train clip/s':>12} {'head time % fwd/train':>22}",
        ]
        for m in bench.models:
            timed = m["fwd_clips_per_s"] is not None
            lines.append(
                f"{m['model']:15} {m['params'] / 1e6:8.2f} {m['gmacs']:7.2f} {m['head_gmacs']:10.3f} "
                f"{100 * m['head_flop_share']:10.1f} {m['thop_gmacs']:10.2f} "
                + (
                    f"{m['fwd_clips_per_s']:10.2f} {m['fwd+bwd_clips_per_s']:12.2f} "
                    f"{100 * m['fwd_head_time_share']:10.1f} / {100 * m['fwd+bwd_head_time_share']:.1f}"
                    if timed
                    else f"{'-':>10} {'-':>12} {'(not timed)':>22}"
                )
            )
    if bench.compile:
        lines += [""] + [
            f"compile: {c['target']}: {c['graphs']} graph(s), {c['graph_breaks']} break(s) {c['reasons'] or ''}"
            for c in bench.compile
        ]
    if bench.targets:
        lines += [""] + [
            f"target {'MET ' if t['met'] else 'MISS'} {t['name']}: {t['value']:.3g} {t['op']} {t['threshold']:.3g}"
            for t in bench.targets
        ]
    return "\n".join(lines)


def record(bench: Bench, *, tiny: bool, settings: Settings, sections: Sequence[str], model_batch: int) -> dict:
    """The JSON record (schema ``lifting_dfer.benchmarks/1``)."""
    return {
        "schema": SCHEMA,
        "kind": "run",
        "tiny": tiny,
        "env": environment(bench.device),
        "settings": {
            "rounds": bench.rounds,
            "min_run_time_s": bench.min_run_time,
            "dtype": "float32",
            "sections": list(sections),
            "model_batch": model_batch,
            "shapes": asdict(settings),
            "memory": "saved_bytes: tensors saved for backward (once per storage, parameters excluded); "
            "peak_bytes: CUDA max_memory_allocated above the pre-run allocation (CUDA only)",
        },
        "timings": [asdict(r) for r in bench.rows],
        "ratios": [asdict(q) for q in bench.ratios],
        "models": bench.models,
        "compile": bench.compile,
        "targets": bench.targets,
    }


SECTIONS = ("interp", "head", "compile", "models")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny shapes (seconds): checks that the benchmark runs")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; 1 with --tiny)")
    p.add_argument("--min-run-time", type=float, default=None, help="seconds per blocked_autorange (default 0.5)")
    p.add_argument("--time-models", nargs="*", default=None,
                   help="models whose time is measured (default: all; the others get MAC counts only)")  # fmt: skip
    p.add_argument("--model-batch", type=int, default=None, help="clips per batch (default 16 on CUDA, 1 on CPU)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/<device>[-tiny].json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; return the JSON record (also written to ``--out``)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    settings = TINY if args.tiny else PAPER
    rounds = args.rounds or (1 if args.tiny else 3)
    min_run_time = args.min_run_time if args.min_run_time is not None else (0.01 if args.tiny else 0.5)
    model_batch = args.model_batch or (16 if device.type == "cuda" else 1)
    bench = Bench(device, rounds, min_run_time)
    out = args.out or ROOT / "benchmarks" / "results" / f"{device.type}{'-tiny' if args.tiny else ''}.json"
    start = time.perf_counter()
    for section in args.sections:
        if section == "interp":
            bench_interp(bench, settings, args.tiny)
        elif section == "head":
            bench_head(bench, settings, args.tiny)
        elif section == "models":
            bench_models(bench, settings, model_batch, args.tiny, args.time_models)
        elif section == "compile":
            bench_compile(bench, settings, args.tiny)
        rec = record(bench, tiny=args.tiny, settings=settings, sections=args.sections, model_batch=model_batch)
        rec["elapsed_s"] = time.perf_counter() - start
        write_json(rec, out)  # after every section: a run cut short keeps what it finished
    print(table(bench))
    print(f"\n{rec['env']['device_name']}, torch {rec['env']['torch']}, {rec['env']['threads']} threads, "
          f"commit {str(rec['env']['commit'])[:10]}, {rec['elapsed_s']:.0f} s; wrote {out}")  # fmt: skip
    return rec


if __name__ == "__main__":
    main()
