"""Benchmarks are not tests: these only keep them from rotting.

- the naive references of ``benchmarks/reference.py`` compute the library's function with the library's weights
  (so the benchmark's ratios compare like with like);
- ``python -m benchmarks.run --tiny``, ``python -m benchmarks.gpu --dry-run`` and ``python -m benchmarks.make_docs``
  run and write what they promise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import check_data, make_docs, reference  # noqa: E402
from benchmarks import run as bench_run  # noqa: E402
from lifting_dfer.interpolation import interpolate_frames  # noqa: E402


@pytest.fixture
def one_thread():
    """Timing code on a loaded 2-core machine is far faster single-threaded; restore the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_naive_interpolation_matches_library_values_and_gradients():
    x = torch.randn(2, 3, 6, 4, 5, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([[0.3, 2.6, 4.45, 7.0], [-1.0, 1.2, 3.7, 4.9]], dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 3, 4, 4, 5, dtype=torch.float64)
    ours = interpolate_frames(x, index)
    naive = reference.naive_interpolate_frames(x, index)
    torch.testing.assert_close(naive, ours)
    ours_grads = torch.autograd.grad(ours, (x, index), grad)
    naive_grads = torch.autograd.grad(naive, (x, index), grad)
    for a, b in zip(naive_grads, ours_grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "case",
    [
        bench_run.HeadCase("c16", 2, 16, 8, 6, 6, compress=1, heads=4, mlp_ratio=2.0),
        bench_run.HeadCase("c24", 1, 24, 4, 4, 6, compress=4, heads=8, mlp_ratio=3.0),
    ],
    ids=lambda c: c.name,
)
def test_naive_head_with_library_weights_computes_the_same_function(case):
    torch.manual_seed(0)
    ours = bench_run.LiftingHead(case).double()
    naive = reference.NaiveLiftingHead(
        case.c, case.t, case.h, case.w, compress=case.compress, heads=case.heads, mlp_ratio=case.mlp_ratio
    ).double()
    naive.load_state_dict(ours.state_dict())  # strict: same parameter names and shapes
    x = torch.randn(case.b, case.c, case.t, case.h, case.w, dtype=torch.float64, requires_grad=True)
    _, _, (i_s, _) = ours.issm(x, return_indices=True)
    assert not torch.equal(i_s, i_s.round()), "the benchmark must exercise fractional (interpolated) indices"
    outs, naive_outs = ours(x), naive(x)
    for a, b in zip(naive_outs, outs):
        torch.testing.assert_close(a, b)
    seeds = [torch.randn_like(o) for o in outs]
    grads = torch.autograd.grad(outs, [x, *ours.parameters()], seeds)
    naive_grads = torch.autograd.grad(naive_outs, [x, *naive.parameters()], seeds)
    assert len(grads) == len(naive_grads)
    for a, b in zip(naive_grads, grads):
        torch.testing.assert_close(a, b)


def test_entry_point_runs_on_tiny_shapes_and_writes_valid_json(tmp_path, one_thread):
    out = tmp_path / "cpu-tiny.json"
    bench_run.main(["--tiny", "--out", str(out)])
    rec = json.loads(out.read_text())
    assert rec["schema"] == "lifting_dfer.benchmarks/1" and rec["tiny"] is True
    for key in ("commit", "torch", "device", "device_name", "threads", "date"):
        assert key in rec["env"]
    assert rec["env"]["torch"] == torch.__version__ and rec["env"]["threads"] == 1
    timed = {(r["section"], r["variant"], r["mode"]) for r in rec["timings"]}
    for mode in ("fwd", "fwd+bwd"):
        assert {("interp", v, mode) for v in ("library", "naive", "floor")} <= timed
        assert {("head", v, mode) for v in ("library", "naive")} <= timed
        assert {("models", v, mode) for v in ("model", "backbone")} <= timed
    assert all(r["median_s"] > 0 and r["iqr_s"] >= 0 and r["runs"] >= 1 for r in rec["timings"])
    assert all(r["saved_bytes"] > 0 for r in rec["timings"] if r["mode"] == "fwd+bwd")
    ratios = {(q["section"], q["name"], q["mode"]) for q in rec["ratios"]}
    expected = {
        ("interp", "naive/library", "fwd+bwd"), ("interp", "library/floor", "fwd"), ("head", "naive/library", "fwd+bwd")
    }  # fmt: skip
    assert expected <= ratios
    models = {m["model"]: m for m in rec["models"]}
    assert set(models) == {"ifdd_2dcnn", "baseline_2dcnn"}
    ifdd = models["ifdd_2dcnn"]
    assert ifdd["gmacs"] > ifdd["backbone_gmacs"] > 0 and 0 < ifdd["head_flop_share"] < 1
    assert ifdd["fwd_clips_per_s"] > 0 and ifdd["fwd+bwd_clips_per_s"] > 0
    assert {"pyramid", "issm", "ladm"} <= set(ifdd["parts_gmacs"])
    # the head compiles to one graph: ISSM + LADM alone, and everything after the backbone of IFDD
    assert [(c["graphs"], c["graph_breaks"]) for c in rec["compile"]] == [(1, 0), (1, 0)]


def test_make_docs_renders_records_and_skips_smoke_runs(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    record = {
        "schema": "lifting_dfer.benchmarks/1", "kind": "run", "tiny": False,
        "env": {"device": "cpu", "device_name": "Test CPU", "threads": 2, "torch": "2.x", "python": "3.x",
                "commit": "0123456789abcdef", "dirty": False, "date": "2026-01-01T00:00:00+00:00"},
        "settings": {"rounds": 3},
        "timings": [
            {"section": "head", "case": "C=128", "variant": v, "mode": m, "median_s": s, "iqr_s": 0.01, "runs": 3,
             "saved_bytes": 2**20 * 8, "peak_bytes": None, "shape": {"gmacs": 10.0, "attention_gmacs": 2.5}}
            for v, s in (("library", 1.0), ("naive", 2.0)) for m in ("fwd", "fwd+bwd")
        ],
        "ratios": [{"section": "head", "case": "C=128", "mode": m, "name": "naive/library", "value": 2.0,
                    "rounds": [1.9, 2.1]} for m in ("fwd", "fwd+bwd")],
        "models": [], "compile": [{"target": "ISSM+LADM", "graphs": 1, "graph_breaks": 0, "reasons": []}],
        "targets": [{"name": "ISSM+LADM C=128 fwd+bwd: speed-up over naive", "value": 2.0, "op": ">=",
                     "threshold": 1.5, "met": True, "note": ""}],
    }  # fmt: skip
    (results / "cpu.json").write_text(json.dumps(record))
    tiny = {**record, "tiny": True, "env": {**record["env"], "device_name": "TINY"}}
    (results / "cpu-tiny.json").write_text(json.dumps(tiny))
    (results / "notes.json").write_text("[1, 2]")  # not a record: ignored
    page = tmp_path / "performance.md"
    make_docs.main(["--results", str(results), "--out", str(page)])
    text = page.read_text()
    assert text.startswith("# Performance")
    assert "python -m benchmarks.make_docs" in text and "python -m benchmarks.run" in text  # how to regenerate
    assert "Test CPU" in text and "TINY" not in text
    assert "| C=128 | fwd+bwd | **2.00x** (1.90-2.10) | 10.0 (25%) | 8.0 / 8.0 |" in text
    assert "No GPU record yet" in text


def test_gpu_script_dry_run_checks_equality_bf16_step_and_throughput(tmp_path, one_thread):
    from benchmarks import gpu

    out = tmp_path / "gpu.json"
    rec = gpu.main(["--dry-run", "--models", "ifdd_2dcnn", "--out", str(out)])
    assert json.loads(out.read_text())["ok"] is True and rec["kind"] == "gpu"
    assert [c["ok"] for c in rec["equality"]] == [True] * 3  # interpolate_frames, ISSM+LADM, the model
    (step,) = rec["bf16_step"]
    assert step["ok"] and not step["params_without_grad"] and step["grad_norm"] > 0
    eager, compiled = rec["throughput"]
    assert (eager["compiled"], compiled["compiled"]) == (False, True)
    assert compiled["graph_breaks"] == 0 and eager["clips_per_s"] > 0 and compiled["clips_per_s"] > 0


def test_gpu_shell_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu.sh")], check=True)


def test_check_data_benchmark_writes_its_fixture_and_record(tmp_path):
    out = tmp_path / "record.json"
    assert (
        check_data.main(
            [
                "--root",
                str(tmp_path),
                "--frames",
                "16f",
                "all",
                "--clips",
                "12",
                "--repeat",
                "1",
                "--workers",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    records = json.loads(out.read_text())
    assert [(r["frames"], r["clips"]) for r in records] == [("16f", 12), ("all", 12)]
    assert records[0]["frame_files"] == 12 * 16 and records[1]["frame_files"] >= 12 * 11


def test_prepare_benchmark_times_each_worker_count_on_the_same_videos(tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from benchmarks import prepare

    out = tmp_path / "prepare.json"
    argv = ["--root", str(tmp_path), "--count", "3", "--seconds", "0.3", "--height", "96", "--width", "128",
            "--workers", "1", "2", "--repeat", "2", "--json", str(out)]  # fmt: skip
    assert prepare.main(argv) == 0
    record = json.loads(out.read_text())
    assert record["benchmark"] == "prepare" and record["environment"]["commit"]
    one, two = record["results"]
    assert (one["workers"], two["workers"], one["speedup"]) == (1, 2, 1.0)
    assert one["clips"] == two["clips"] == 3 and one["frames"] == 3 * 8 and len(one["runs"]) == 2
    assert two["speedup"] == pytest.approx(two["clips_per_second"] / one["clips_per_second"])


def test_video_benchmark_runs_predict_and_its_checks_on_a_tiny_video(tmp_path, one_thread):
    from benchmarks import video

    record = video.main(["--tiny", "--out", str(tmp_path / "video.json")])
    assert json.loads((tmp_path / "video.json").read_text())["kind"] == "video"
    (case,) = record["cases"]
    assert case["status"] == 0 and case["rtf"] > 0 and case["peak_rss_bytes"] > 0
    assert case["result"]["windows"] >= 2 and case["result"]["fps"] < 25  # the checkpoint's training rate
    assert {"decode", "backbone", "head"} <= set(case["result"]["timing"])
    check = record["checks"]["fp32_equality"]
    assert check["ok"] and check["reuses_frames"] and check["windows"] == case["result"]["windows"]
    page = make_docs.render([{**record, "tiny": False, "_file": "video.json"}])
    assert "## Video inference: `python -m benchmarks.video`" in page and "| after | tiny.mp4 | default" in page


def test_video_benchmark_measures_the_peak_memory_of_each_child():
    from benchmarks.video import _popen_with_rusage

    code = "b = bytearray(200 << 20); b[::4096] = bytes(len(b[::4096])); print('ok')"  # 200 MB, every page touched
    status, wall, peak, out, _ = _popen_with_rusage([sys.executable, "-c", code], dict(os.environ))
    assert (status, out.strip()) == (0, "ok") and wall > 0
    assert 200 << 20 <= peak < 400 << 20


def test_imports_benchmark_measures_each_case_in_a_fresh_interpreter(tmp_path):
    from benchmarks.imports import CASES, main, measure_case

    light = measure_case("import lifting_dfer")
    heavy = measure_case("import torchvision")
    assert light["imported"] == [] and heavy["imported"] == ["torchvision"]
    assert light["seconds"] > 0 and light["peak_mib"] > 50  # torch alone is hundreds of MiB
    out = tmp_path / "imports.json"
    assert main(["--tiny", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert set(record["results"]) == set(CASES) and record["benchmark"] == "imports"
    assert record["results"]["layers"]["imported"] == [], "the layers import neither timm nor torchvision"
    assert record["results"]["with_timm_torchvision"]["imported"] == ["timm", "torchvision"]


def test_loader_benchmark_times_each_pipeline_against_the_decode_floor(tmp_path, one_thread):
    from benchmarks import loader

    out = tmp_path / "loader.json"
    # --allocator default: the workers' setting (tested in test_data_allocator.py) would last in this process
    argv = ["--tiny", "--models", "ifdd_2dcnn", "--decode-device", "cpu", "--allocator", "default", "--out", str(out)]
    record = loader.main(argv)
    assert json.loads(out.read_text())["kind"] == "loader" and record["tiny"] is True
    assert record["settings"]["allocator"] == "default"
    rows = {r["name"]: r for r in record["per_core"]}
    pipelines = {f"{o}-{m}" for o in ("float", "float-before", "uint8", "jpeg") for m in ("train", "eval")}
    assert set(rows) == {"decode_jpeg", "decode_jpeg-batched", "read+decode_jpeg", "pil"} | pipelines
    assert rows["decode_jpeg"]["vs_decode"] == 1.0 and rows["read+decode_jpeg"]["vs_read_decode"] == 1.0
    assert all(r["median_s"] > 0 and r["clips_per_s"] == 1 / r["median_s"] for r in rows.values())
    assert [r["allocator"] for r in record["allocator_effect"]] == ["default", "workers"]
    assert all(r["items"] == 20 and r["cpu_ms_per_item"] > 0 for r in record["allocator_effect"])
    assert {(r["output"], r["workers"]) for r in record["loader"]} == {
        (o, w) for o in ("uint8", "float") for w in (1, 2)
    }
    assert all(r["clips"] == 8 and r["clips_per_s"] > 0 for r in record["loader"])
    decode = record["device_decode"]
    assert decode["device"] == "cpu" and decode["max_abs_diff"] <= 1.01 and decode["clips_per_s"] > 0
    (model,) = record["models"]
    assert model["model"] == "ifdd_2dcnn" and model["gmacs"] > 1 and model["h100_estimate_clips_per_s"] > 0
    assert [t["op"] for t in record["targets"]] == ["<=", "<=", ">="]
    assert all(isinstance(t["met"], bool) for t in record["targets"])
    page = make_docs.render([{**record, "tiny": False, "_file": "loader.json"}])
    assert "## Training input: `python -m benchmarks.loader`" in page
    assert "Cores one H100 needs to keep training fed" in page and "(FLOP estimate)" in page
    assert "page faults" in page


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_before_item_reads_todays_float_clips(tmp_path, train):
    from benchmarks.loader import BeforeTransform, before_item, make_fixture
    from lifting_dfer.data import DFEW

    make_fixture(tmp_path, clips=3, distinct=2, frames=4, size=24, quality=90)
    today = DFEW(tmp_path, fold=1, split="train", train=train, num_frames=4, size=16, seed=0)
    before = DFEW(tmp_path, fold=1, split="train", train=train, num_frames=4, size=16, seed=0,
                  transform=BeforeTransform(16, train=train))  # fmt: skip
    for index in range(3):
        (x, y), (b, z) = today[index], before_item(before, index)
        torch.testing.assert_close(b, x, rtol=0, atol=0)
        assert y == z


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_before_transform_computes_todays_float_clips(train):
    from benchmarks.loader import BeforeTransform
    from lifting_dfer.data import ClipTransform

    frames = torch.randint(0, 256, (4, 20, 26, 3), dtype=torch.uint8).permute(0, 3, 1, 2)  # read_clip's layout
    for seed in range(6):
        before = BeforeTransform(16, train=train)(frames, torch.Generator().manual_seed(seed))
        today = ClipTransform(16, train=train)(frames, torch.Generator().manual_seed(seed))
        torch.testing.assert_close(before, today, rtol=0, atol=0)


def test_generated_faces_compress_like_face_crops_not_like_noise():
    from torchvision.io import encode_jpeg

    from benchmarks.loader import face_frames

    frames = face_frames(2, 224, seed=1)
    assert frames.shape == (2, 3, 224, 224) and not torch.equal(frames[0], frames[1])  # the face moves
    face = [encode_jpeg(f, quality=90).numel() for f in frames]
    noise = encode_jpeg(torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8), quality=90).numel()
    assert all(7_000 < n < 14_000 for n in face)  # DFEW's 224x224 face frames: about 10 KB at quality 90
    assert noise > 3 * max(face)
