"""The prepared GPU check: ``python -m benchmarks.gpu`` (``--dry-run``: on CPU at tiny shapes, in seconds).

Four steps, in order of importance; the JSON record (default ``benchmarks/results/gpu.json``) is rewritten after
each one, so a run cut short by a time limit still leaves what it finished:

1. ``equality``: CUDA results equal CPU results (float32, TF32 off) for ``interpolate_frames``, ISSM + LADM
   (forward and every gradient) and each full model (eval logits), as a norm-relative error against a tolerance;
2. ``bf16_step``: one bf16-autocast training step (cross entropy + LiftLoss, AdamW) of each model: finite loss,
   every parameter with a finite gradient;
3. ``throughput``: training clips/s at batch 16 of 16x224x224 clips, bf16 autocast, eager and
   ``torch.compile``-d, with the peak CUDA memory of the timed steps and dynamo's graph-break count;
4. nothing else: ``benchmarks/gpu.sh`` then runs ``python -m benchmarks.run --device cuda`` and
   ``python -m benchmarks.make_docs``.

In ``--dry-run`` the "CUDA" side is the CPU too (the comparison is then trivially exact: it checks the code
path), shapes are tiny and ``torch.compile`` uses the ``eager`` backend (dynamo tracing without inductor).
"""

from __future__ import annotations

import argparse
import copy
import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.benchmark import Timer

from lifting_dfer.interpolation import interpolate_frames
from lifting_dfer.loss import LiftLoss

from .common import ROOT, SCHEMA, environment, write_json
from .run import HeadCase, LiftingHead

__all__ = ["main"]

logger = logging.getLogger("benchmarks.gpu")

MODULE_TOL = 1e-5  # norm-relative error, float32 without TF32
MODEL_TOL = 1e-4


def _rel_err(a: Tensor, b: Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _tensors(out: object) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _compare(
    name: str, fn: Callable[..., object], module: nn.Module | None, inputs: Sequence[Tensor], device: torch.device,
    tol: float, grads: bool,
) -> dict[str, object]:  # fmt: skip
    """Run ``fn(module, *inputs)`` on CPU and on ``device``; compare outputs (and gradients)."""
    results = []
    for dev in (torch.device("cpu"), device):
        mod = copy.deepcopy(module).to(dev) if module is not None else None
        xs = [x.detach().to(dev).requires_grad_(grads and x.is_floating_point()) for x in inputs]
        out = _tensors(fn(mod, *xs))
        leaves = [x for x in xs if x.requires_grad] + (list(mod.parameters()) if mod is not None and grads else [])
        g = []
        if grads:
            gens = [torch.Generator().manual_seed(i) for i in range(len(out))]
            seeds = [torch.randn(o.shape, generator=g).to(dev) for g, o in zip(gens, out)]
            g = list(torch.autograd.grad(out, leaves, seeds, allow_unused=True))
        results.append((out, g))
    (out_a, g_a), (out_b, g_b) = results
    errors = [_rel_err(b, a) for a, b in zip(out_a, out_b)]
    grad_errors = [_rel_err(b, a) for a, b in zip(g_a, g_b) if a is not None and b is not None]
    worst = max(errors + grad_errors)
    return {"name": name, "max_rel_err": worst, "output_rel_err": max(errors),
            "grad_rel_err": max(grad_errors, default=0.0), "tol": tol, "ok": worst <= tol}  # fmt: skip


def step_equality(device: torch.device, dry: bool, models: Sequence[str], build: Callable[[str], nn.Module],
                  clip_shape: tuple[int, ...]) -> list[dict[str, object]]:  # fmt: skip
    """CUDA == CPU for the core ops (with gradients) and the full models (eval logits)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    checks = []
    b, c, t, h, w = (2, 8, 8, 6, 6) if dry else (2, 128, 8, 14, 14)
    x = torch.randn(b, c, t, h, w)
    index = (torch.arange(0, t, 2) + torch.rand(b, t // 2) * 2 - 1).clamp(0, t - 1)
    checks.append(_compare("interpolate_frames", lambda m, x, i: interpolate_frames(x, i), None, [x, index], device,
                           MODULE_TOL, grads=True))  # fmt: skip
    cases = [HeadCase("tiny", 2, 16, 8, 6, 6, compress=2, heads=2)] if dry else [
        HeadCase("C=128", 2, 128, 8, 14, 14, compress=1),
        HeadCase("C=768", 2, 768, 8, 14, 14, compress=4, mlp_ratio=3.0),
    ]  # fmt: skip
    for case in cases:
        head = LiftingHead(case)
        x = torch.randn(case.b, case.c, case.t, case.h, case.w)
        checks.append(_compare(f"ISSM+LADM {case.name}", lambda m, x: m(x), head, [x], device, MODULE_TOL, grads=True))
    for name in models:
        torch.manual_seed(0)
        model = build(name).eval()
        clip = torch.randn(2, *clip_shape[1:])
        checks.append(_compare(f"{name} eval logits", lambda m, c: m(c), model, [clip], device, MODEL_TOL, grads=False))
    torch.backends.cuda.matmul.allow_tf32 = False  # leave PyTorch's defaults for what follows
    torch.backends.cudnn.allow_tf32 = True
    return checks


def _loss(model: nn.Module, clip: Tensor, labels: Tensor) -> Tensor:
    out = model(clip)
    if hasattr(out, "y_s"):  # IFDDOutput in training mode
        return F.cross_entropy(out.logits, labels) + LiftLoss()(out.y_s.float(), out.x.float())
    return F.cross_entropy(out, labels)


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, clip: Tensor, labels: Tensor,
                device: torch.device) -> Tensor:  # fmt: skip
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        loss = _loss(model, clip, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()


def step_bf16(device: torch.device, models: Sequence[str], build: Callable[[str], nn.Module],
              clip_shape: tuple[int, ...]) -> list[dict[str, object]]:  # fmt: skip
    """One bf16 autocast training step per model: finite loss, a finite gradient for every parameter."""
    out = []
    for name in models:
        torch.manual_seed(0)
        model = build(name).to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3)
        clip = torch.randn(clip_shape, device=device)
        labels = torch.randint(0, 7, (clip_shape[0],), device=device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = _loss(model, clip, labels)
        loss.backward()
        loss = loss.detach()
        params = dict(model.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and p.grad is None]
        nonfinite = [n for n, p in params.items() if p.grad is not None and not torch.isfinite(p.grad).all()]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        optimizer.step()
        finite_after = all(torch.isfinite(p).all() for p in model.parameters())
        ok = bool(torch.isfinite(loss)) and not missing and not nonfinite and finite_after
        out.append({"model": name, "loss": float(loss), "grad_norm": grad_norm, "params_without_grad": missing[:20],
                    "nonfinite_grads": nonfinite[:20], "ok": ok})  # fmt: skip
        del model, optimizer
    return out


def step_throughput(device: torch.device, models: Sequence[str], build: Callable[[str], nn.Module],
                    clip_shape: tuple[int, ...], *, compile_modes: Sequence[bool], backend: str,
                    min_run_time: float, warmup: int) -> list[dict[str, object]]:  # fmt: skip
    """Training clips/s with bf16 autocast, eager and compiled, and the peak memory of the timed steps."""
    import torch._dynamo as dynamo

    out = []
    for name in models:
        for compiled in compile_modes:
            torch.manual_seed(0)
            dynamo.reset()
            dynamo.utils.counters.clear()
            model = build(name).to(device).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3)
            runner = torch.compile(model, backend=backend) if compiled else model
            clip = torch.randn(clip_shape, device=device)
            labels = torch.randint(0, 7, (clip_shape[0],), device=device)
            start = time.perf_counter()
            for _ in range(warmup):  # compilation happens here
                _train_step(runner, optimizer, clip, labels, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            warmup_s = time.perf_counter() - start
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            timer = Timer(
                "step()", globals={"step": functools.partial(_train_step, runner, optimizer, clip, labels, device)}
            )
            m = timer.blocked_autorange(min_run_time=min_run_time)
            entry = {
                "model": name,
                "compiled": compiled,
                "backend": backend if compiled else None,
                "batch": clip_shape[0],
                "clip": list(clip_shape[1:]),
                "median_s": m.median,
                "iqr_s": m.iqr,
                "runs": len(m.times),
                "clips_per_s": clip_shape[0] / m.median,
                "warmup_s": warmup_s,
                "peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
                "graph_breaks": sum(dynamo.utils.counters["graph_break"].values()) if compiled else None,
            }
            out.append(entry)
            logger.info("throughput %s compiled=%s: %.1f clips/s", name, compiled, entry["clips_per_s"])
            del model, optimizer, runner
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, compile backend 'eager'")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    p.add_argument("--models", nargs="+", default=["ifdd_2dcnn", "ifdd_3dvit"])
    p.add_argument("--batch", type=int, default=None, help="clips per training step (default 16; 2 with --dry-run)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile throughput")
    p.add_argument("--backend", default=None, help="torch.compile backend (default inductor; eager with --dry-run)")
    p.add_argument("--min-run-time", type=float, default=None, help="seconds of timed steps per setting (default 2)")
    p.add_argument("--steps", nargs="+", default=["equality", "bf16_step", "throughput"],
                   choices=["equality", "bf16_step", "throughput"])  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/gpu[-dry-run].json)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the GPU check; return the JSON record (also written to ``--out`` after every step)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    device = torch.device(args.device or ("cpu" if args.dry_run else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks.gpu: CUDA is not available (use --dry-run to check the script on CPU)")
    from lifting_dfer.models import create_model

    if args.dry_run:
        t0, size, batch = 4, 64, args.batch or 2
        tiny = {"ifdd_2dcnn": {"dim": 16}, "ifdd_3dvit": {"dim": 32, "depths": (1, 1, 1, 1)},
                "baseline_2dcnn": {"hidden": 16}, "baseline_3dvit": {"hidden": 16, "depths": (1, 1, 1, 1)}}  # fmt: skip
    else:
        t0, size, batch, tiny = 16, 224, args.batch or 16, {}
    clip_shape = (batch, 3, t0, size, size)

    def build(name: str) -> nn.Module:
        return create_model(name, num_frames=t0, image_size=size, **tiny.get(name, {}))

    out = args.out or ROOT / "benchmarks" / "results" / f"gpu{'-dry-run' if args.dry_run else ''}.json"
    record: dict[str, object] = {
        "schema": SCHEMA,
        "kind": "gpu",
        "tiny": args.dry_run,
        "env": environment(device),
        "settings": {"models": args.models, "clip": list(clip_shape), "autocast": "bfloat16", "optimizer": "AdamW"},
    }
    start = time.perf_counter()
    if "equality" in args.steps:
        record["equality"] = step_equality(device, args.dry_run, args.models, build, clip_shape)
        write_json(record, out)
    if "bf16_step" in args.steps:
        record["bf16_step"] = step_bf16(device, args.models, build, clip_shape)
        write_json(record, out)
    if "throughput" in args.steps:
        modes = [False] if args.no_compile else [False, True]
        backend = args.backend or ("eager" if args.dry_run else "inductor")
        min_run_time = args.min_run_time if args.min_run_time is not None else (0.01 if args.dry_run else 2.0)
        record["throughput"] = []
        for name in args.models:  # one model at a time, so a time limit still leaves the first model's numbers
            record["throughput"] += step_throughput(device, [name], build, clip_shape, compile_modes=modes,
                                                    backend=backend, min_run_time=min_run_time,
                                                    warmup=1 if args.dry_run else 3)  # fmt: skip
            write_json(record, out)
    record["elapsed_s"] = time.perf_counter() - start
    write_json(record, out)
    for c in record.get("equality", []):
        flag = "ok  " if c["ok"] else "FAIL"
        print(f"equality  {flag} {c['name']:28} rel err {c['max_rel_err']:.2e} (tol {c['tol']:.0e})")
    for s in record.get("bf16_step", []):
        flag = "ok  " if s["ok"] else "FAIL"
        print(f"bf16 step {flag} {s['model']:28} loss {s['loss']:.4f} grad norm {s['grad_norm']:.3g}")
    for r in record.get("throughput", []):
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.2f} GiB"
        kind = "compiled" if r["compiled"] else "eager   "
        print(f"train     {r['model']:15} {kind} {r['clips_per_s']:8.1f} clips/s "
              f"(median {r['median_s'] * 1e3:.1f} ms/step, warm-up {r['warmup_s']:.1f} s, peak {peak}, "
              f"graph breaks {r['graph_breaks']})")  # fmt: skip
    print(f"wrote {out} ({record['elapsed_s']:.0f} s)")
    failed = [c["name"] for c in record.get("equality", []) if not c["ok"]]
    failed += [s["model"] for s in record.get("bf16_step", []) if not s["ok"]]
    record["ok"] = not failed
    write_json(record, out)
    if failed:
        raise SystemExit(f"benchmarks.gpu: failed checks: {', '.join(failed)}")
    return record


if __name__ == "__main__":
    main()
