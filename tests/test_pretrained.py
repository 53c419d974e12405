"""save_pretrained / from_pretrained / push_to_hub: local folders, a stand-in Hub, never the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar

import pytest
import torch

import lifting_dfer
from lifting_dfer import create_model, from_pretrained, push_to_hub, save_checkpoint, save_pretrained
from lifting_dfer.backbones import WeightsUnavailableError
from lifting_dfer.normalization import IMAGENET, UNIT
from lifting_dfer.pretrained import (
    CONFIG_NAME,
    PRETRAINED_FORMAT,
    WEIGHTS_NAME,
    is_pretrained_source,
    load_pretrained,
)

NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]
TINY_2D = {"num_classes": 7, "num_frames": 4, "image_size": 64}
TINY_3D = {"num_classes": 3, "num_frames": 4, "image_size": 64, "depths": (1, 1, 1, 1)}
SAMPLING = {"dataset": "dfew", "frames_per_clip": 4, "clip_seconds": 3.08, "fps": 4 / 3.08}


def _perturbed(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Weights and BatchNorm statistics away from their initial values, so that a round trip that lost any of them
    (or rebuilt the model from scratch) would show."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.01)
    return model.eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An IFDD-2DCNN with perturbed weights and the folder save_pretrained wrote for it."""
    torch.manual_seed(0)
    model = _perturbed(create_model("ifdd_2dcnn", **TINY_2D))
    folder = save_pretrained(
        model, tmp_path_factory.mktemp("pretrained") / "ifdd", class_names=NAMES, sampling=SAMPLING
    )
    return model, folder


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_is_bit_exact_with_the_same_outputs(saved):
    model, folder = saved
    again = from_pretrained(folder)
    assert type(again) is type(model) and not again.training
    assert _same_state(model, again)
    clip = torch.randn(2, 3, 4, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(model(clip), again(clip))


def test_folder_holds_safetensors_and_the_config_predict_needs(saved):
    import safetensors.torch

    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["format"] == PRETRAINED_FORMAT
    assert config["arch"] == "ifdd_2dcnn" and config["arch_kwargs"] == TINY_2D
    assert config["class_names"] == NAMES
    assert config["normalization"] == IMAGENET.to_dict()
    assert config["sampling"] == SAMPLING
    assert config["versions"]["lifting_dfer"] == lifting_dfer.__version__
    tensors = safetensors.torch.load_file(folder / WEIGHTS_NAME)
    assert tensors.keys() == model.state_dict().keys()


def test_a_loaded_model_carries_its_config_and_saves_again_unchanged(saved, tmp_path):
    _, folder = saved
    again = from_pretrained(folder)
    record = again.lifting_dfer_config
    assert record["class_names"] == NAMES and record["sampling"] == SAMPLING
    second = save_pretrained(again, tmp_path / "again")  # no keywords: everything comes from the record
    first_config = json.loads((folder / CONFIG_NAME).read_text())
    second_config = json.loads((second / CONFIG_NAME).read_text())
    assert first_config == second_config
    assert (folder / WEIGHTS_NAME).read_bytes() == (second / WEIGHTS_NAME).read_bytes()


def test_a_training_checkpoint_becomes_a_folder_with_its_records(tmp_path):
    torch.manual_seed(0)
    model = _perturbed(create_model("baseline_3dvit", **TINY_3D), seed=4)
    ckpt = save_checkpoint(
        tmp_path / "best.pt",
        model,
        arch="baseline_3dvit",
        arch_kwargs=TINY_3D,
        class_names=["a", "b", "c"],
        normalization=UNIT.to_dict(),
        sampling=SAMPLING,
        input_size=64,
        epoch=7,
    )
    folder = save_pretrained(ckpt, tmp_path / "folder")
    again, config = load_pretrained(folder)
    assert _same_state(model, again)
    assert config["normalization"] == UNIT.to_dict() and config["input_size"] == 64
    assert config["arch_kwargs"]["depths"] == [1, 1, 1, 1]  # JSON: tuples come back as lists, and build the same
    clip = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(clip), again(clip))


def test_compiled_or_wrapped_models_save_their_plain_weights(saved, tmp_path):
    model, _ = saved
    wrapped = torch.nn.DataParallel(model)
    wrapped.lifting_dfer_config = None  # only the inner model's record counts
    again = from_pretrained(save_pretrained(wrapped, tmp_path / "w", class_names=NAMES))
    assert _same_state(model, again)


def test_missing_information_is_named(tmp_path):
    plain = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="arch: .*pass arch= and arch_kwargs="):
        save_pretrained(plain, tmp_path / "x", class_names=["a", "b"])
    model = create_model("ifdd_2dcnn", **TINY_2D)
    with pytest.raises(ValueError, match="class_names: .*DFEW_CLASSES"):
        save_pretrained(model, tmp_path / "x")
    with pytest.raises(ValueError, match="3 class names for a model of 7 classes"):
        save_pretrained(model, tmp_path / "x", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="not a registered model"):
        save_pretrained(plain, tmp_path / "x", arch="linear", arch_kwargs={}, class_names=["a", "b"])
    with pytest.raises(TypeError, match="model_or_checkpoint"):
        save_pretrained(42, tmp_path / "x")
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_broken_folders_fail_with_the_reason(saved, tmp_path):
    _, folder = saved
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        from_pretrained(_copy(folder, tmp_path / "no_weights", drop=WEIGHTS_NAME))
    broken = _copy(folder, tmp_path / "truncated")
    (broken / WEIGHTS_NAME).write_bytes((folder / WEIGHTS_NAME).read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        from_pretrained(broken)
    other = _copy(folder, tmp_path / "other_classes")
    config = json.loads((other / CONFIG_NAME).read_text())
    config["arch_kwargs"]["num_classes"], config["class_names"] = 3, ["a", "b", "c"]
    (other / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(
        ValueError,
        match=r"does not fit IFDD: shape mismatch: classifier.weight: checkpoint \(7, 128\) vs model \(3, 128\)",
    ):
        from_pretrained(other)
    config["format"] = "lifting_dfer.pretrained/99"
    (other / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="this version reads 'lifting_dfer.pretrained/1'"):
        from_pretrained(other)
    with pytest.raises(ValueError, match="is a file"):
        from_pretrained(folder / CONFIG_NAME)


def _copy(folder: Path, target: Path, drop: str | None = None) -> Path:
    shutil.copytree(folder, target)
    if drop:
        (target / drop).unlink()
    return target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner/ifdd_2dcnn-dfew", True),
        ("hf-hub:owner/ifdd_2dcnn-dfew", True),
        ("owner/model.v2", True),
        ("runs/best.pt", False),
        ("exports/model.onnx", False),
        ("a/b/c", False),
        ("no_slash", False),
    ],
)
def test_repository_ids_are_told_from_file_names(text, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_pretrained_source(text) is expected


def test_existing_folders_and_files_are_taken_as_they_are(saved, tmp_path, monkeypatch):
    _, folder = saved
    monkeypatch.chdir(tmp_path)
    Path("owner").mkdir()
    Path("owner/model.v2").write_bytes(b"")  # a file that looks like a repository id stays a file
    assert is_pretrained_source(folder) and not is_pretrained_source("owner/model.v2")


class FakeHub:
    """Stands in for huggingface_hub.hf_hub_download: repositories are local folders; records every call."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos, self.calls = repos, []

    def __call__(self, repo_id, filename, **kwargs):
        from huggingface_hub.utils import EntryNotFoundError

        self.calls.append((repo_id, filename, kwargs))
        if repo_id not in self.repos:
            raise ConnectionError("Failed to resolve 'huggingface.co'")
        path = self.repos[repo_id] / filename
        if not path.exists():
            raise EntryNotFoundError(f"{filename} not found")
        return str(path)


def test_hub_ids_load_through_hf_hub_download(saved, monkeypatch):
    import huggingface_hub

    model, folder = saved
    hub = FakeHub({"owner/ifdd-tiny": folder})
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub)
    for name in ("owner/ifdd-tiny", "hf-hub:owner/ifdd-tiny"):
        assert _same_state(model, from_pretrained(name, revision="v1"))
    assert [(repo, file) for repo, file, _ in hub.calls[:2]] == [
        ("owner/ifdd-tiny", CONFIG_NAME),
        ("owner/ifdd-tiny", WEIGHTS_NAME),
    ]
    kwargs = hub.calls[0][2]
    assert kwargs["revision"] == "v1" and kwargs["library_name"] == "lifting_dfer" and not kwargs["local_files_only"]


def test_hub_failures_name_the_file_its_url_and_where_to_put_it(saved, monkeypatch, tmp_path):
    import huggingface_hub

    _, folder = saved
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        huggingface_hub,
        "hf_hub_download",
        FakeHub({"owner/config-only": _copy(folder, tmp_path / "c", drop=WEIGHTS_NAME)}),
    )
    with pytest.raises(WeightsUnavailableError) as info:
        from_pretrained("owner/unreachable", cache_dir=tmp_path / "cache")
    text = str(info.value)
    assert text.startswith("from_pretrained: cannot download owner/unreachable (file config.json) from ")
    assert "https://huggingface.co/owner/unreachable/resolve/main/config.json" in text
    assert "ConnectionError: Failed to resolve" in text and "there is no local folder owner/unreachable" in text
    assert (
        f"models--owner--unreachable that `hf download owner/unreachable` writes on a connected machine into {tmp_path / 'cache'}"
        in text
    )
    with pytest.raises(
        WeightsUnavailableError, match=r"\(file model.safetensors\).*the repository has no model.safetensors"
    ):
        from_pretrained("owner/config-only")


def test_offline_without_the_files_in_the_cache_is_one_clear_error(tmp_path):
    """The real huggingface_hub with local_files_only: it never opens a connection."""
    with pytest.raises(WeightsUnavailableError, match="not in the local cache and the Hub cannot be reached") as info:
        from_pretrained("owner/not-cached", cache_dir=tmp_path, local_files_only=True)
    assert isinstance(info.value, FileNotFoundError)  # the CLI's one-line errors catch it


def test_a_repository_in_the_hugging_face_cache_loads_offline(saved, tmp_path):
    """The cache layout that `hf download` writes, read by the real huggingface_hub without the network."""
    model, folder = saved
    repo = tmp_path / "models--owner--ifdd-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    again = from_pretrained("owner/ifdd-tiny", cache_dir=tmp_path, local_files_only=True)
    assert _same_state(model, again)


class FakeApi:
    """Stands in for huggingface_hub.HfApi: keeps what would be uploaded."""

    instances: ClassVar[list[FakeApi]] = []

    def __init__(self, token=None) -> None:
        self.token, self.created, self.uploaded = token, [], {}
        FakeApi.instances.append(self)

    def create_repo(self, repo_id, **kwargs):
        self.created.append((repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        self.uploaded = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
        self.upload_kwargs = {"repo_id": repo_id, **kwargs}
        return f"https://huggingface.co/{repo_id}/commit/abc"


def test_push_to_hub_uploads_the_folder_and_a_model_card(saved, tmp_path, monkeypatch):
    import huggingface_hub

    model, folder = saved
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.instances.clear()
    result = push_to_hub(model, "owner/ifdd-tiny", private=True, token="t", class_names=NAMES, sampling=SAMPLING)
    api = FakeApi.instances[-1]
    assert result == "https://huggingface.co/owner/ifdd-tiny/commit/abc" and api.token == "t"
    assert api.created == [("owner/ifdd-tiny", {"private": True, "exist_ok": True})]
    assert api.upload_kwargs["repo_id"] == "owner/ifdd-tiny" and api.upload_kwargs["commit_message"]
    assert sorted(api.uploaded) == ["README.md", CONFIG_NAME, WEIGHTS_NAME]
    assert api.uploaded[WEIGHTS_NAME] == (folder / WEIGHTS_NAME).read_bytes()
    card = api.uploaded["README.md"].decode()
    assert "library_name: lifting_dfer" in card and 'from_pretrained("owner/ifdd-tiny")' in card
    assert "clips of 4 face crops of 64x64 pixels, sampled at 1.30 frames per second into 7 classes" in card


def test_push_to_hub_takes_a_checkpoint_file(tmp_path, monkeypatch):
    import huggingface_hub

    torch.manual_seed(0)
    model = _perturbed(create_model("ifdd_2dcnn", **TINY_2D), seed=5)
    ckpt = save_checkpoint(tmp_path / "best.pt", model, arch="ifdd_2dcnn", arch_kwargs=TINY_2D, class_names=NAMES)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    push_to_hub(ckpt, "owner/from-ckpt")
    uploaded = FakeApi.instances[-1].uploaded
    (tmp_path / "down").mkdir()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        (tmp_path / "down" / name).write_bytes(uploaded[name])
    assert _same_state(model, from_pretrained(tmp_path / "down"))
    with pytest.raises(ValueError, match="repo_id: expected owner/name"):
        push_to_hub(ckpt, "no-owner")


def test_cli_load_model_takes_a_folder_or_a_hub_id(saved, monkeypatch):
    import huggingface_hub

    from lifting_dfer.cli import checkpoint_geometry, load_model

    model, folder = saved
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", FakeHub({"owner/ifdd-tiny": folder}))
    for source in (folder, str(folder), "owner/ifdd-tiny"):
        loaded, config = load_model(source)
        assert _same_state(model, loaded)
        assert checkpoint_geometry(config) == (4, 64) and config["class_names"] == NAMES


def test_export_command_takes_a_folder(saved, tmp_path, capsys):
    from lifting_dfer.cli import main

    _, folder = saved
    out = tmp_path / "m.torchscript"
    assert main(["export", str(folder), "--format", "torchscript", "-o", str(out)]) == 0
    sidecar = json.loads(out.with_name("m.torchscript.json").read_text())
    assert sidecar["arch"] == "ifdd_2dcnn" and sidecar["class_names"] == NAMES and sidecar["num_frames"] == 4
    assert "max |p_torchscript - p_pytorch|" in capsys.readouterr().out


def test_predict_command_takes_a_folder(saved, tmp_path, encode_video):
    pytest.importorskip("cv2")
    import numpy as np

    from lifting_dfer.cli import main

    _, folder = saved
    frames = np.random.default_rng(0).integers(0, 255, (24, 64, 64, 3), dtype=np.uint8)
    video = encode_video(tmp_path / "v.mkv", frames)
    status = main(["predict", str(video), "--checkpoint", str(folder), "--no-face-detect", "--no-plot",
                   "--format", "json", "--output-dir", str(tmp_path / "out"), "--device", "cpu"])  # fmt: skip
    assert status == 0
    result = json.loads((tmp_path / "out" / "v.json").read_text())
    assert result["class_names"] == NAMES and result["windows"]


def test_saved_files_get_the_permissions_of_plainly_created_ones(saved):
    """Before: mkstemp's 0600 stayed on model.safetensors and config.json, hiding them from other users."""
    import os

    _, folder = saved
    umask = os.umask(0)
    os.umask(umask)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
