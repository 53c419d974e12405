"""Pretrained backbone weights by name: found in, or downloaded to, the caches that timm and torchvision use.

- **torchvision weights** (``"MViT_V2_S_Weights.KINETICS400_V1"``): the URL of torchvision's weights enum, kept as
  ``<torch hub dir>/checkpoints/<file name of the URL>``; the hub dir is ``$TORCH_HOME/hub`` (default
  ``~/.cache/torch/hub``, see ``torch.hub.get_dir``). As ``torch.hub`` does, the file's SHA-256 must start with
  the hex digits after the last ``-`` of its name (``mvit_v2_s-ae3be167.pth``).
- **timm weights** (``"timm/mobilenetv2_100.ra_in1k"``, or without ``timm/``): ``model.safetensors`` of the Hugging
  Face repository that timm's pretrained config names, kept in the Hugging Face cache (``$HF_HUB_CACHE``, default
  ``$HF_HOME/hub`` = ``~/.cache/huggingface/hub``) in the cache's own layout (``models--timm--<name>/blobs/``,
  ``snapshots/<commit>/``, ``refs/main``), so that timm and ``huggingface_hub`` find the file as well. The file's
  SHA-256 must equal the one the Hub sends (``X-Linked-Etag``). ``HF_ENDPOINT`` (a mirror) and
  ``HF_HUB_OFFLINE=1`` are honoured.

A download shows a progress bar on stderr, goes to a temporary file beside its destination and is renamed into
place only after its checksum matched, so an interrupted or corrupt download never leaves a file that looks
valid. Without network access the error names the weights, the file, the URL and where to put the file.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

import torch

from .._version import __version__

__all__ = ["ChecksumError", "WeightsSource", "WeightsUnavailableError", "resolve_weights", "weights_source"]

logger = logging.getLogger(__name__)

_WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar", ".safetensors")
_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's convention: name-<sha256 prefix>.ext
_SHA256 = re.compile(r"[a-f0-9]{64}")
_TIMEOUT_S = 30.0


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights are neither on this machine nor downloadable (offline, blocked, not on the server)."""


class ChecksumError(ValueError):
    """A downloaded weights file does not have the expected SHA-256; nothing was saved."""


class WeightsSource(NamedTuple):
    """Where named weights come from and where they are kept.

    ``kind`` is "torchvision" (``path`` is the file in torch's hub cache, ``sha256_prefix`` from its name) or
    "hub" (``path`` is the repository folder in the Hugging Face cache, ``repo``/``filename`` the file in it).
    """

    name: str
    kind: Literal["torchvision", "hub"]
    url: str
    filename: str
    path: Path
    repo: str | None = None
    sha256_prefix: str | None = None


def _hf_cache() -> Path:
    import huggingface_hub.constants

    return Path(huggingface_hub.constants.HF_HUB_CACHE)


def weights_source(name: str) -> WeightsSource | None:
    """The [`WeightsSource`][lifting_dfer.backbones.hub.WeightsSource] of a torchvision or timm weights name, or
    None when ``name`` is neither.

    Examples:
        >>> weights_source("MViT_V2_S_Weights.KINETICS400_V1").url
        'https://download.pytorch.org/models/mvit_v2_s-ae3be167.pth'
        >>> weights_source("timm/mobilenetv2_100.ra_in1k").repo
        'timm/mobilenetv2_100.ra_in1k'
    """
    from torchvision.models import get_weight

    try:
        url = get_weight(name).url
    except (ValueError, KeyError, AttributeError):
        pass
    else:
        filename = os.path.basename(url)
        prefix = _HASH_PREFIX.search(filename)
        path = Path(torch.hub.get_dir()) / "checkpoints" / filename
        return WeightsSource(name, "torchvision", url, filename, path, sha256_prefix=prefix and prefix.group(1))
    import huggingface_hub.constants
    from timm.models import get_pretrained_cfg

    bare = name.removeprefix("timm/")
    try:
        cfg = get_pretrained_cfg(bare)
    except (RuntimeError, ValueError):  # a known architecture with an unknown tag
        cfg = None
    repo = getattr(cfg, "hf_hub_id", None) or (name if name.startswith("timm/") else None)
    if repo is None:
        return None
    filename = getattr(cfg, "hf_hub_filename", None) or "model.safetensors"
    url = f"{huggingface_hub.constants.ENDPOINT}/{repo}/resolve/main/{filename}"
    folder = _hf_cache() / f"models--{repo.replace('/', '--')}"
    return WeightsSource(name, "hub", url, filename, folder, repo=repo)


def _cached(source: WeightsSource) -> Path | None:
    if source.kind == "torchvision":
        return source.path if source.path.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    if source.repo is None:  # set for every "hub" source
        return None
    for filename in dict.fromkeys((source.filename, "model.safetensors", "pytorch_model.bin")):
        found = try_to_load_from_cache(source.repo, filename, cache_dir=_hf_cache())
        if isinstance(found, str):
            return Path(found)
    return None


def _unavailable(source: WeightsSource, reason: str) -> WeightsUnavailableError:
    pass_file = f"pass its path (pretrained='/path/to/{source.filename}', --pretrained /path/to/{source.filename})"
    if source.kind == "torchvision":
        where = f"put it at {source.path} (found there automatically), or {pass_file}"
    else:
        where = (
            f"{pass_file}, or copy the cache folder {source.path.name} that `hf download {source.repo} "
            f"{source.filename}` writes on a connected machine into {source.path.parent}"
        )
    return WeightsUnavailableError(
        f"pretrained: cannot download {source.name} (file {source.filename}) from {source.url}: {reason}. Without "
        f"internet access, download that file elsewhere and {where}"
    )


class _KeepRedirectHeaders(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, keeping the headers of each redirect response (the Hub puts its file metadata
    on the first one)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[Message] = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.headers.append(headers)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str) -> tuple[BinaryIO, list[Message]]:
    """Open ``url`` (http(s) or file); the response and the headers of every response on the way, final last."""
    redirects = _KeepRedirectHeaders()
    request = urllib.request.Request(url, headers={"User-Agent": f"lifting_dfer/{__version__}"})
    response = urllib.request.build_opener(redirects).open(request, timeout=_TIMEOUT_S)
    return response, [*redirects.headers, response.headers]


def _fetch(source: WeightsSource, folder: Path, progress: bool) -> tuple[Path, str, list[Message]]:
    """Download ``source.url`` to a temporary file in ``folder``: ``(file, SHA-256 hex, headers)``.

    Raises [`WeightsUnavailableError`][lifting_dfer.backbones.hub.WeightsUnavailableError] when the server cannot
    be reached or refuses.
    """
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", source.name, source.url)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{source.filename}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            response, headers = _open(source.url)
            total = int(headers[-1].get("Content-Length") or 0) or None
            with (
                response,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=source.filename,
                    disable=not progress,
                    file=sys.stderr,
                    dynamic_ncols=True,
                ) as bar,
            ):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        os.unlink(name)
        raise _unavailable(source, f"the server answered HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:  # no route, DNS, refused, timeout
        os.unlink(name)
        reason = getattr(err, "reason", None) or err
        raise _unavailable(source, f"{type(err).__name__}: {reason}") from err
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), digest.hexdigest(), headers


def _header(headers: list[Message], key: str) -> str | None:
    return next((h[key] for h in headers if h.get(key)), None)


def _download_torchvision(source: WeightsSource, progress: bool) -> Path:
    temp, sha256, _ = _fetch(source, source.path.parent, progress)
    if source.sha256_prefix and not sha256.startswith(source.sha256_prefix):
        temp.unlink()
        raise ChecksumError(
            f"pretrained: the file downloaded from {source.url} has SHA-256 {sha256}, which does not start with "
            f"{source.sha256_prefix} as its name requires; it was discarded (a corrupt or altered download: try "
            f"again)"
        )
    os.replace(temp, source.path)
    return source.path


def _download_hub(source: WeightsSource, progress: bool) -> Path:
    temp, sha256, headers = _fetch(source, source.path / "blobs", progress)
    etag = (_header(headers, "X-Linked-Etag") or _header(headers, "ETag") or "").removeprefix("W/").strip('"')
    if _SHA256.fullmatch(etag) and etag != sha256:
        temp.unlink()
        raise ChecksumError(
            f"pretrained: the file downloaded from {source.url} has SHA-256 {sha256}, the Hub announced {etag}; "
            f"it was discarded (a corrupt or altered download: try again)"
        )
    blob = source.path / "blobs" / sha256
    os.replace(temp, blob)
    commit = _header(headers, "X-Repo-Commit")
    snapshot = source.path / "snapshots" / (commit or "main") / source.filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if snapshot.is_symlink() or snapshot.exists():
        snapshot.unlink()
    try:
        os.symlink(os.path.relpath(blob, snapshot.parent), snapshot)
    except OSError:  # no symlinks (Windows without developer mode): the file itself goes into the snapshot
        shutil.move(blob, snapshot)
    if commit:
        (source.path / "refs").mkdir(exist_ok=True)
        (source.path / "refs" / "main").write_text(commit)
    return snapshot


def resolve_weights(source: str | os.PathLike, *, download: bool = True, progress: bool = True) -> Path:
    """Turn ``pretrained`` into a local file: a path, or the name of timm / torchvision weights.

    A name is looked up in the local cache (module docstring) and, when absent and ``download`` is true,
    downloaded there with a progress bar (``progress``) and its checksum verified.

    Raises:
        FileNotFoundError: a path that does not exist, or a name that is neither timm's nor torchvision's.
        WeightsUnavailableError: (a ``FileNotFoundError``) named weights not in the cache and not downloadable;
            the message names the file, its URL and where to put it.
        ChecksumError: (a ``ValueError``) the download does not match its SHA-256.

    Examples:
        >>> resolve_weights("no/such/file.pth")
        Traceback (most recent call last):
        ...
        FileNotFoundError: pretrained: no weights file at 'no/such/file.pth'
    """
    path = Path(source)
    if path.is_file():
        return path
    text = str(source)
    if path.suffix in _WEIGHT_SUFFIXES or os.sep in text.replace("timm/", "", 1) or isinstance(source, Path):
        raise FileNotFoundError(f"pretrained: no weights file at {text!r}")
    named = weights_source(text)
    if named is None:
        raise FileNotFoundError(
            f"pretrained: {text!r} is neither a file nor the name of timm or torchvision weights (such as "
            f"'timm/mobilenetv2_100.ra_in1k' or 'MViT_V2_S_Weights.KINETICS400_V1')"
        )
    found = _cached(named)
    if found is not None:
        return found
    if not download:
        raise _unavailable(named, "not in the local cache and download=False")
    if named.kind == "hub":
        import huggingface_hub.constants

        if huggingface_hub.constants.HF_HUB_OFFLINE:
            raise _unavailable(named, "HF_HUB_OFFLINE is set, and the file is not in the local cache")
        return _download_hub(named, progress)
    return _download_torchvision(named, progress)
