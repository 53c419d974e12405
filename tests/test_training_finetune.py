"""Fine-tuning from a checkpoint (``--init``) and frozen parts (``--freeze``): lifting_dfer.training.finetune; and the
whole path of your own videos: prepare -> train --dataset folder --init -> predict."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from lifting_dfer import create_model, load_checkpoint, save_checkpoint
from lifting_dfer.data import DFEW_CLASSES
from lifting_dfer.training import config_from_args
from lifting_dfer.training.finetune import freeze, init_checkpoint, init_preset, init_weights, start_from
from lifting_dfer.training.runner import build_model

DEMO = {"num_classes": 7, "num_frames": 8, "image_size": 64}  # the demo preset's model (8 frames at 64 x 64)


def demo_like_checkpoint(path, arch: str = "ifdd_2dcnn", seed: int = 0):
    """A checkpoint with the demo's architecture, DFEW's 7 classes and seeded random weights."""
    torch.manual_seed(seed)
    model = create_model(arch, **DEMO)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_()  # BatchNorm statistics that are not the defaults, so that they can be told apart
    save_checkpoint(path, model, arch=arch, arch_kwargs=DEMO, class_names=DFEW_CLASSES, input_size=64)
    return path


@pytest.mark.parametrize(("arch", "classifier"), [("ifdd_2dcnn", "classifier"), ("baseline_2dcnn", "head.mlp.3")])
def test_finetuning_the_demo_checkpoint_on_3_classes_keeps_every_weight_but_the_classifier(tmp_path, arch, classifier):
    ckpt_path = demo_like_checkpoint(tmp_path / "demo.pt", arch)
    cfg, _ = config_from_args(["--dataset", "folder", "--data-root", str(tmp_path), "--init", str(ckpt_path)])
    assert (cfg.model, cfg.num_frames, cfg.size, cfg.pretrained) == (arch, 8, 64, None)  # from the checkpoint
    model, arch_kwargs = build_model(cfg, num_classes=3)
    start_from(model, cfg, ["a", "b", "c"], resume=False)
    before, after = load_checkpoint(ckpt_path)["state_dict"], model.state_dict()
    differ = sorted(k for k in after if after[k].shape != before[k].shape or not torch.equal(after[k], before[k]))
    assert differ == [f"{classifier}.bias", f"{classifier}.weight"]
    assert after[f"{classifier}.weight"].shape[0] == 3 and before[f"{classifier}.weight"].shape[0] == 7
    assert arch_kwargs == {"num_classes": 3, "num_frames": 8, "image_size": 64}


def test_the_note_names_the_tensors_left_out(tmp_path):
    ckpt = load_checkpoint(demo_like_checkpoint(tmp_path / "demo.pt"))
    model = create_model("ifdd_2dcnn", **{**DEMO, "num_classes": 3})
    report = init_weights(model, ckpt, num_classes=3, source="--init demo.pt")
    assert (
        report.left_out == ["classifier.weight", "classifier.bias"] and len(report.taken) == len(ckpt["state_dict"]) - 2
    )
    assert "left out the classifier classifier.weight, classifier.bias (7 classes there, 3 here)" in report.note
    same = create_model("ifdd_2dcnn", **DEMO)
    kept = init_weights(same, ckpt, num_classes=7)
    assert kept.left_out == [] and "the classifier included" in kept.note
    assert all(torch.equal(v, ckpt["state_dict"][k]) for k, v in same.state_dict().items())


def test_another_architecture_is_refused_with_the_tensors_that_differ(tmp_path):
    ckpt = load_checkpoint(demo_like_checkpoint(tmp_path / "demo.pt"))
    other_frames = create_model("ifdd_2dcnn", num_classes=3, num_frames=16, image_size=64)  # ISSM's bias is per frame
    with pytest.raises(
        ValueError, match=r"differs from the model of this run beyond its classifier: other shapes: issm"
    ):
        init_weights(other_frames, ckpt, num_classes=3)
    with pytest.raises(ValueError, match="missing there: head.mlp"):
        init_weights(create_model("baseline_2dcnn", **DEMO), ckpt, num_classes=7)


def test_options_given_win_over_the_checkpoint_and_init_errors_are_one_line(tmp_path, capsys):
    ckpt = demo_like_checkpoint(tmp_path / "demo.pt")
    values = {"init": str(ckpt), "model": "x", "model_args": {}, "num_frames": None, "size": 224, "pretrained": True}
    preset = init_preset(values, given={"size", "pretrained"})
    assert (preset["model"], preset["num_frames"], preset["size"], preset["pretrained"]) == ("ifdd_2dcnn", 8, 224, True)
    with pytest.raises(
        FileNotFoundError, match=r"nothing.pt: cannot start from it \(not a lifting_dfer checkpoint: no file"
    ):
        init_checkpoint(tmp_path / "nothing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable PyTorch file"):
        init_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "theirs.pth")  # another code base's file
    with pytest.raises(ValueError, match=r"theirs.pth: cannot start from it \(not a lifting_dfer checkpoint: it holds"):
        init_checkpoint(tmp_path / "theirs.pth")
    with pytest.raises(SystemExit):
        config_from_args(["--dataset", "folder", "--data-root", str(tmp_path), "--init", str(tmp_path / "nothing.pt")])
    assert "cannot start from it" in capsys.readouterr().err


def test_a_frozen_part_keeps_its_weights_and_batchnorm_statistics_through_training_steps():
    torch.manual_seed(0)
    model = create_model("ifdd_2dcnn", num_classes=3, num_frames=4, image_size=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frozen = freeze(model, ["backbone"])
    assert frozen and all(name.startswith("backbone.") for name in frozen)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        model.train()
        logits = model(torch.randn(2, 3, 4, 32, 32)).logits  # training mode: IFDDOutput
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert not any(k.startswith("backbone.") for k in changed)  # running statistics included
    assert "classifier.weight" in changed and any(k.startswith("pyramid.") for k in changed)
    with pytest.raises(ValueError, match="has no part 'encoder'; its parts: backbone, pyramid"):
        freeze(model, ["encoder"])


def test_own_videos_prepare_then_finetune_the_demo_then_predict_with_their_labels(tmp_path, caplog):
    """The issue's path end to end: a demo run (synthetic DFEW), 3 labels of videos prepared, a fine-tune of the
    demo's checkpoint with a frozen backbone, and predict showing the 3 labels."""
    pytest.importorskip("av")
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "CascadeClassifier"):
        pytest.skip("needs OpenCV's Haar cascades (opencv<5)")
    from lifting_dfer.cli import main as cli
    from lifting_dfer.data import make_face_videos

    tiny = ["--num-frames", "4", "--size", "32", "--epochs", "1", "--warmup-epochs", "0", "--batch-size", "4",
            "--no-progress", "--device", "cpu", "--num-workers", "0"]  # fmt: skip
    demo = ["train", *tiny, "--synthetic-clips-per-class", "5", "--synthetic-root", str(tmp_path / "synthetic")]
    assert cli([*demo, "--output-dir", str(tmp_path / "demo")]) == 0
    make_face_videos(tmp_path / "videos", labels=("smile", "frown", "surprise"), videos_per_label=4, seconds=0.8,
                     height=96, width=128)  # fmt: skip
    assert cli(["prepare", str(tmp_path / "videos"), str(tmp_path / "data"), "--size", "64", "--workers", "1"]) == 0
    assert cli(["check-data", "folder", str(tmp_path / "data"), "--no-progress"]) == 0
    demo_best = tmp_path / "demo" / "fold1" / "best.pt"
    finetune = ["train", "--dataset", "folder", "--data-root", str(tmp_path / "data"), "--init", str(demo_best),
                "--freeze", "backbone", "--epochs", "1", "--warmup-epochs", "0", "--batch-size", "4", "--no-progress",
                "--num-workers", "0", "--output-dir", str(tmp_path / "mine")]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="lifting_dfer"):
        assert cli(finetune) == 0
    assert "left out the classifier classifier.weight, classifier.bias (7 classes there, 3 here)" in caplog.text
    mine = load_checkpoint(tmp_path / "mine" / "fold1" / "best.pt")
    start = load_checkpoint(demo_best)
    assert mine["class_names"] == ["frown", "smile", "surprise"] and mine["arch_kwargs"]["num_frames"] == 4
    assert all(
        torch.equal(v, start["state_dict"][k]) for k, v in mine["state_dict"].items() if k.startswith("backbone")
    )
    assert mine["sampling"] == {
        "dataset": "folder",
        "frames_per_clip": 4,
        "clip_seconds": pytest.approx(0.8),
        "fps": pytest.approx(5.0),
    }  # 4 frames over clips of 0.8 s
    new = make_face_videos(tmp_path / "new", labels=("surprise",), videos_per_label=1, faceless=0, seconds=3, seed=9)
    assert cli(["predict", str(new[0]), "--checkpoint", str(tmp_path / "mine" / "fold1" / "best.pt"), "--output-dir",
                str(tmp_path / "out"), "--no-plot", "--device", "cpu"]) == 0  # fmt: skip
    result = json.loads((tmp_path / "out" / "surprise_00.json").read_text())
    assert result["class_names"] == ["frown", "smile", "surprise"]
    assert set(result["windows"][0]["probabilities"]) == {"frown", "smile", "surprise"}
    assert result["sampling"]["fps"] == pytest.approx(5.0) and result["sampling"]["origin"] == "training"


def test_init_starts_from_a_save_pretrained_folder_or_a_hub_id(tmp_path, monkeypatch):
    import huggingface_hub

    from lifting_dfer import save_pretrained
    from lifting_dfer.backbones import WeightsUnavailableError

    ckpt = load_checkpoint(demo_like_checkpoint(tmp_path / "demo.pt", seed=3))
    folder = save_pretrained(tmp_path / "demo.pt", tmp_path / "folder")

    def stand_in_hub(repo_id, filename, **kwargs):  # the Hub as hf_hub_download serves it, without the network
        if repo_id != "owner/ifdd-demo":
            raise ConnectionError("Failed to resolve 'huggingface.co'")
        return str(folder / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", stand_in_hub)
    for source in (folder, "owner/ifdd-demo", "hf-hub:owner/ifdd-demo"):
        got = init_checkpoint(source)
        assert got["arch"] == "ifdd_2dcnn" and got["class_names"] == list(DFEW_CLASSES)
        assert got["state_dict"].keys() == ckpt["state_dict"].keys()
        assert all(torch.equal(got["state_dict"][k], v) for k, v in ckpt["state_dict"].items())
        preset = init_preset({"init": source, "model": "ifdd_3dvit", "num_frames": 16, "size": 224}, set())
        assert (preset["model"], preset["num_frames"], preset["pretrained"]) == ("ifdd_2dcnn", 8, None)
    with pytest.raises(WeightsUnavailableError, match="owner/elsewhere"):  # a download failure is not "no such kind"
        init_checkpoint("owner/elsewhere")
    with pytest.raises(FileNotFoundError, match="not a lifting_dfer checkpoint.*not a save_pretrained folder"):
        init_checkpoint(tmp_path / "missing.pt")
