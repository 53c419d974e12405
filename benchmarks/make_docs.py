"""Render ``docs/performance.md`` from the JSON records, and the figures other pages quote
(``benchmarks/figures.py``): ``python -m benchmarks.make_docs``.

Reads every ``benchmarks/results/*.json`` (records of ``python -m benchmarks.run`` and ``python -m benchmarks.gpu``;
tiny and dry-run records are skipped) and writes one Markdown page. CPU sections quote ratios measured in the
same run, not absolute times (those depend on the machine and its load; they stay in the JSON); GPU sections
quote clips/s and memory.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from .common import ROOT, SCHEMA
from .figures import PAGES, fill, render_figures

__all__ = ["load_records", "main", "render"]

REGENERATE = """\
```bash
python -m benchmarks.run         # CPU, ~10-15 min on 2 cores: benchmarks/results/cpu.json
bash benchmarks/gpu.sh           # on a CUDA machine: benchmarks/results/gpu.json and cuda.json
python -m benchmarks.video --videos SHORT.mp4 LONG.mp4 --before-src OLD/src --backends pytorch onnxruntime
                                 # predict on face videos, ~15 min: benchmarks/results/video.json
python -m benchmarks.demo        # the CPU demo's output and run time: demo.json (Quickstart, Training)
python -m benchmarks.deploy      # exported models per window, ~10 min: deploy-cpu.json (Deployment page)
python -m benchmarks.loader      # training input per core and per DataLoader, ~3 min: loader.json
python -m benchmarks.authors --ifdd IFDD --threads 1
                                 # the authors' form against their code (a checkout of it): authors-cpu.json
python -m benchmarks.make_docs   # this page and the figures other pages quote, from benchmarks/results/*.json
```"""

METHOD = """\
- Timer: `torch.utils.benchmark.Timer`, after a warm-up that repeats each candidate until it stops getting
  faster (2 to 6 runs); each round then times every candidate once (`blocked_autorange`, or one
  `timeit` run when a single run is longer than `min_run_time`), the order alternating between rounds. Medians
  and inter-quartile ranges (IQR) are over all timed runs; a **ratio is the ratio of two medians timed
  interleaved in the same run**, and "per round" gives the ratio of each round's medians (its spread shows how
  much the machine's load moved).
- Forward: `torch.no_grad()`, eval mode. Forward+backward: training mode, `torch.autograd.grad` of fixed random
  output gradients (full models: of the training loss, cross entropy + LiftLoss) with respect to the inputs and
  every parameter.
- Memory: "saved MB" is what autograd keeps for the backward pass (tensors saved by the forward, counted once
  per storage, parameters excluded), the activation memory a training step holds; CPU PyTorch has no allocator
  statistics. On CUDA, "peak" is `torch.cuda.max_memory_allocated` during the run, above what was allocated
  before it.
- Naive references (`benchmarks/reference.py`) are written the way research code writes these layers
  (`grid_sample` over the clip reshaped to `(b, h*w*c, t, 1)`; explicit `softmax(q @ k^T) @ v` with per-head
  `view/permute/contiguous` chains) and load the library module's weights, so both compute the same function
  (`tests/test_benchmarks.py` checks it).
- The `index_select` floor copies the `2z` frames interpolation reads (both neighbours of each of the `z`
  positions): the bytes of a gather-based interpolation, with no arithmetic.
- MACs ("GFLOPs" in DFER papers) come from `lifting_dfer.flops`, per clip: `GMACs` counts every
  product (fvcore convention), `thop` counts conv/linear layers plus 4 per normalised element (the convention
  of the paper's Table 12)."""


def load_records(directory: Path) -> list[dict]:
    """Non-tiny records of this schema in ``directory``, sorted by file name."""
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rec, dict) and rec.get("schema") == SCHEMA and not rec.get("tiny"):
            rec["_file"] = path.name
            records.append(rec)
    return records


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    rows = list(rows)
    if not rows:
        return []
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]  # | inside a cell
    return [*lines, ""]


def _mb(n: object) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def _code_line(env: dict) -> str:
    """The code a record measured: its commit, and the files that differed from it (records say since 2026-12)."""
    code = f"commit `{str(env['commit'])[:10]}`"
    if env.get("modified"):
        code += " with edits to " + ", ".join(f"`{m}`" for m in env["modified"])
    elif env.get("dirty"):  # older records kept only a flag
        code += " with local edits that the record does not list"
    return code


def _env_line(rec: dict) -> str:
    env = rec["env"]
    rounds = rec.get("settings", {}).get("rounds")
    modules = {
        "run": "benchmarks.run",
        "video": "benchmarks.video",
        "loader": "benchmarks.loader",
        "authors": "benchmarks.authors",
    }
    module = modules.get(rec.get("kind"), "benchmarks.gpu")
    command = " ".join([f"python -m {module}", *env.get("argv", [])])
    threads = env["threads"]
    return (
        f"*`{command}`: {env['device_name']} ({env.get('cpu_count')} cores), {threads} thread"
        f"{'s' if threads != 1 else ''}, torch {env['torch']}, Python {env['python']}, {_code_line(env)}, "
        f"{env['date']}; file `benchmarks/results/{rec.get('_file', '?')}`"
        + (f", {rounds} rounds" if rounds else "")
        + ".*"
    )


def _ratio(rec: dict, section: str, case: str, mode: str, name: str) -> dict | None:
    for q in rec.get("ratios", []):
        if (q["section"], q["case"], q["mode"], q["name"]) == (section, case, mode, name):
            return q
    return None


def _fmt_ratio(q: dict | None) -> str:
    if q is None:
        return "-"
    lo, hi = min(q["rounds"]), max(q["rounds"])
    return f"**{q['value']:.2f}x** ({lo:.2f}-{hi:.2f})" if len(q["rounds"]) > 1 else f"**{q['value']:.2f}x**"


def _row(rec: dict, section: str, case: str, variant: str, mode: str) -> dict | None:
    for r in rec.get("timings", []):
        if (r["section"], r["case"], r["variant"], r["mode"]) == (section, case, variant, mode):
            return r
    return None


def _cases(rec: dict, section: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in rec.get("timings", []):
        if r["section"] == section:
            seen[r["case"]] = None
    return list(seen)


def _run_sections(rec: dict, absolute: bool) -> list[str]:
    """Markdown for one ``benchmarks.run`` record; ``absolute`` adds median times (GPU records)."""
    out: list[str] = [_env_line(rec), ""]
    cases = _cases(rec, "interp")
    if cases:
        out += ["### `interpolate_frames`", ""]
        header = ["case", "mode", "speed-up over naive `grid_sample`", "time / `index_select` floor",
                  "saved MB: library / naive / floor"]  # fmt: skip
        if absolute:
            header.append("median ms: library / naive / floor")
        rows = []
        for case in cases:
            for mode in ("fwd", "fwd+bwd"):
                r = [_row(rec, "interp", case, v, mode) for v in ("library", "naive", "floor")]
                shape = r[0]["shape"] if r[0] else {}
                dims = ", ".join(str(shape.get(k)) for k in ("b", "c", "t", "h", "w"))
                label = f"{case} `({dims})`"
                row = [label, mode, _fmt_ratio(_ratio(rec, "interp", case, mode, "naive/library")),
                       _fmt_ratio(_ratio(rec, "interp", case, mode, "library/floor")),
                       " / ".join(_mb(x["saved_bytes"]) if x else "-" for x in r)]  # fmt: skip
                if absolute:
                    row.append(" / ".join(f"{x['median_s'] * 1e3:.2f}" if x else "-" for x in r))
                rows.append(row)
        out += _table(header, rows)
    cases = _cases(rec, "head")
    if cases:
        out += ["### ISSM + LADM", ""]
        header = ["case", "mode", "speed-up over naive", "GMACs (attention share)", "saved MB: library / naive"]
        if absolute:
            header += ["median ms: library / naive", "peak MB: library / naive"]
        rows = []
        for case in cases:
            for mode in ("fwd", "fwd+bwd"):
                lib, naive = (_row(rec, "head", case, v, mode) for v in ("library", "naive"))
                shape = lib["shape"] if lib else {}
                macs = "-"
                if shape.get("gmacs"):
                    macs = f"{shape['gmacs']:.1f} ({100 * shape['attention_gmacs'] / shape['gmacs']:.0f}%)"
                row = [case, mode, _fmt_ratio(_ratio(rec, "head", case, mode, "naive/library")), macs,
                       f"{_mb(lib and lib['saved_bytes'])} / {_mb(naive and naive['saved_bytes'])}"]  # fmt: skip
                if absolute:
                    row.append(" / ".join(f"{x['median_s'] * 1e3:.1f}" if x else "-" for x in (lib, naive)))
                    row.append(f"{_mb(lib and lib['peak_bytes'])} / {_mb(naive and naive['peak_bytes'])}")
                rows.append(row)
        out += _table(header, rows)
        out += [
            "GMACs are one forward pass; the attention share is the part in activation-activation products "
            "(`q k^T`, `attn v`); the rest are the q/k/v projections, the MLPs and ISSM's convolution and linear "
            "maps, the same matrix products in both implementations. The speed-up the library can reach is "
            "bounded by that split: the larger the layer share, the closer the ratio stays to 1.",
            "",
        ]
    if rec.get("models"):
        models = rec["models"]
        batch, frames, size = models[0]["batch"], models[0]["frames"], models[0]["image_size"]
        out += ["### Full models", ""]
        header = ["model", "params M", "GMACs/clip", "head GMACs (share)", "thop GMACs (paper)",
                  "head share of time: fwd / train"]  # fmt: skip
        if absolute:
            header += ["clips/s: fwd / train"]
        rows = []
        for m in models:
            paper = f" ({m['paper_gmacs']:.2f})" if "paper_gmacs" in m else ""
            row = [f"`{m['model']}`", f"{m['params'] / 1e6:.2f}", f"{m['gmacs']:.2f}",
                   f"{m['head_gmacs']:.2f} ({100 * m['head_flop_share']:.1f}%)", f"{m['thop_gmacs']:.2f}{paper}",
                   "not timed" if m["fwd_head_time_share"] is None else
                   f"{100 * m['fwd_head_time_share']:.0f}% / {100 * m['fwd+bwd_head_time_share']:.0f}%"]  # fmt: skip
            if absolute:
                row.append("-" if m["fwd_clips_per_s"] is None else
                           f"{m['fwd_clips_per_s']:.1f} / {m['fwd+bwd_clips_per_s']:.1f}")  # fmt: skip
            rows.append(row)
        out += _table(header, rows)
        out += [
            f"Head = everything after the backbone (pyramid aggregation, ISSM, LADM, pooling, classifier; the "
            f"baselines' MLP head). Time shares are `1 - t(backbone) / t(model)` at batch {batch}, measured "
            f"interleaved (a small or negative share means the head's time is within the run-to-run noise of two "
            f"separate measurements); MACs are per {frames}x{size}x{size} clip, by submodule below.",
            "",
        ]
        parts = [m for m in models if m.get("parts_gmacs")]
        if parts:
            names = sorted({k for m in parts for k in m["parts_gmacs"]}, key=lambda k: (k != "backbone", k))
            rows = [[f"`{m['model']}`", *[f"{m['parts_gmacs'].get(n, 0):.3f}" for n in names]] for m in parts]
            out += _table(["model", *[f"`{n}`" for n in names]], rows)
    if rec.get("compile"):
        out += ["### `torch.compile`", ""]
        out += _table(
            ["traced", "graphs", "graph breaks", "reasons"],
            [[c["target"], c["graphs"], c["graph_breaks"], "; ".join(c["reasons"]) or "-"] for c in rec["compile"]],
        )
    return out


def _gpu_sections(rec: dict) -> list[str]:
    out: list[str] = [_env_line(rec), ""]
    if rec.get("equality"):
        out += ["CUDA against CPU, float32 with TF32 off (norm-relative error):", ""]
        out += _table(["check", "relative error", "tolerance", "ok"],
                      [[c["name"], f"{c['max_rel_err']:.1e}", f"{c['tol']:.0e}", "yes" if c["ok"] else "**no**"]
                       for c in rec["equality"]])  # fmt: skip
    if rec.get("bf16_step"):
        out += ["One bf16-autocast training step (cross entropy + LiftLoss, AdamW):", ""]
        out += _table(["model", "loss", "gradient norm", "finite, every parameter updated"],
                      [[f"`{s['model']}`", f"{s['loss']:.4f}", f"{s['grad_norm']:.3g}", "yes" if s["ok"] else "**no**"]
                       for s in rec["bf16_step"]])  # fmt: skip
    if rec.get("throughput"):
        clip = rec["throughput"][0]["clip"]
        out += [f"Training throughput, batch {rec['throughput'][0]['batch']} of {clip[1]}x{clip[2]}x{clip[3]} clips, "
                "bf16 autocast, AdamW:", ""]  # fmt: skip
        out += _table(["model", "torch.compile", "clips/s", "ms/step (IQR)", "peak GiB", "warm-up s", "graph breaks"],
                      [[f"`{r['model']}`", r["backend"] or "no", f"{r['clips_per_s']:.1f}",
                        f"{r['median_s'] * 1e3:.1f} ({r['iqr_s'] * 1e3:.1f})",
                        "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**30:.2f}", f"{r['warmup_s']:.0f}",
                        "-" if r["graph_breaks"] is None else r["graph_breaks"]]
                       for r in rec["throughput"]])  # fmt: skip
    return out


VIDEO_NOTES = """\
- **Real-time factor**: seconds of video per second of wall time of the whole `lifting-dfer predict` command
  (Python start-up, imports, model loading, decoding, face crops, model); in brackets the same inside `predict`
  alone (the JSON's `seconds`), which long videos approach. Peak memory is the command's peak resident set
  (`ru_maxrss`), imports and exit included (see the import floor above).
- **Stages** (items per second, from the JSON's `timing`; the old code has none): decode = source frames decoded
  (every frame is decoded, only the kept ones are converted to RGB), detect = kept frames through the face detector
  and crop, backbone = frames through the 2D trunk (once each: per-frame feature reuse), head = windows classified
  from cached features (pyramid, ISSM, LADM, classifier).
- **Rates**: *default* is the checkpoint's training rate (`sampling` record: DFEW, 16 frames over 3.08 s, i.e.
  5.19 fps) for the new code, and the video's own rate (30 fps) for the old code, which had no such record;
  *native* is `--fps native`. *before* is the code given by `--before-src` (its default settings; it decodes every
  frame, keeps every crop in memory and runs the full model on each window).
- **Load**: the 1-minute load average before and after each run. A run keeps about 2 cores busy itself, so about
  2 means an otherwise idle machine; above that, other jobs shared the 2 cores and the figures are slower (they
  move by up to a factor of two with the load; earlier records are kept in `benchmarks/results/earlier/`).
  Compare rows by their load.
- **Backends**: *pytorch* runs the checkpoint (per-frame feature reuse, folded BatchNorm, bf16 where the CPU has
  it); *onnxruntime* runs the same checkpoint exported by `lifting-dfer export` (float32, whole windows: each
  frame goes through the backbone once per window that holds it)."""


def _rate(rec_case: dict, stage: str) -> str:
    value = ((rec_case["result"].get("timing") or {}).get(stage) or {}).get("per_second")
    return "-" if value is None else f"{value:.1f}"


def _target_value(target: dict) -> str:
    """3 significant digits, or 4 where 3 would print the threshold itself (1.004 against <= 1)."""
    value, threshold = target["value"], target["threshold"]
    short = f"{value:.3g}"
    return short if float(short) != threshold or value == threshold else f"{value:.4g}"


def _authors_sections(rec: dict) -> list[str]:
    """Markdown for one ``benchmarks.authors`` record: their module against ours, at identical outputs."""
    lines = [
        "The authors' ISSM + LADM + pooling module (`WaveSF_trans_CLS` and `headNet` of CyberPegasus/IFDD at "
        "`1a1f557`, with their `LiftingLoss`) against `ifdd_3dvit_authors`'s `issm`, `ladm`, `pool` and classifier "
        'with `LiftLoss(reduction="batch_sum")`, their weights loaded into ours: `C = 768`, 8 frames of 7 x 7, '
        "fp32. Both sides' logits and lift loss agree in eval mode and in training mode from one seed (largest "
        "difference below). Forward (eval mode) costs the same every run and is compared by median times. A "
        "training step's cost depends on the stochastic-depth draw (ours skips what is dropped), so forward+backward "
        "is compared by mean times, the expected cost of a step; the ratio of the medians (the commonest draw's "
        "time) is given beside it. In parentheses: the lowest and highest ratio over the rounds.",
        "",
        _env_line(rec),
        "",
    ]
    rows = []
    for case in rec["cases"]:
        agree = case.get("agreement_fp32", {})
        worst = max((a["logits_max_abs_diff"] for a in agree.values()), default=float("nan"))
        for mode, e in case["modes"].items():
            spread = e.get("speedup_rounds") or [e["speedup"]]
            stat = e.get("speedup_statistic", "median")
            medians = f"{e['speedup_median']:.2f}x" if stat != "median" and "speedup_median" in e else "="
            rows.append([f"b={case['batch']}", mode, f"**{e['speedup']:.2f}x** ({min(spread):.2f}-{max(spread):.2f})",
                         stat, medians, f"{worst:.1e}"])  # fmt: skip
    header = ["case", "mode", "speed-up of ours over theirs", "of the", "of the medians", "max \\|logits diff\\|"]
    lines += _table(header, rows)
    return [*lines, ""]


def _video_sections(rec: dict) -> list[str]:
    """Markdown for one ``benchmarks.video`` record: cases, checks, notes."""
    env = rec["env"]
    settings = rec.get("settings", {})
    extra = ", ".join(f"`{k}={v}`" for k, v in env.get("child_env", {}).items())
    out = [_env_line(rec), ""]
    before = ""
    if env.get("before_src"):
        before = f"; before = the `{env['before_src']}` folder of commit `{str(env.get('before_commit'))[:10]}`"
    if env.get("before_from"):
        earlier = env["before_from"]
        before += (f", its rows taken from an earlier run on the same machine (`python -m benchmarks.video "
                   f"{' '.join(earlier['argv'])}`, {earlier['date']}) with `--before-from`")  # fmt: skip
    out += [f"IFDD-2DCNN at {settings.get('frames')}x{settings.get('size')} (weights: seed 0; timing does not depend "
            f"on them), CPU, runs with {extra}{before}.", ""]  # fmt: skip
    rows = []
    for c in rec["cases"]:
        res = c["result"]
        inside = res.get("seconds") and c.get("video_s") and c["video_s"] / res["seconds"]
        rtf = "-" if c.get("rtf") is None else f"**{c['rtf']:.2f}**" + (f" ({inside:.2f})" if inside else "")
        fps = res.get("fps")
        rows.append([
            c["version"], Path(c["video"]).name, c["rate"] + ("" if fps is None else f" ({fps:.2f} fps)"),
            res.get("precision") or "fp32", c.get("backend", "pytorch"), rtf, f"{c['wall_s']:.1f}",
            _mb(c.get("peak_rss_bytes")).split(".")[0],
            *(_rate(c, stage) for stage in ("decode", "detect", "backbone", "head")),
            f"{c['load_before']:.1f} / {c['load_after']:.1f}",
        ])  # fmt: skip
    out += _table(["code", "video", "rate", "precision", "backend", "real-time factor: command (predict)", "wall s",
                   "peak MiB", "decode fr/s", "detect fr/s", "backbone fr/s", "head win/s", "load before / after"],
                  rows)  # fmt: skip
    checks = rec.get("checks", {})
    labels = {"fp32_equality": "fp32 streaming predict vs the plain model on each window's crops",
              "bf16_gap": "bf16 (`--precision auto` here) vs fp32",
              "onnxruntime_gap": "onnxruntime (the exported file) vs PyTorch fp32"}  # fmt: skip
    compared = {k: v for k, v in checks.items() if k in labels}
    if compared:
        out += [f"Probabilities of every window of `{Path(next(iter(compared.values()))['video']).name}`:", ""]
        out += _table(["check", "max abs difference", "tolerance", "ok"],
                      [[labels[k], f"{v['max_abs_diff']:.2e}", f"{v['tol']:g}", "yes" if v["ok"] else "**no**"]
                       for k, v in compared.items()])  # fmt: skip
    floor = checks.get("import_floor")
    if floor:
        out += [f"A process that only runs `{floor['code']}` and exits peaks at "
                f"{floor['peak_rss_bytes'] / 2**20:.0f} MiB: the floor under every peak above.", ""]  # fmt: skip
    flat = checks.get("flat_memory")
    if flat:
        quarters = " / ".join(str(q) for q in flat["quarters_mib"])
        out += [f"Resident memory while `predict` runs on `{Path(flat['video']).name}` ({flat['frames']} frames; in "
                f"the benchmark's process, sampled every 0.5 s), largest sample in each quarter of the run: "
                f"{quarters} MiB (spread {100 * flat['spread']:.1f}%).", ""]  # fmt: skip
    return [*out, _videos_paragraph(rec), "", VIDEO_NOTES, ""]


# Why a target is not met, by the start of its name (the figures come from the records).
WHY_NOT = {
    "ISSM+LADM C=768": "at C = 768 most of the work is in the q/k/v projections, the MLPs and ISSM's maps, the same "
    "matrix products in both implementations (the attention share of the MACs is in the ISSM + LADM table), so a "
    "faster attention cannot buy much",
    "ifdd_2dcnn: GMACs added": "the pyramid and LADM's projections on the 14 x 14 map alone exceed the paper's "
    "overhead; the paper's 2DCNN head must be lighter than it describes ([Models](models.md), the differences one "
    "by one)",
    "uint8 training item": "what is left over the floor is mostly the uint8 resize of the random crop back to the "
    "output size (compare the `uint8-eval` row: the centre crop of these frames needs none), then reading the files; "
    "the frames are already decoded in one call (the `decode_jpeg-batched` row), only the crop is copied and the "
    "allocator keeps its buffers. The bilinear resize costs the same in torch and in OpenCV; running both of its "
    "passes down the columns (transposing copies) measured slower in the item, and torchvision cannot decode JPEGs to "
    "the 4-byte pixels its resize handles faster. So only moving the resize off the workers meets the goal with a "
    'margin: `output="jpeg"` leaves them the file reads alone (the `jpeg-train` row)',
    "peak resident memory": "importing torch, OpenCV and PyAV alone takes most of it (the import floor below), so "
    "these runs end a few percent above or below 1 GiB",
}


def _summary(runs: Sequence[dict], videos: Sequence[dict], gpus: Sequence[dict], targets: list) -> list[str]:
    """The page's opening: what is met, what is not and why, and which machines the records come from."""
    missed = [(r, t) for r, t in targets if not t["met"]]
    out = [f"- **{len(targets) - len(missed)} of {len(targets)} targets are met** (table below)."]
    reasons: dict[str, list[str]] = {}
    for _, t in missed:
        key = next((k for k in WHY_NOT if t["name"].startswith(k)), None)
        reasons.setdefault(key or "", []).append(
            f"{t['name']} ({_target_value(t)}, goal {t['op']} {t['threshold']:.3g})"
        )
    for key, names in reasons.items():
        why = WHY_NOT.get(key, "see the sections below")
        out.append(f"- **Not met**: {'; '.join(names)}. Why: {why}.")
    machines = []
    for rec in [*runs, *videos]:
        env = rec["env"]
        threads = env["threads"]
        machines.append(
            f"`{rec['_file']}` on {env['device_name']} ({env.get('cpu_count')} cores, {threads} thread"
            f"{'s' if threads != 1 else ''})"
        )
    if machines:
        out.append(
            "- **Machines**: " + "; ".join(machines) + ". Compare ratios within one record, not figures across records."
        )
    out.append(
        "- **GPU**: "
        + (f"{len(gpus)} record(s), below." if gpus else "no record yet; every figure on this page is from a CPU.")
    )
    return [*out, ""]


PUBLIC_VIDEO = (
    "[`short_hamilton_clip.mp4`](https://github.com/ageitgey/face_recognition/tree/master/examples) (9 s, 640 x 360, "
    "29.97 fps, 613,928 bytes, SHA-256 `0b5ff4c55a4cd69f79956f312681730881fe1e2a9e6146e75c31636dffcc7e28`; "
    "in the examples folder of the face_recognition project)"
)


def _videos_paragraph(rec: dict) -> str:
    """Which videos the record used, and where to find public ones to reproduce it."""
    listed = rec.get("videos") or []
    if listed:
        used = "; ".join(f"`{v['name']}` ({v['seconds']:.1f} s, SHA-256 `{v['sha256']}`)" for v in listed)
        return f"**Videos**: {used}. Public face videos to rerun it on: {PUBLIC_VIDEO}, or any video with a face."
    names = sorted({c["video"] for c in rec["cases"]})
    lengths = {c["video"]: c.get("video_s") for c in rec["cases"] if c.get("video_s")}
    used = ", ".join(f"`{n}`" + (f" ({lengths[n]:.1f} s)" if n in lengths else "") for n in names)
    return (
        f"**Videos**: {used}: face videos of the machine that ran it, whose source and checksums the record does "
        f"not keep, so these rows cannot be rerun on the same files. To measure your machine, pass face videos "
        f"with `--videos` (the record then keeps their names, lengths and SHA-256), for example {PUBLIC_VIDEO} "
        f"and a longer one of your own."
    )


LOADER_LABELS = {
    "decode_jpeg": "`decode_jpeg` of the clip's frames (in memory): the floor",
    "decode_jpeg-batched": "the same in one `decode_jpeg` call for the 16 frames",
    "read+decode_jpeg": "the same, reading the files",
    "pil": "Pillow decoding the files",
    "float-before": 'float item, before `output="uint8"`',
    "float": 'float item (`output="float"`)',
    "uint8": 'uint8 item (`output="uint8"`)',
    "jpeg": 'undecoded item (`output="jpeg"`, decoded on the device)',
}


def _h100_rate(model: dict, gpus: Sequence[dict]) -> tuple[float, str]:
    """Training clips/s of one H100: measured by a GPU record when there is one, else the FLOP estimate."""
    measured = [r["clips_per_s"] for g in gpus for r in g.get("throughput", []) if r["model"] == model["model"]]
    if measured:
        return max(measured), "measured by `benchmarks/gpu.sh`"
    return model["h100_estimate_clips_per_s"], "FLOP estimate"


def _loader_sections(rec: dict, gpus: Sequence[dict]) -> list[str]:
    """Markdown for one ``benchmarks.loader`` record: per-core costs, DataLoader scaling, cores per H100."""
    settings, frames = rec["settings"], rec["frames"]
    out = [_env_line(rec), ""]
    pinned = f" pinned to CPU {settings['cpu']}" if settings.get("cpu") is not None else ""
    if settings.get("clock", "wall") == "cpu":
        pinned += ", timed by its CPU time"
    if settings.get("allocator") == "workers":
        pinned += (
            ", with the C allocator set as in the DataLoader workers ([`init_worker`][lifting_dfer.data.init_worker])"
        )
    noise = ""
    if frames.get("noise_frame_bytes"):
        noise = f"; a frame of uniform noise is {frames['noise_frame_bytes'] / 1024:.1f} KB at the same quality"
    out += [f"DFEW layout of generated face-like {settings['size']}x{settings['size']} JPEG frames (quality "
            f"{settings['quality']}, {frames['mean_bytes'] / 1024:.1f} KB on average{noise}), {settings['frames']} "
            f"frames per clip. One thread{pinned}; the load average was {rec['load_before']:.1f} before and "
            f"{rec['load_after']:.1f} after the run, on {rec['env']['cpu_count']} cores.", ""]  # fmt: skip
    rows = []
    for r in rec["per_core"]:
        name = r["name"]
        output, _, mode = name.rpartition("-") if name.endswith(("-train", "-eval")) else (name, "", "")
        label = LOADER_LABELS.get(output, output) + (f", {mode}" if mode else "")
        spread = r.get("rounds_vs_decode") or [r["vs_decode"]]
        rows.append([label, f"{r['median_s'] * 1e3:.2f}", f"{r['clips_per_s']:.0f}",
                     f"**{r['vs_decode']:.2f}x** ({min(spread):.2f}-{max(spread):.2f})", f"{r['vs_read_decode']:.2f}x"])  # fmt: skip
    out += _table(["one clip", "ms", "clips/s per core", "/ decode_jpeg (per round)", "/ read + decode_jpeg"], rows)
    effect = {r["allocator"]: r for r in rec.get("allocator_effect", [])}
    if {"default", "workers"} <= set(effect):
        d, w = effect["default"], effect["workers"]
        out += [f"The allocator setting, measured alone (a fresh process each, {d['items']} `uint8` training items "
                f"after 10): with glibc's defaults an item takes **{d['faults_per_item']:.0f} page faults** and "
                f"{d['cpu_ms_per_item']:.2f} ms of CPU; keeping freed buffers (`init_worker`), "
                f"**{w['faults_per_item']:.0f}** and {w['cpu_ms_per_item']:.2f} ms.", ""]  # fmt: skip
    loader = rec.get("loader", [])
    if loader:
        one = {r["output"]: r["clips_per_s"] for r in loader if r["workers"] == 1}
        rows = [[f"`{r['output']}`", r["workers"], r["batch"], f"{r['clips_per_s']:.0f}",
                 f"{r['clips_per_s'] / one[r['output']]:.2f}x" if r["output"] in one else "-"] for r in loader]  # fmt: skip
        out += [f"`DataLoader` over {loader[0]['clips']} clips (persistent workers, `collate_clips`), median of "
                f"{len(loader[0]['pass_s'])} passes timed interleaved:", ""]  # fmt: skip
        out += _table(["output", "workers", "batch", "clips/s", "/ 1 worker"], rows)
    d = rec.get("device_decode")
    if d:
        out += [f"Decoding on the device (`output=\"jpeg\"`, `JpegClips.decode` on {d['device_name']}, batches of "
                f"{d['batch']}, then `ClipNormalize`): **{d['clips_per_s']:.0f} clips/s** in the main process; "
                f"pixel values differ from the CPU's `uint8` items by {d['mean_abs_diff']:.2f} grey levels on average "
                f"(largest {d['max_abs_diff']:.0f}).", ""]  # fmt: skip
    per_core = {r["name"]: r["clips_per_s"] for r in rec["per_core"]}
    lines = []
    for m in rec.get("models", []):
        rate, source = _h100_rate(m, gpus)
        if "uint8-train" in per_core and "float-before-train" in per_core:
            lines.append(
                f"- `{m['model']}` ({m['gmacs']:.1f} forward GMACs per {m['frames']}x{m['size']}x{m['size']} clip): one "
                f"H100 trains about **{rate:,.0f} clips/s** ({source}); at this run's "
                f"{per_core['uint8-train']:.1f} `uint8` training clips/s per core that takes about "
                f"**{rate / per_core['uint8-train']:,.0f} cores** ({rate / per_core['float-before-train']:,.0f} at the "
                f"{per_core['float-before-train']:.1f} clips/s of the float path as it was)."
            )
    if lines:
        out += ["Cores one H100 needs to keep training fed:", "", *lines, "",
                f"The FLOP estimate assumes {100 * rec.get('assumed_utilisation', 0.3):.0f}% of the H100's dense bf16 "
                f"peak ({rec.get('peak_tmacs', 494.7):.0f} TMAC/s) and a training step costing 3x the forward pass; "
                "`benchmarks/gpu.sh` measures the rate (this line then uses it). The core count scales with the per-core "
                "rate: a GPU server's unshared cores are faster than a loaded build machine's.", ""]  # fmt: skip
    return out


def render(records: Sequence[dict]) -> str:
    """The Markdown page for ``records`` (see :func:`load_records`)."""
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `python -m benchmarks.make_docs` from benchmarks/results/*.json: do not edit by hand. -->",
        "",
        "How fast the lifting layers and the full models run, against naive references written the way research "
        "code writes them, how fast training clips are loaded, and how fast `lifting-dfer predict` runs on real videos.",
        "",
    ]
    runs = [r for r in records if r.get("kind") == "run"]
    gpus = [r for r in records if r.get("kind") == "gpu"]
    videos = [r for r in records if r.get("kind") == "video"]
    loaders = [r for r in records if r.get("kind") == "loader"]
    authors = [r for r in records if r.get("kind") == "authors"]
    targets = [(r, t) for r in runs + videos + loaders + authors for t in r.get("targets", [])]
    lines += [*_summary([*runs, *loaders], videos, gpus, targets), "Regenerate this page with:", "", REGENERATE, ""]
    if targets:
        lines += ["## Targets", ""]
        lines += _table(
            ["device", "target", "measured", "goal", "met"],
            [[r["env"]["device"], t["name"], _target_value(t), f"{t['op']} {t['threshold']:.3g}",
              "yes" if t["met"] else "**no**"] for r, t in targets],
        )  # fmt: skip
    for rec in runs:
        cpu = rec["env"]["device"] == "cpu"
        lines += [f"## {'CPU' if cpu else rec['env']['device'].upper()}: `python -m benchmarks.run`", ""]
        if cpu:
            lines += ["Ratios measured in the same run; absolute times depend on the machine and its load and "
                      "are kept in the JSON file only.", ""]  # fmt: skip
        lines += _run_sections(rec, absolute=not cpu)
    for rec in videos:
        lines += ["## Video inference: `python -m benchmarks.video`", ""]
        lines += _video_sections(rec)
    for rec in loaders:
        lines += ["## Training input: `python -m benchmarks.loader`", ""]
        lines += _loader_sections(rec, gpus)
    for rec in authors:
        lines += ["## The authors' form: `python -m benchmarks.authors`", ""]
        lines += _authors_sections(rec)
    lines += ["## GPU: `benchmarks/gpu.sh`", ""]
    if gpus:
        for rec in gpus:
            lines += _gpu_sections(rec)
    else:
        lines += [
            "No GPU record yet. On a CUDA machine, `bash benchmarks/gpu.sh` checks that CUDA results equal CPU "
            "results, runs a bf16-autocast training step of both IFDD models and times training throughput "
            "(batch 16, 16x224x224) with and without `torch.compile`, then regenerates this page. "
            "`bash benchmarks/gpu.sh --dry-run` runs the same script on CPU at tiny shapes.",
            "",
        ]
    lines += ["## Method", "", METHOD, ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> str:
    """Write the page; return its text."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.make_docs", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = p.parse_args(argv)
    text = render(load_records(args.results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    if args.results.resolve() != (ROOT / "benchmarks" / "results").resolve():
        return text  # the pages quote the repository's records, not these
    figures = render_figures(args.results)
    for page in PAGES:
        old = page.read_text(encoding="utf-8")
        new = fill(old, figures)
        if new != old:
            page.write_text(new, encoding="utf-8")
            print(f"wrote the figures of {page.relative_to(ROOT)}")
    return text


if __name__ == "__main__":
    main()
