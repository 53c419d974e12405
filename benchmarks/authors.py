"""Like-with-like speed of the authors' form: their ISSM + LADM + head module against ours, at identical outputs.

::

    python -m benchmarks.authors --ifdd /path/to/IFDD           # CPU, fp32, b = 2 and 16, C = 768
    python -m benchmarks.authors --ifdd /path/to/IFDD --tiny    # seconds: b = 2 only, short timing

``/path/to/IFDD`` is a checkout of github.com/CyberPegasus/IFDD at 1a1f557 (see ``tools/authors_reference.py``).

Theirs: ``WaveSF_trans_CLS`` (ISSM, LADM and the pooling block, as their ``MFViT_FPN`` builds it for the DFEW
config: 8 frames of 7 x 7 x 768, 8 heads) and ``headNet`` (Dropout, Linear), on their input layout (tokens
``b (t h w) c``, which their pyramid produces); the lifting loss is their ``LiftingLoss`` on the ``pool_a`` it
returns. Ours: ``issm``, ``ladm``, ``pool``, ``dropout``, ``classifier`` of ``ifdd_3dvit_authors``
(``lifting_dfer.authors.lifting_parts``) on our input layout (``b c t h w`` in channels-last memory order, which our
pyramid produces: the same bytes as their tokens) and
``LiftLoss(reduction="batch_sum")``. Their random weights are loaded into ours with
``lifting_dfer.authors.authors_state_dict``; before timing, the logits and lift losses of both are checked to agree,
in eval mode and in training mode from the same seed (ours draws the stochastic-depth and dropout masks as theirs
does, in the same order).

Each side's step is ``(lift loss, logits)``; forward+backward (training mode: stochastic depth and dropout on,
on both sides) back-propagates to the input and every parameter; forward is ``no_grad`` in eval mode. Ours skips
what stochastic depth drops (``BlockPool``), so a single forward+backward varies with the draw: the forward+backward
ratio is that of the mean times (the expected cost of a training step; the ratio of the medians, the time of the
commonest draw, is recorded beside it), the forward ratio that of the medians. ``--threads 1`` (as the CPU records of ``benchmarks.run``) keeps a loaded
machine's thread scheduling out of the figures. The two
sides are timed interleaved in the same rounds (``benchmarks/common.py``), so machine load affects both alike;
the ratio is theirs / ours. Writes ``benchmarks/results/authors-<device>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from lifting_dfer.authors import authors_state_dict
from lifting_dfer.authors.models import lifting_parts
from lifting_dfer.loss import LiftLoss

from .common import ROOT, SCHEMA, Workload, environment, measure, portable_path, saved_bytes, write_json

__all__ = ["OursHead", "TheirsHead", "main"]

logger = logging.getLogger("benchmarks")

SPEEDUP_MIN = 1.5
DIM, FRAMES, SIDE, CLASSES = 768, 8, 7, 7


@contextlib.contextmanager
def _their_code(root: Path):
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))


class TheirsHead(nn.Module):
    """Their ``WaveSF_trans_CLS`` + ``headNet`` + ``LiftingLoss``: ``tokens (b, t h w, c) -> (lift, logits)``."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        with _their_code(root):
            from loguru import logger as their_logger

            their_logger.remove()
            from core.model.head import headNet
            from core.utils.loss import LiftingLoss
            from core.wave_methods.WaveLift import WaveSF_trans_CLS

        # as MFViT_FPN builds it with the DFEW config (use_LADM, WaveSF_preUpdate, use_ISSM, WaveNorm; dropout 0)
        self.lift = WaveSF_trans_CLS(
            input_size=[FRAMES, SIDE, SIDE], embed_dim=DIM, num_head=8, AdaptSplit=True, WaveSF_preUpdate=True,
            WaveNorm=True, dropout=0.0,
        )  # fmt: skip
        self.head = headNet(num_classes=CLASSES, embed_dim=DIM, dropout=0.5)
        self.loss = LiftingLoss()

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        pool_a, features = self.lift(tokens, input_CLS=False)
        return self.loss(pool_a, None), self.head(features)


class OursHead(nn.Module):
    """``ifdd_3dvit_authors``'s ISSM, LADM, pooling and classifier + ``LiftLoss(reduction="batch_sum")``."""

    def __init__(self) -> None:
        super().__init__()
        for name, part in lifting_parts(DIM, FRAMES, SIDE, SIDE).items():
            self.add_module(name, part)
        self.dropout = nn.Dropout(0.5)
        self.classifier = nn.Linear(DIM, CLASSES)
        self.loss = LiftLoss(reduction="batch_sum")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x_s, x_d = self.issm(x)
        y_s, y_d = self.ladm(x_s, x_d)
        return self.loss(y_s, x), self.classifier(self.dropout(self.pool(y_d)))


def their_weights_in_ours(theirs: TheirsHead, ours: OursHead) -> None:
    """Load their state dict into ours through the checkpoint loader's key map."""
    state = {f"backbone.WaveLifts.{k}": v for k, v in theirs.lift.state_dict().items()}
    state.update({f"head.{k}": v for k, v in theirs.head.state_dict().items()})
    ours.load_state_dict(authors_state_dict(state, ours.state_dict()), strict=True)


def _params(module: nn.Module) -> list[Tensor]:
    return [p for p in module.parameters() if p.requires_grad]


def bench_case(root: Path, batch: int, rounds: int, min_run_time: float) -> dict[str, object]:
    torch.manual_seed(0)
    theirs, ours = TheirsHead(root), OursHead()
    their_weights_in_ours(theirs, ours)
    # Both pyramids leave X in the same memory: theirs as tokens "b (t h w) c", ours as "b c t h w" in channels-last
    # memory order (the 1x1 conv's output on MViT's token-ordered stages), i.e. the same bytes.
    tokens = torch.randn(batch, FRAMES * SIDE * SIDE, DIM)
    x = tokens.clone().view(batch, FRAMES, SIDE, SIDE, DIM).permute(0, 4, 1, 2, 3)
    agree = {}
    for mode in ("eval", "train"):  # training mode: stochastic depth and dropout draw the same masks from one seed
        theirs.train(mode == "train"), ours.train(mode == "train")
        torch.manual_seed(1)
        lift_t, logits_t = theirs(tokens.clone().requires_grad_())  # their LiftingLoss counts inputs needing grad
        torch.manual_seed(1)
        lift_o, logits_o = ours(x)
        agree[mode] = {
            "logits_max_abs_diff": float((logits_t - logits_o).detach().abs().max()),
            "lift_abs_diff": float((lift_t - lift_o).detach().abs()),
        }
        if agree[mode]["logits_max_abs_diff"] > 1e-4 * max(1.0, float(logits_t.abs().max())):
            raise RuntimeError(f"the two sides disagree ({mode} mode): {agree[mode]}")
    x.requires_grad_()
    tokens.requires_grad_()
    workloads = {
        "theirs": Workload(lambda: theirs(tokens), [tokens, *_params(theirs)], [theirs]),
        "ours": Workload(lambda: ours(x), [x, *_params(ours)], [ours]),
    }
    result: dict[str, object] = {"batch": batch, "agreement_fp32": agree, "modes": {}}
    for mode in ("fwd", "fwd+bwd"):
        for w in workloads.values():
            w.prepare(mode)
        timings = measure(
            {name: w.run(mode) for name, w in workloads.items()}, rounds=rounds, min_run_time=min_run_time,
            device=torch.device("cpu"),
        )  # fmt: skip
        entry = {
            name: {"median_s": tm.median, "mean_s": tm.mean, "iqr_s": tm.iqr, "runs": len(tm.times)}
            for name, tm in timings.items()
        }
        # Forward (eval mode) costs the same every run: the median. Forward+backward in training mode costs what the
        # stochastic-depth draw leaves to compute, so a run's time takes a few values (at b = 2 ours skips the MLP of
        # 0, 1 or 2 clips, with chances 0.64, 0.32, 0.04) and the median is the time of the commonest draw; the
        # mean is the expected time of a step, what an epoch takes per step.
        stat = "median" if mode == "fwd" else "mean"
        entry["speedup_statistic"] = stat
        entry["speedup"] = getattr(timings["theirs"], stat) / getattr(timings["ours"], stat)
        entry["speedup_median"] = timings["theirs"].median / timings["ours"].median
        per_round = {name: getattr(tm, f"round_{stat}s") for name, tm in timings.items()}
        entry["speedup_rounds"] = [a / b for a, b in zip(per_round["theirs"], per_round["ours"])]
        if mode == "fwd+bwd":
            for name, w in workloads.items():
                entry[name]["saved_bytes"] = saved_bytes(w.forward, w.grad_inputs)
        result["modes"][mode] = entry
        logger.info("b=%d %s: theirs / ours = %.2fx (%s; medians %.2fx)", batch, mode, entry["speedup"], stat,
                    entry["speedup_median"])  # fmt: skip
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.authors", description=__doc__.splitlines()[0])
    p.add_argument("--ifdd", type=Path, required=True, help="checkout of github.com/CyberPegasus/IFDD (1a1f557)")
    p.add_argument("--batches", type=int, nargs="+", default=[2, 16])
    p.add_argument("--rounds", type=int, default=4, help="interleaved timing rounds")
    p.add_argument("--min-run-time", type=float, default=1.0, help="seconds per blocked_autorange")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--tiny", action="store_true", help="b = 2, 2 rounds of 0.2 s: a smoke run")
    p.add_argument("--out", type=Path, default=None, help="JSON record (default benchmarks/results/authors-cpu.json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = args.ifdd.resolve()
    if not (root / "core" / "wave_methods" / "WaveLift.py").is_file():
        raise SystemExit(f"--ifdd {root}: not a checkout of CyberPegasus/IFDD (no core/wave_methods/WaveLift.py)")
    if args.threads:
        torch.set_num_threads(args.threads)
    batches, rounds, min_run_time = ([2], 2, 0.2) if args.tiny else (args.batches, args.rounds, args.min_run_time)
    cases = [bench_case(root, b, rounds, min_run_time) for b in batches]
    targets = [
        {
            "name": f"authors' ISSM+LADM+head C={DIM} b={c['batch']} fwd+bwd: speed-up of ours over theirs",
            "value": c["modes"]["fwd+bwd"]["speedup"],
            "op": ">=",
            "threshold": SPEEDUP_MIN,
            "met": c["modes"]["fwd+bwd"]["speedup"] >= SPEEDUP_MIN,
        }
        for c in cases
    ]
    record = {
        "schema": SCHEMA,
        "kind": "authors",
        "tiny": args.tiny,
        "env": {**environment(torch.device("cpu")), "load_average": os.getloadavg()},
        "ifdd_checkout": portable_path(root),
        "settings": {"dim": DIM, "frames": FRAMES, "side": SIDE, "rounds": rounds, "min_run_time": min_run_time},
        "cases": cases,
        "targets": targets,
    }
    print("\n| b | mode | statistic | theirs (s) | ours (s) | theirs / ours |\n|---|---|---|---|---|---|")
    for c in cases:
        for mode, e in c["modes"].items():
            stat = e["speedup_statistic"]
            print(f"| {c['batch']} | {mode} | {stat} | {e['theirs'][stat + '_s']:.4f} | {e['ours'][stat + '_s']:.4f} "
                  f"| **{e['speedup']:.2f}x** |")  # fmt: skip
    out = args.out or ROOT / "benchmarks" / "results" / f"authors-cpu{'-tiny' if args.tiny else ''}.json"
    write_json(record, out)
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return record


if __name__ == "__main__":
    main()
