"""The training scripts end to end: a tiny IFDD-2DCNN run on synthetic DFEW, evaluate.py, resume, presets, errors."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from lifting_dfer.checkpoint import load_checkpoint, save_checkpoint
from lifting_dfer.data import check_dataset
from lifting_dfer.normalization import IMAGENET
from lifting_dfer.training import build_parser, config_from_args, evaluate_checkpoint, evaluate_main, main
from lifting_dfer.training.history import read_jsonl

ROOT = Path(__file__).resolve().parents[1]

TINY = [
    "--epochs",
    "2",
    "--warmup-epochs",
    "1",
    "--num-frames",
    "4",
    "--size",
    "32",
    "--batch-size",
    "4",
    "--synthetic-clips-per-class",
    "5",
    "--lr",
    "1e-3",
    "--no-progress",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One tiny run of the default (synthetic) training; its folder and printed output."""
    base = tmp_path_factory.mktemp("demo")
    run = base / "run"
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger("lifting_dfer").addHandler(handler)
    try:
        status = main([*TINY, "--synthetic-root", str(base / "data"), "--output-dir", str(run)], dataset="dfew")
    finally:
        logging.getLogger("lifting_dfer").removeHandler(handler)
    return {"status": status, "run": run, "data": base / "data", "log": "\n".join(lines)}


def test_default_run_trains_and_writes_every_output(demo_run):
    assert demo_run["status"] == 0
    run = demo_run["run"]
    fold = run / "fold1"
    for name in ("last.pt", "best.pt", "metrics.csv", "metrics.jsonl", "test_metrics.json", "test_confusion.png"):
        assert (fold / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["demo"] is True and config["data_root"] is None and config["pretrained"] is None
    assert config["data_manifest"]["frames_dir"] == "Clip/clip_224x224"
    assert config["data_manifest"]["fingerprint"] == check_dataset("dfew", demo_run["data"]).fingerprint
    assert (config["model"], config["num_frames"], config["size"], config["epochs"]) == ("ifdd_2dcnn", 4, 32, 2)
    records = read_jsonl(fold / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]
    assert len((fold / "metrics.csv").read_text().splitlines()) == 3
    assert all(r["train_lift"] > 0 for r in records)  # the IFDD model trains with LiftLoss
    test = json.loads((fold / "test_metrics.json").read_text())
    confusion = torch.tensor(test["test"]["confusion"])
    assert confusion.shape == (7, 7) and int(confusion.sum()) == 7  # 5 clips/class, fold 1 holds one of each
    assert test["summary"]["test_uar"] == test["test"]["uar"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["folds"][0]["test_uar"] == test["test"]["uar"]
    assert "| 1 |" in (run / "summary.md").read_text()
    assert "test UAR" in demo_run["log"] and "epoch 2/2" in demo_run["log"]
    ckpt = load_checkpoint(fold / "best.pt")
    assert ckpt["arch"] == "ifdd_2dcnn" and ckpt["input_size"] == 32
    # uint8 clips by default, normalised on the device as the checkpoint records
    assert config["data_output"] == "uint8" and ckpt["normalization"] == IMAGENET.to_dict()
    assert load_checkpoint(fold / "last.pt")["normalization"] == IMAGENET.to_dict()
    assert ckpt["arch_kwargs"] == {"num_classes": 7, "num_frames": 4, "image_size": 32}
    assert ckpt["epoch"] == test["summary"]["best_epoch"]
    # how the clips were sampled, for predict's default frame rate (synthetic clips have no time base)
    assert ckpt["sampling"] == {"dataset": "synthetic", "frames_per_clip": 4, "clip_seconds": None, "fps": None}


def test_evaluate_script_writes_json_and_png_matching_the_runs_test_metrics(demo_run, tmp_path, capsys):
    fold = demo_run["run"] / "fold1"
    status = evaluate_main(
        [
            str(fold / "best.pt"),
            "--output-dir",
            str(tmp_path / "eval"),
            "--device",
            "cpu",
            "--num-workers",
            "0",
            "--no-progress",
        ]
    )
    assert status == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    test = json.loads((fold / "test_metrics.json").read_text())["test"]
    assert metrics["uar"] == test["uar"] and metrics["war"] == test["war"]
    assert metrics["confusion"] == test["confusion"]
    assert metrics["split"] == "test" and metrics["num_clips"] == 7 and metrics["fold"] == 1
    with Image.open(tmp_path / "eval" / "confusion.png") as image:
        assert image.format == "PNG" and image.width > 100
    out = capsys.readouterr().out
    assert f"UAR {100 * test['uar']:.2f}" in out and "confusion.png" in out


def test_evaluate_rejects_checkpoints_of_other_classes(demo_run, tmp_path):
    ckpt = load_checkpoint(demo_run["run"] / "fold1" / "best.pt")
    from lifting_dfer.models import create_model

    model = create_model("ifdd_2dcnn", **ckpt["arch_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    other = save_checkpoint(
        tmp_path / "other.pt",
        model,
        arch="ifdd_2dcnn",
        arch_kwargs=ckpt["arch_kwargs"],
        class_names=[f"c{i}" for i in range(7)],
        config=ckpt["config"],
        input_size=32,
        fold=1,
    )
    with pytest.raises(ValueError, match="predicts 7 classes .* dfew has 7"):
        evaluate_checkpoint(other, device="cpu", num_workers=0, output_dir=tmp_path / "e")


def test_evaluate_script_errors_are_one_line(tmp_path, capsys):
    assert evaluate_main([str(tmp_path / "missing.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    assert evaluate_main([str(tmp_path / "bad.pt")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_resume_of_a_finished_run_skips_its_folds(demo_run, capsys):
    before = (demo_run["run"] / "fold1" / "test_metrics.json").read_text()
    assert main(["--resume", str(demo_run["run"]), "--no-progress"], dataset="dfew") == 0
    assert (demo_run["run"] / "fold1" / "test_metrics.json").read_text() == before


def test_resume_refuses_changed_settings_and_missing_or_corrupt_runs(demo_run, tmp_path, capsys):
    assert main(["--resume", str(demo_run["run"]), "--lr", "0.5"], dataset="dfew") == 2
    err = capsys.readouterr().err
    assert "lr: 0.001 -> 0.5" in err
    assert main(["--resume", str(tmp_path / "nothing")], dataset="dfew") == 2
    assert "not a run folder" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"\x00" * 10)
    assert main(["--resume", str(tmp_path / "bad.pt")], dataset="dfew") == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_an_existing_run_folder_is_never_overwritten(demo_run, capsys):
    before = (demo_run["run"] / "fold1" / "last.pt").read_bytes()
    args = [*TINY, "--synthetic-root", str(demo_run["data"]), "--output-dir", str(demo_run["run"])]
    assert main(args, dataset="dfew") == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (demo_run["run"] / "fold1" / "last.pt").read_bytes() == before


def test_presets_demo_without_data_and_paper_protocol_with_data():
    demo, _ = config_from_args([])
    assert demo.demo and demo.data_root is None
    assert (demo.model, demo.num_frames, demo.size, demo.epochs, demo.lr, demo.batch_size) == (
        "ifdd_2dcnn",
        8,
        64,
        10,
        2e-3,
        4,
    )
    paper, _ = config_from_args(["--data-root", "/data/DFEW"])
    assert not paper.demo
    assert (paper.lr, paper.weight_decay, paper.epochs, paper.warmup_epochs, paper.warmup_lr) == (
        1e-4,
        1e-3,
        100,
        10,
        1e-6,
    )
    assert (paper.batch_size, paper.frames, paper.size, paper.lift_weight, paper.val_fraction) == (
        16,
        16,
        224,
        0.1,
        0.2,
    )
    mafw, given = config_from_args(
        ["--data-root", "/data/MAFW", "--fold", "all", "--model-arg", "use_ladm=false"], dataset="mafw"
    )
    assert mafw.frames == 32 and mafw.folds == [1, 2, 3, 4, 5] and mafw.model_args == {"use_ladm": False}
    assert given == {"data_root", "fold", "model_args"}
    override, _ = config_from_args(["--epochs", "3"])
    assert override.demo and override.epochs == 3 and override.lr == 2e-3


def test_real_data_starts_from_the_paper_weights_unless_none_is_given():
    assert config_from_args(["--data-root", "/data/DFEW"])[0].pretrained is True
    assert config_from_args(["--data-root", "/data/DFEW", "--pretrained", "none"])[0].pretrained is None
    assert config_from_args(["--data-root", "/data/DFEW", "--pretrained", "w.pth"])[0].pretrained == "w.pth"
    assert config_from_args([])[0].pretrained is None, "the demo stays offline"
    assert config_from_args(["--pretrained", "default"])[0].pretrained is True


def test_offline_training_with_real_data_stops_with_one_line_naming_the_weights(tmp_path, monkeypatch, capsys):
    import urllib.error

    import huggingface_hub.constants

    from lifting_dfer.backbones import hub
    from lifting_dfer.data import make_synthetic_dfew

    def unreachable(url):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(hub, "_open", unreachable)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    root = make_synthetic_dfew(tmp_path / "DFEW", clips_per_class=5, size=32)
    assert main(["--data-root", str(root), "--output-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "timm/mobilenetv2_100.ra_in1k (file model.safetensors)" in err and "resolve/main/model.safetensors" in err


def test_training_on_a_16f_only_copy_records_its_frame_folder_and_fingerprint(tmp_path, caplog):
    from lifting_dfer.data import list_frames, make_synthetic_dfew, uniform_indices
    from lifting_dfer.data.check import main as check_data

    root = make_synthetic_dfew(tmp_path / "DFEW", clips_per_class=5, size=32)
    for clip in sorted((root / "Clip" / "clip_224x224").iterdir()):  # the release's 16-frame set, alone
        frames, out = list_frames(clip), root / "Clip" / "clip_224x224_16f" / clip.name
        out.mkdir(parents=True)
        for k, i in enumerate(uniform_indices(len(frames), 16), start=1):
            shutil.copyfile(frames[i], out / f"{k}.jpg")
    shutil.rmtree(root / "Clip" / "clip_224x224")
    assert check_data(["dfew", str(root), "--manifest", str(tmp_path / "dfew.json"), "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "dfew.json").read_text())

    run = tmp_path / "run"
    args = [
        "--data-root",
        str(root),
        "--pretrained",
        "none",
        "--output-dir",
        str(run),
        "--epochs",
        "1",
        "--warmup-epochs",
        "0",
        "--num-frames",
        "4",
        "--size",
        "32",
        "--batch-size",
        "4",
        "--num-workers",
        "0",
        "--no-progress",
        "--device",
        "cpu",
    ]
    with caplog.at_level(logging.INFO, logger="lifting_dfer"):
        assert main(args, dataset="dfew") == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data_args"] == {} and config["pretrained"] is None
    assert config["data_manifest"]["frames_dir"] == "Clip/clip_224x224_16f" == manifest["frames_dir"]
    assert config["data_manifest"]["fingerprint"] == manifest["fingerprint"]
    assert load_checkpoint(run / "fold1" / "best.pt")["config"]["data_manifest"] == config["data_manifest"]
    assert "frame folder Clip/clip_224x224_16f (auto-detected" in caplog.text
    assert "from scratch (--pretrained none)" in caplog.text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fold", "6"], "fold: expected 'all' or one of 1, 2, 3, 4, 5"),
        (["--amp", "fp8"], "invalid choice"),
        (["--data-output", "png"], "invalid choice"),
        (["--epochs", "0"], "epochs: expected a positive integer"),
        (["--warmup-epochs", "9", "--epochs", "3"], "warmup_epochs"),
        (["--model-arg", "dim"], "expected KEY=VALUE"),
        (["--dataset", "mafw"], "--data-root is required for mafw"),
        (["--data-root", "x", "--dataset", "ferv39k", "--fold", "2"], "one of 1 for ferv39k"),
        (["--size", "16"], "--size 16: ifdd_2dcnn needs a frame side of at least 32 pixels and a multiple of 16"),
        (["--size", "40"], "--size 40: ifdd_2dcnn needs a frame side of at least 32 pixels and a multiple of 16"),
        (
            ["--size", "48", "--model", "ifdd_3dvit"],
            "ifdd_3dvit needs a frame side of at least 64 pixels and a multiple of 32",
        ),
        (["--size", "16", "--model", "baseline_3dvit"], "baseline_3dvit needs a frame side of at least 32 pixels"),
    ],
)
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_sizes_each_model_accepts_pass_the_size_check():
    for model, size in (("ifdd_2dcnn", 32), ("baseline_2dcnn", 16), ("ifdd_3dvit", 64), ("baseline_3dvit", 32)):
        assert config_from_args(["--size", str(size), "--model", model])[0].size == size
    # another backbone cut: the builder checks the size itself
    cfg, _ = config_from_args(["--size", "16", "--model-arg", "out_indices=[1, 2]"])
    assert cfg.size == 16


def test_help_shows_each_default_once_and_describes_every_option():
    parser = build_parser("dfew")
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        text = formatter._get_help_string(action) % {**vars(action), "prog": parser.prog}
        assert action.help, f"{action.option_strings[0]} has no help"
        assert text.lower().count("default") <= 1, f"{action.option_strings[0]}: {text}"
        if action.nargs == 0:  # flags: "(default: False)" / "(default: True)" would only mislead
            assert "(default:" not in text, f"{action.option_strings[0]}: {text}"
    assert "demo preset replaces these defaults: --model ifdd_2dcnn, --num-frames 8" in " ".join(
        parser.format_help().split()
    )


def test_a_full_disk_while_saving_a_checkpoint_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    import lifting_dfer.checkpoint as checkpoint

    real_save, saved = checkpoint.torch.save, []

    def disk_fills_after_best_pt(obj, f, *args, **kwargs):  # best.pt, then last.pt, at the end of epoch 1
        if saved:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        saved.append(obj)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", disk_fills_after_best_pt)
    argv = [*TINY, "--epochs", "1", "--synthetic-root", str(tmp_path / "data"), "--output-dir", str(tmp_path / "r")]
    assert main(argv, dataset="dfew") == 1
    err = capsys.readouterr().err.strip().splitlines()
    last = tmp_path / "r" / "fold1" / "last.pt"
    assert err[-1] == (
        f"train_dfew.py: error: cannot write {last}: No space left on device (disk full or a "
        "file-size limit?); no partial file was left"
    )
    assert not last.exists() and not list(last.parent.glob(".last.pt.*"))
    assert checkpoint.load_checkpoint(last.parent / "best.pt")["epoch"] == 1  # written before the disk filled


def test_unknown_model_and_missing_data_are_reported(tmp_path, capsys):
    assert (
        main(
            [
                "--model",
                "ifdd_4dcnn",
                "--output-dir",
                str(tmp_path / "r"),
                "--synthetic-root",
                str(tmp_path / "d"),
                "--synthetic-clips-per-class",
                "5",
                "--size",
                "32",
            ],
            dataset="dfew",
        )
        == 2
    )
    assert "unknown model 'ifdd_4dcnn'" in capsys.readouterr().err
    assert main(["--data-root", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "r2")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_example_scripts_share_one_parser():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_mafw.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "--data-root" in out.stdout and "train_mafw.py" in out.stdout


def test_fold_runner_trains_every_fold_and_writes_the_summary_table(tmp_path, monkeypatch):
    from lifting_dfer.training import TrainConfig, run, runner

    calls = []

    def fake_fold(cfg, fold, run_dir, root, ctx, resume):
        calls.append((fold, resume))
        return {
            "fold": fold,
            "best_epoch": 10 * fold,
            "val_uar": 0.5,
            "test_uar": 0.5 + 0.01 * fold,
            "test_war": 0.6 + 0.02 * fold,
        }

    monkeypatch.setattr(runner, "_train_fold", fake_fold)
    monkeypatch.setattr(runner, "record_data", lambda cfg, root: None)  # no MAFW copy here
    cfg = TrainConfig(
        dataset="mafw",
        data_root=str(tmp_path / "MAFW"),
        fold="all",
        device="cpu",
        output_dir=str(tmp_path / "run"),
        progress=False,
    )
    summary = run(cfg)
    assert calls == [(f, False) for f in range(1, 6)]
    assert summary["mean"]["test_uar"] == pytest.approx(0.53) and summary["mean"]["test_war"] == pytest.approx(0.66)
    table = (tmp_path / "run" / "summary.md").read_text().splitlines()
    assert table[2:7] == [f"| {f} | {10 * f} | 50.00 | {50 + f:.2f} | {60 + 2 * f:.2f} |" for f in range(1, 6)]
    assert table[7] == "| mean | | 50.00 | 53.00 | 66.00 |"
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["fold"] == "all" and stored["dataset"] == "mafw" and stored["resume"] is None
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["folds"][4]["fold"] == 5
