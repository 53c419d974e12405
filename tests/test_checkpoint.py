"""Checkpoints: round trip, wrapper-free keys, atomic writes, and a clear error for every bad file."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lifting_dfer.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_save,
    check_checkpoint_matches,
    load_checkpoint,
    load_model_state,
    model_from_checkpoint,
    save_checkpoint,
    unwrap_model,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def small_net(k: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(k))


def net_with_state(k: int = 3) -> nn.Module:
    net = small_net(k)
    net(torch.randn(2, 3, 5, 5))  # materialise the lazy layer and move the BN statistics
    return net


def save(path, net, **extra):
    return save_checkpoint(
        path, net, arch="toy", arch_kwargs={"num_classes": 3, "width": 4}, class_names=["a", "b", "c"], **extra
    )


def test_round_trip_keeps_weights_buffers_and_extras(tmp_path):
    net = net_with_state()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    path = save(tmp_path / "sub" / "ckpt.pt", net, epoch=7, optimizer=opt.state_dict(), metrics={"uar": 0.5})
    ckpt = load_checkpoint(path)
    assert ckpt["format"] == CHECKPOINT_FORMAT
    assert ckpt["arch"] == "toy" and ckpt["arch_kwargs"] == {"num_classes": 3, "width": 4}
    assert ckpt["class_names"] == ["a", "b", "c"]
    assert ckpt["epoch"] == 7 and ckpt["metrics"] == {"uar": 0.5}
    assert set(ckpt["versions"]) == {"lifting_dfer", "torch"}
    reference = net.state_dict()
    assert list(ckpt["state_dict"]) == list(reference)
    for key, value in reference.items():
        assert torch.equal(ckpt["state_dict"][key], value), key
    fresh = net_with_state()
    fresh[1].running_mean.fill_(123.0)
    load_model_state(fresh, ckpt)
    for key, value in reference.items():
        assert torch.equal(fresh.state_dict()[key], value), key
    opt2 = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    opt2.load_state_dict(ckpt["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_wrappers_are_removed_from_keys(tmp_path):
    net = net_with_state()
    for wrapped in (torch.compile(net), nn.DataParallel(net)):
        assert unwrap_model(wrapped) is net
        ckpt = load_checkpoint(save(tmp_path / "w.pt", wrapped))
        assert list(ckpt["state_dict"]) == list(net.state_dict())


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = save(tmp_path / "ckpt.pt", net_with_state(), epoch=1)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial data")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save(path, net_with_state(), epoch=2)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # no temporary file left behind


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ: Linux")
def test_a_full_disk_names_the_file_and_the_cause_and_keeps_the_old_file(tmp_path):
    """A real write failure: a file-size limit (what a full disk does to ``write``) while torch writes last.pt."""
    path = save(tmp_path / "last.pt", net_with_state(), epoch=1)
    before = path.read_bytes()
    script = f"""
import resource, signal, sys, torch
from lifting_dfer.checkpoint import atomic_save
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing the process
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 4096}, {len(before) + 4096}))
try:
    atomic_save({{"weights": torch.zeros(100_000)}}, {str(path)!r})
except OSError as err:
    print(type(err).__name__, err.errno, err, sep="|")
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    kind, errno, message = out.stdout.strip().split("|")
    assert (kind, int(errno)) == ("OSError", 27)  # EFBIG, passed on from the write that failed
    assert (
        message == f"cannot write {path}: File too large (disk full or a file-size limit?); the previous "
        "last.pt is unchanged"
    )
    assert "inline_container" not in out.stdout + out.stderr
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_no_space_left_while_torch_writes_is_one_clear_error(tmp_path, monkeypatch):
    """The file object fails as on a full disk (ENOSPC) in the middle of torch's zip writer."""
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 256:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as info:
        atomic_save({"weights": torch.zeros(10_000)}, tmp_path / "last.pt")
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f"cannot write {tmp_path / 'last.pt'}: No space left on device (disk full or a "
        "file-size limit?); no partial file was left"
    )
    assert os.listdir(tmp_path) == []


def test_atomic_save_replaces_the_file(tmp_path):
    path = atomic_save({"a": torch.ones(2)}, tmp_path / "x.pt")
    atomic_save({"a": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path)["a"], torch.zeros(2))


def test_missing_file_and_folder_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all" * 4, "truncated"])
def test_corrupt_or_truncated_file_raises_value_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content == "truncated":
        good = save(tmp_path / "good.pt", net_with_state()).read_bytes()
        content = good[: len(good) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_other_files_are_not_lifting_dfer_checkpoints(tmp_path):
    torch.save(net_with_state().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="not a lifting_dfer checkpoint"):
        load_checkpoint(tmp_path / "bare.pt")
    torch.save({"format": "other/9", "arch": "x"}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="has format 'other/9'"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "arch": "x"}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="lacks the fields"):
        load_checkpoint(tmp_path / "partial.pt")


class RunsCode:
    """Unpickling this calls ``os.system``: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload", ["os.system", "module"])
def test_a_file_with_pickled_code_is_refused_as_code_without_suggesting_unsafe_loading(tmp_path, payload):
    marker = tmp_path / "ran"
    thing = RunsCode(marker) if payload == "os.system" else nn.Linear(1, 1)
    torch.save({"format": CHECKPOINT_FORMAT, "thing": thing}, tmp_path / "evil.pt")
    with pytest.raises(ValueError) as info:
        load_checkpoint(tmp_path / "evil.pt")
    message = str(info.value)
    assert "evil.pt contains code and was refused" in message
    assert ("system" if payload == "os.system" else "torch.nn.modules.linear.Linear") in message
    assert "weights_only" not in message and "corrupt" not in message
    assert not marker.exists()


def test_save_rejects_bad_arguments(tmp_path):
    net = net_with_state()
    with pytest.raises(ValueError, match="expected 3 names"):
        save_checkpoint(tmp_path / "a.pt", net, arch="toy", arch_kwargs={"num_classes": 3}, class_names=["a"])
    with pytest.raises(ValueError, match="reserved"):
        save(tmp_path / "a.pt", net, state_dict={})
    with pytest.raises(TypeError, match="class_names"):
        save_checkpoint(tmp_path / "a.pt", net, arch="toy", arch_kwargs={}, class_names="abc")
    with pytest.raises(ValueError, match="arch"):
        save_checkpoint(tmp_path / "a.pt", net, arch="", arch_kwargs={}, class_names=[])
    assert not (tmp_path / "a.pt").exists()


def test_load_model_state_names_missing_unexpected_and_reshaped_keys(tmp_path):
    ckpt = load_checkpoint(save(tmp_path / "c.pt", net_with_state(k=3)))
    other = net_with_state(k=5)  # last layer has another shape
    with pytest.raises(ValueError, match=r"shape mismatch: 3\.weight: checkpoint \(3, 36\) vs model \(5, 36\)"):
        load_model_state(other, ckpt)
    extended = nn.Sequential(*net_with_state(k=3), nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"missing: 4\.weight, 4\.bias"):
        load_model_state(extended, ckpt)
    shorter = nn.Sequential(*list(net_with_state(k=3))[:2])
    with pytest.raises(ValueError, match=r"unexpected: 3\.weight"):
        load_model_state(shorter, ckpt)


def test_check_checkpoint_matches_names_model_classes_and_order():
    ckpt = {"arch": "ifdd_2dcnn", "arch_kwargs": {"num_classes": 3}, "class_names": ["a", "b", "c"]}
    check_checkpoint_matches(ckpt, arch="ifdd_2dcnn", num_classes=3, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="holds model 'ifdd_2dcnn', expected 'ifdd_3dvit'"):
        check_checkpoint_matches(ckpt, arch="ifdd_3dvit")
    with pytest.raises(ValueError, match="has 3 classes .* expected 7"):
        check_checkpoint_matches(ckpt, num_classes=7)
    with pytest.raises(ValueError, match="same order"):
        check_checkpoint_matches(ckpt, class_names=["c", "b", "a"])


def test_model_from_checkpoint_rebuilds_a_registered_model(tmp_path):
    from lifting_dfer.models import create_model

    kwargs = {"num_classes": 3, "num_frames": 4, "image_size": 32, "pretrained": "/no/such/weights.pth"}
    torch.manual_seed(1)
    model = create_model("baseline_2dcnn", **{**kwargs, "pretrained": None}).eval()
    path = save_checkpoint(
        tmp_path / "m.pt", model, arch="baseline_2dcnn", arch_kwargs=kwargs, class_names=["x", "y", "z"], input_size=32
    )
    rebuilt, ckpt = model_from_checkpoint(path)  # the missing pretrained file is not needed
    assert not rebuilt.training and ckpt["input_size"] == 32
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(clip), model(clip))


def test_model_from_checkpoint_rejects_unknown_arch(tmp_path):
    path = save(tmp_path / "toy.pt", net_with_state())
    with pytest.raises(ValueError, match="holds model 'toy'; known models"):
        model_from_checkpoint(path)
