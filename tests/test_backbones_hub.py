"""Downloading pretrained weights into the timm / torchvision caches, without ever touching the network.

Downloads are served from ``file://`` URLs or by a stand-in for ``hub._open``; the offline tests make every
socket fail at once, so nothing here can wait on a timeout.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import io
import os
import socket
import time
import urllib.error
from email.message import Message
from types import SimpleNamespace

import huggingface_hub.constants
import pytest
import timm
import torch
import torchvision.models

from lifting_dfer import create_model
from lifting_dfer.backbones import ChecksumError, WeightsUnavailableError, hub, resolve_weights
from lifting_dfer.backbones.hub import weights_source

MOBILENET = "timm/mobilenetv2_100.ra_in1k"
MVIT = "MViT_V2_S_Weights.KINETICS400_V1"


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty torch and Hugging Face caches under tmp_path (TORCH_HOME and the HF hub cache)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return SimpleNamespace(torch=tmp_path / "torch_home" / "hub" / "checkpoints", hf=tmp_path / "hf")


@pytest.fixture
def offline(monkeypatch):
    """No network: name resolution and every connection fail at once."""

    def unreachable(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable (test)")

    monkeypatch.setattr(socket, "getaddrinfo", unreachable)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(socket.socket, "connect", unreachable)


def serve_torchvision_weights(monkeypatch, name: str, url: str) -> None:
    """Make torchvision's weights lookup give ``url`` for ``name`` (the real table for any other name)."""
    real = torchvision.models.get_weight
    monkeypatch.setattr(torchvision.models, "get_weight", lambda n: SimpleNamespace(url=url) if n == name else real(n))


def state_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, buffer)
    return buffer.getvalue()


def test_torchvision_download_checks_the_hash_prefix_and_lands_in_torch_home(tmp_path, monkeypatch, caches, capsys):
    payload = state_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    server = tmp_path / "server" / f"tiny-{digest[:8]}.pth"
    server.parent.mkdir()
    server.write_bytes(payload)
    serve_torchvision_weights(monkeypatch, "Tiny_Weights.V1", server.as_uri())

    path = resolve_weights("Tiny_Weights.V1")
    assert path == caches.torch / server.name
    assert path.read_bytes() == payload
    err = capsys.readouterr().err
    assert server.name in err and "100%" in err, "a progress bar on stderr"
    assert sorted(p.name for p in caches.torch.iterdir()) == [server.name], "no temporary file left behind"
    server.unlink()
    assert resolve_weights("Tiny_Weights.V1", progress=False) == path, "the second call reads the cache"


def test_torchvision_download_with_a_wrong_hash_is_discarded(tmp_path, monkeypatch, caches):
    server = tmp_path / "server" / "tiny-00000000.pth"
    server.parent.mkdir()
    server.write_bytes(state_bytes())
    serve_torchvision_weights(monkeypatch, "Tiny_Weights.V1", server.as_uri())
    with pytest.raises(ChecksumError, match=r"does not start with 00000000 .* discarded"):
        resolve_weights("Tiny_Weights.V1", progress=False)
    assert list(caches.torch.iterdir()) == [], "neither the file nor a partial download is kept"


def hub_response(payload: bytes, **headers: str):
    """A stand-in for ``hub._open``: the Hub's redirect headers, then the CDN response carrying the bytes."""
    first, final = Message(), Message()
    for key, value in headers.items():
        first[key.replace("_", "-")] = value
    final["Content-Length"] = str(len(payload))
    seen = []

    def fake_open(url):
        seen.append(url)
        return io.BytesIO(payload), [first, final]

    return fake_open, seen


def test_hub_download_fills_the_hugging_face_cache_layout(tmp_path, monkeypatch, caches):
    payload = b"weights of the test" * 100
    digest = hashlib.sha256(payload).hexdigest()
    fake_open, seen = hub_response(payload, X_Repo_Commit="0123abcd", X_Linked_Etag=f'"{digest}"')
    monkeypatch.setattr(hub, "_open", fake_open)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://mirror.example")  # HF_ENDPOINT

    path = resolve_weights(MOBILENET, progress=False)
    assert seen == ["https://mirror.example/timm/mobilenetv2_100.ra_in1k/resolve/main/model.safetensors"]
    repo = caches.hf / "models--timm--mobilenetv2_100.ra_in1k"
    assert path == repo / "snapshots" / "0123abcd" / "model.safetensors"
    assert path.is_symlink() and os.readlink(path) == f"../../blobs/{digest}"
    assert path.read_bytes() == payload
    assert (repo / "refs" / "main").read_text() == "0123abcd"
    # huggingface_hub (and so timm) finds the file where we put it
    assert huggingface_hub.try_to_load_from_cache(MOBILENET, "model.safetensors", cache_dir=caches.hf) == str(path)
    assert [p.name for p in (repo / "blobs").iterdir()] == [digest]


def test_hub_download_with_a_wrong_checksum_is_discarded(monkeypatch, caches):
    fake_open, _ = hub_response(b"tampered", X_Repo_Commit="0123abcd", X_Linked_Etag="a" * 64)
    monkeypatch.setattr(hub, "_open", fake_open)
    with pytest.raises(ChecksumError, match=r"the Hub announced a{64}"):
        resolve_weights(MOBILENET, progress=False)
    repo = caches.hf / "models--timm--mobilenetv2_100.ra_in1k"
    assert list((repo / "blobs").iterdir()) == [] and not (repo / "snapshots").exists()


def test_pretrained_true_downloads_the_paper_weights_from_a_file_url(tmp_path, monkeypatch, caches):
    from safetensors.torch import save_file

    full = timm.create_model("mobilenetv2_100", pretrained=False)
    served = tmp_path / "hub" / "timm" / "mobilenetv2_100.ra_in1k" / "resolve" / "main" / "model.safetensors"
    served.parent.mkdir(parents=True)
    save_file(full.state_dict(), served)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", (tmp_path / "hub").as_uri())

    model = create_model("ifdd_2dcnn", pretrained=True, num_frames=4, image_size=64)
    torch.testing.assert_close(model.backbone.blocks[4][0].conv_pw.weight, full.blocks[4][0].conv_pw.weight)
    # no commit header from a file URL: the snapshot is "main", which huggingface_hub resolves the same way
    cached = caches.hf / "models--timm--mobilenetv2_100.ra_in1k" / "snapshots" / "main" / "model.safetensors"
    assert cached.read_bytes() == served.read_bytes()
    assert huggingface_hub.try_to_load_from_cache(MOBILENET, "model.safetensors", cache_dir=caches.hf) == str(cached)


def test_offline_machine_gets_one_error_naming_the_file_url_and_place(caches, offline):
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        create_model("ifdd_2dcnn", pretrained=True, num_frames=4, image_size=64)
    message = str(info.value)
    assert "timm/mobilenetv2_100.ra_in1k (file model.safetensors)" in message
    assert "https://huggingface.co/timm/mobilenetv2_100.ra_in1k/resolve/main/model.safetensors" in message
    assert "Network is unreachable" in message
    assert "copy the cache folder models--timm--mobilenetv2_100.ra_in1k" in message and str(caches.hf) in message
    assert "--pretrained /path/to/model.safetensors" in message

    with pytest.raises(WeightsUnavailableError) as info:
        create_model("baseline_3dvit", pretrained=True, num_frames=4, image_size=64, depths=(1, 1, 1, 1))
    message = str(info.value)
    assert "MViT_V2_S_Weights.KINETICS400_V1 (file mvit_v2_s-ae3be167.pth)" in message
    assert "https://download.pytorch.org/models/mvit_v2_s-ae3be167.pth" in message
    assert f"put it at {caches.torch / 'mvit_v2_s-ae3be167.pth'} (found there automatically)" in message
    assert "\n" not in message, "one line"
    assert time.perf_counter() - start < 10, "the failure is immediate, not a timeout"
    assert not any(caches.torch.iterdir()) and not any(
        (caches.hf / "models--timm--mobilenetv2_100.ra_in1k" / "blobs").iterdir()
    ), "no partial files"


def test_unreachable_server_and_http_errors_are_the_same_clear_error(monkeypatch, caches):
    with socket.socket() as s:  # a local port nobody listens on: the connection is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tiny-1234abcd.pth"
    serve_torchvision_weights(monkeypatch, "Tiny_Weights.V1", url)
    with pytest.raises(WeightsUnavailableError, match=f"cannot download Tiny_Weights.V1 .* from {url}: URLError"):
        resolve_weights("Tiny_Weights.V1", progress=False)

    def not_found(url):
        raise urllib.error.HTTPError(url, 404, "Not Found", Message(), None)

    monkeypatch.setattr(hub, "_open", not_found)
    with pytest.raises(WeightsUnavailableError, match="the server answered HTTP 404 Not Found"):
        resolve_weights("timm/no_such_model.tag", progress=False)


def test_hf_hub_offline_is_honoured_without_a_connection(monkeypatch, caches):
    def no_network(url):
        raise AssertionError("HF_HUB_OFFLINE must not connect")

    monkeypatch.setattr(hub, "_open", no_network)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError, match="HF_HUB_OFFLINE is set"):
        resolve_weights(MOBILENET)


def test_caches_follow_torch_home_and_hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    try:
        importlib.reload(huggingface_hub.constants)  # huggingface_hub reads HF_HOME when it is imported
        paths = [weights_source(MOBILENET).path, weights_source(MVIT).path]
    finally:
        monkeypatch.undo()
        importlib.reload(huggingface_hub.constants)
    assert paths == [
        tmp_path / "hf_home" / "hub" / "models--timm--mobilenetv2_100.ra_in1k",
        tmp_path / "torch_home" / "hub" / "checkpoints" / "mvit_v2_s-ae3be167.pth",
    ]
