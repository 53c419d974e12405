"""Numbers the docs quote in their prose, from the records in ``benchmarks/results/``: one source for each.

A page marks a generated stretch as ``<!-- figure: NAME -->...<!-- /figure -->`` (inline, or around a block with
blank lines inside the markers); ``python -m benchmarks.make_docs`` rewrites every marked stretch of docs/*.md and
README.md from the records, and tests/test_docs.py fails when a page differs from what the records give. To
change such a number, rerun its benchmark (the command is in the record) and regenerate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from .common import ROOT

__all__ = ["FIGURE", "PAGES", "fill", "render_figures"]

FIGURE = re.compile(r"<!-- figure: (?P<name>[a-z0-9-]+) -->(?P<body>.*?)<!-- /figure -->", re.S)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _records(directory: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def _block(text: str) -> str:
    """A generated block: blank lines keep the markers out of the Markdown block they surround."""
    return f"\n\n{text.strip()}\n\n"


def _machine(rec: dict) -> str:
    env = rec["env"]
    threads = env["threads"]
    return f"{env['device_name']}, {env['cpu_count']} cores, {threads} thread{'s' if threads != 1 else ''}"


def _minutes(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# --- the CPU demo (benchmarks/results/demo.json, python -m benchmarks.demo) ---------------------------------------


NO_DEMO_RECORD = (
    "No recorded run yet: `python -m benchmarks.demo` runs the demo and records it in "
    "`benchmarks/results/demo.json`, and `python -m benchmarks.make_docs` puts it here."
)


def demo_result(r: Mapping[str, dict]) -> str:
    if "demo.json" not in r:
        return "the test UAR and WAR of fold 1 (no recorded run yet: `python -m benchmarks.demo` records one)"
    return f"`{r['demo.json']['stdout'][-1].strip()}`"


def demo_output(r: Mapping[str, dict]) -> str:
    if "demo.json" not in r:
        return _block(NO_DEMO_RECORD)
    rec = r["demo.json"]
    threads = f"OMP_NUM_THREADS={rec['env']['threads']} " if "--threads" in rec["env"]["argv"] else ""
    command = threads + " ".join(rec["command"])
    return _block("```text\n$ " + command + "\n" + "\n".join(rec["stdout"]) + "\n```")


def demo_run_time(r: Mapping[str, dict]) -> str:
    if "demo.json" not in r:
        return _block(NO_DEMO_RECORD)
    rec = r["demo.json"]
    epochs = rec["epoch_s"]
    rows = [
        "| machine | load before / after | wall time | per epoch (min-max) | test UAR / WAR |",
        "|---|---|---|---|---|",
        f"| {_machine(rec)}, {rec['env']['date'][:10]} | {rec['load_before']:.1f} / {rec['load_after']:.1f} | "
        f"{_minutes(rec['wall_s'])} | {min(epochs):.0f}-{max(epochs):.0f} s | "
        f"{100 * rec['test_uar']:.2f} / {100 * rec['test_war']:.2f} |",
    ]
    return _block("\n".join(rows))


# --- exported models (benchmarks/results/deploy-cpu*.json, python -m benchmarks.deploy) ----------------------------


def _deploy_model(rec: dict, name: str) -> dict:
    return next(m for m in rec["models"] if m["model"] == name)


def _speedup(rec: dict, name: str, backend: str) -> float:
    timings = _deploy_model(rec, name)["timings"]
    return timings["pytorch"]["median_s"] / timings[backend]["median_s"]


def deploy_export_seconds(r: Mapping[str, dict]) -> str:
    rec = r["deploy-cpu.json"]
    a, b = (_deploy_model(rec, m)["exports"]["onnx"]["export_s"] for m in ("ifdd_2dcnn", "ifdd_3dvit"))
    return f"{a:.0f} s and {b:.0f} s"


def deploy_export_range(r: Mapping[str, dict]) -> str:
    rec = r["deploy-cpu.json"]
    times = [e["export_s"] for m in rec["models"] for e in m["exports"].values() if e.get("export_s")]
    return f"{min(times):.0f}-{max(times):.0f} s"


def deploy_onnx_export_range(r: Mapping[str, dict]) -> str:
    rec = r["deploy-cpu.json"]
    times = [m["exports"]["onnx"]["export_s"] for m in rec["models"] if m["exports"]["onnx"].get("export_s")]
    return f"{min(times):.0f}-{max(times):.0f} s"


def deploy_export_output(r: Mapping[str, dict]) -> str:
    """What ``lifting-dfer export`` prints for the two paper models, with the sizes and parity of the record."""
    rec = r["deploy-cpu.json"]
    lines = []
    for name in ("ifdd_2dcnn", "ifdd_3dvit"):
        onnx = _deploy_model(rec, name)["exports"]["onnx"]
        lines += [
            f"$ lifting-dfer export {name}.pt",
            f"{name} from {name}.pt: 7 classes, {rec['settings']['frames']} frames at "
            f"{rec['settings']['size']}x{rec['settings']['size']} -> ONNX opset {rec['settings']['opset']}",
            f"wrote {name}.onnx ({onnx['mb']:.1f} MB)",
            f"wrote {name}.onnx.json",
            f"verified on random clips (batches of 2 and 1): max |p_onnx - p_pytorch| = {onnx['max_abs_diff']:.2e} (ok)",
        ]
    return _block("```text\n" + "\n".join(lines) + "\n```")


def _deploy_table(rec: dict) -> str:
    rows = [
        "| model | backend | ms / window (median) | IQR ms | vs eager | max abs diff of probabilities | export s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in rec["models"]:
        timings = m.get("timings", {})
        for backend in ("pytorch", "onnxruntime", "torchscript"):
            export = m["exports"].get({"onnxruntime": "onnx"}.get(backend, backend), {})
            if backend == "pytorch" and not timings:
                continue
            t = timings.get(backend)
            base = timings.get("pytorch")
            diff = "-" if backend == "pytorch" else f"{export['max_abs_diff']:.1e}"
            seconds = "-" if not export.get("export_s") else f"{export['export_s']:.0f}"
            if t is None:
                rows.append(f"| {m['model']} | {backend} | - | - | - | {diff} | {seconds} |")
            else:
                rows.append(
                    f"| {m['model']} | {backend} | {1e3 * t['median_s']:.0f} | {1e3 * t['iqr_s']:.0f} | "
                    f"{base['median_s'] / t['median_s']:.2f}x | {diff} | {seconds} |"
                )
    return "\n".join(rows)


def _deploy_conditions(rec: dict) -> str:
    env = rec["env"]
    before, after = rec["load_before"][0], rec["load_after"][0]
    argv = " ".join(env["argv"])
    command = f"`python -m benchmarks.deploy{' ' + argv if argv else ''}`"
    return (
        f"{env['device_name']}, {env['cpu_count']} cores, torch {env['torch'].split('+')[0]}, "
        f"{rec['settings']['threads']} thread{'s' if rec['settings']['threads'] != 1 else ''} for every backend, "
        f"load average {before:.1f} before and {after:.1f} after the run; {command}, {env['date'][:10]}"
    )


def deploy_table(r: Mapping[str, dict]) -> str:
    rec = r["deploy-cpu.json"]
    return _block(f"{_deploy_conditions(rec)} (`benchmarks/results/deploy-cpu.json`):\n\n{_deploy_table(rec)}")


def deploy_table_1thread(r: Mapping[str, dict]) -> str:
    rec = r["deploy-cpu-1thread.json"]
    return _block(f"{_deploy_conditions(rec)} (`benchmarks/results/deploy-cpu-1thread.json`):\n\n{_deploy_table(rec)}")


def deploy_2dcnn_onnx_speedup(r: Mapping[str, dict]) -> str:
    return f"{_speedup(r['deploy-cpu.json'], 'ifdd_2dcnn', 'onnxruntime'):.1f}x"


def deploy_3dvit_onnx_speedup(r: Mapping[str, dict]) -> str:
    return f"{_speedup(r['deploy-cpu.json'], 'ifdd_3dvit', 'onnxruntime'):.2f}x"


def deploy_torchscript_range(r: Mapping[str, dict]) -> str:
    values = [
        _speedup(r[f], m["model"], "torchscript")
        for f in ("deploy-cpu.json", "deploy-cpu-1thread.json")
        for m in r[f]["models"]
        if m.get("timings")
    ]
    return f"{min(values):.2f}-{max(values):.2f}x"


def deploy_iqr_share(r: Mapping[str, dict]) -> str:
    shares = [
        t["iqr_s"] / t["median_s"]
        for f in ("deploy-cpu.json", "deploy-cpu-1thread.json")
        for m in r[f]["models"]
        for t in m.get("timings", {}).values()
    ]
    return f"{100 * min(shares):.0f}-{100 * max(shares):.0f} %"


# --- video inference (benchmarks/results/video.json, python -m benchmarks.video) ----------------------------------


def _video_case(r: Mapping[str, dict]) -> dict:
    """The first case of the video record: this checkout, the default rate, ``--precision auto``."""
    return r["video.json"]["cases"][0]


def predict_timing_json(r: Mapping[str, dict]) -> str:
    case = _video_case(r)["result"]
    lines = ["```json", "{", '  "timing": {']
    stages = list(case["timing"].items())
    for k, (stage, t) in enumerate(stages):
        comma = "," if k < len(stages) - 1 else ""
        lines.append(
            f'    "{stage}": {{"seconds": {t["seconds"]:.2f}, "items": {t["items"]}, '
            f'"per_second": {t["per_second"]:.1f}}}{comma}'
        )
    lines += ["  },", f'  "seconds": {case["seconds"]:.2f}', "}", "```"]
    return _block("\n".join(lines))


def predict_timing_source(r: Mapping[str, dict]) -> str:
    case = _video_case(r)
    res = case["result"]
    return (
        f"`{case['video']}` ({case['video_s']:.1f} s of video, {res['num_frames']} frames at the training rate, "
        f"{res['windows']} windows, {res['precision']}; {r['video.json']['env']['device_name']}, "
        f"{r['video.json']['settings']['threads']} threads)"
    )


# --- the authors' form against their code (benchmarks/results/authors-cpu.json, python -m benchmarks.authors) ------


def authors_speedup(r: Mapping[str, dict]) -> str:
    if "authors-cpu.json" not in r:
        return "no recorded run yet (`python -m benchmarks.authors --ifdd IFDD --threads 1` records one)"
    rec = r["authors-cpu.json"]
    cases = {c["batch"]: c for c in rec["cases"]}
    worst = max(a["logits_max_abs_diff"] for c in rec["cases"] for a in c["agreement_fp32"].values())

    def ratio(b: int, mode: str) -> str:
        return f"{cases[b]['modes'][mode]['speedup']:.2f}x"

    def spread(b: int) -> str:
        rounds = cases[b]["modes"]["fwd+bwd"]["speedup_rounds"]
        return f"{min(rounds):.2f}-{max(rounds):.2f}x"

    def medians(b: int) -> str:
        entry = cases[b]["modes"]["fwd+bwd"]
        return f"{entry.get('speedup_median', entry['speedup']):.2f}x"

    statistic = "mean" if cases[2]["modes"]["fwd+bwd"].get("speedup_statistic") == "mean" else "median"
    return (
        f"forward+backward **{ratio(16, 'fwd+bwd')}** at `b = 16` and **{ratio(2, 'fwd+bwd')}** at `b = 2` "
        f"({statistic} step times; per round {spread(16)} and {spread(2)}"
        + (f"; by median times {medians(16)} and {medians(2)}" if statistic == "mean" else "")
        + f"; forward alone {ratio(16, 'fwd')} and {ratio(2, 'fwd')}), the "
        f"logits of both sides within {worst:.1e} (fp32) in eval and in training mode ({_machine(rec)}, load "
        f"average {min(rec['env']['load_average']):.0f} to {max(rec['env']['load_average']):.0f})"
    )


# --- prepare with 1 and 2 workers (benchmarks/results/prepare.json, python -m benchmarks.prepare) -----------------


def prepare_workers(r: Mapping[str, dict]) -> str:
    if "prepare.json" not in r:
        return _block("No recorded run yet: `python -m benchmarks.prepare --json benchmarks/results/prepare.json`.")
    rec = r["prepare.json"]
    env, rows = rec["environment"], rec["results"]
    lines = [
        "| workers | clips/s (median of the rounds) | speed-up | CPU time for the clips (median) |",
        "|---:|---:|---:|---:|",
    ]
    for row in rows:
        cpu = sorted(run["cpu_seconds"] for run in row["runs"])[len(row["runs"]) // 2]
        lines.append(f"| {row['workers']} | {row['clips_per_second']:.2f} | {row['speedup']:.2f}x | {cpu:.1f} s |")
    load = rec["load_average"]
    note = (
        f"{rows[0]['clips']} clips, {len(rows[0]['runs'])} rounds with the worker counts interleaved; "
        f"{env['device_name']}, {env['cpu_count']} cores, load average {min(load):.1f} to {max(load):.1f} "
        "after the run (`benchmarks/results/prepare.json`)."
    )
    return _block("\n".join(lines) + "\n\n" + note)


FIGURES: dict[str, Callable[[Mapping[str, dict]], str]] = {
    "authors-speedup": authors_speedup,
    "prepare-workers": prepare_workers,
    "demo-result": demo_result,
    "demo-output": demo_output,
    "demo-run-time": demo_run_time,
    "deploy-export-seconds": deploy_export_seconds,
    "deploy-export-range": deploy_export_range,
    "deploy-onnx-export-range": deploy_onnx_export_range,
    "deploy-export-output": deploy_export_output,
    "deploy-table": deploy_table,
    "deploy-table-1thread": deploy_table_1thread,
    "deploy-2dcnn-onnx-speedup": deploy_2dcnn_onnx_speedup,
    "deploy-3dvit-onnx-speedup": deploy_3dvit_onnx_speedup,
    "deploy-torchscript-range": deploy_torchscript_range,
    "deploy-iqr-share": deploy_iqr_share,
    "predict-timing-source": predict_timing_source,
    "predict-timing-json": predict_timing_json,
}


def render_figures(directory: Path = ROOT / "benchmarks" / "results") -> dict[str, str]:
    """Every figure's text, from the records in ``directory``."""
    records = _records(directory)
    return {name: render(records) for name, render in FIGURES.items()}


def fill(text: str, figures: Mapping[str, str]) -> str:
    """``text`` with every marked stretch replaced by its figure (``KeyError`` for an unknown name)."""
    return FIGURE.sub(lambda m: f"<!-- figure: {m['name']} -->{figures[m['name']]}<!-- /figure -->", text)
