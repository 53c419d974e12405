"""Trained models as a folder or a Hugging Face Hub repository: ``model.safetensors`` next to ``config.json``.

[`save_pretrained`][lifting_dfer.save_pretrained] writes a model, or a checkpoint that training wrote, as such a
folder; [`from_pretrained`][lifting_dfer.from_pretrained] rebuilds the model from a local folder or from a Hub
repository id (downloaded into huggingface_hub's cache, ``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``);
[`push_to_hub`][lifting_dfer.push_to_hub] uploads one with a model card. ``lifting-dfer predict --checkpoint`` and
``lifting-dfer export`` take such a folder or repository id wherever they take a checkpoint file.

| file | content |
|---|---|
| ``model.safetensors`` | the model's state dict (safetensors: tensors only, no pickled code) |
| ``config.json`` | ``format`` (``"lifting_dfer.pretrained/1"``), ``arch`` and ``arch_kwargs`` (``create_model(arch, **arch_kwargs)`` rebuilds the model), ``class_names`` in index order, ``normalization`` (the input's mean and std, [`Normalization.to_dict`][lifting_dfer.normalization.Normalization.to_dict]), ``sampling`` (how the training clips were sampled, [`TrainingSampling`][lifting_dfer.video.TrainingSampling], or ``null``), ``input_size`` (``null`` when ``arch_kwargs`` gives it), ``versions`` |

A repository id is ``owner/name`` (``hf-hub:owner/name`` forces the Hub, as in timm). Offline, a repository that is
not in the cache fails with a [`WeightsUnavailableError`][lifting_dfer.backbones.WeightsUnavailableError] that names
the file, its URL and where to put it, as the backbone downloads do; ``HF_HUB_OFFLINE=1`` and ``HF_ENDPOINT`` are
honoured.

Examples:
    >>> import tempfile, torch
    >>> from lifting_dfer import from_pretrained, ifdd_2dcnn, save_pretrained
    >>> model = ifdd_2dcnn(num_classes=2, num_frames=4, image_size=64).eval()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_pretrained(model, folder, class_names=["calm", "happy"])
    ...     again = from_pretrained(folder)
    >>> clip = torch.randn(1, 3, 4, 64, 64)
    >>> torch.equal(model(clip), again(clip)), again.lifting_dfer_config["class_names"]
    (True, ['calm', 'happy'])
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ._atomic import write_atomically
from ._version import __version__
from .backbones.hub import WeightsUnavailableError
from .checkpoint import load_checkpoint, load_model_state, unwrap_model
from .normalization import Normalization

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo

__all__ = [
    "CONFIG_NAME",
    "PRETRAINED_FORMAT",
    "WEIGHTS_NAME",
    "from_pretrained",
    "is_pretrained_source",
    "load_pretrained",
    "push_to_hub",
    "save_pretrained",
]

CONFIG_NAME = "config.json"
"""The settings file of a saved folder."""
WEIGHTS_NAME = "model.safetensors"
"""The weights file of a saved folder."""
PRETRAINED_FORMAT = "lifting_dfer.pretrained/1"
"""The ``format`` field of the ``config.json`` this version writes and reads."""
HUB_PREFIX = "hf-hub:"

# A Hub repository id: owner/name of letters, digits, '-', '_', '.'.
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
# A missing path with one of these suffixes is a mistyped file, not a repository id.
_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar", ".onnx", ".torchscript", ".safetensors", ".json")
_CONFIG_KEYS = ("arch", "arch_kwargs", "class_names", "normalization", "sampling", "input_size")


def is_pretrained_source(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a saved folder or a Hub repository rather than a checkpoint file.

    True for an existing folder, ``hf-hub:owner/name``, and an ``owner/name`` that is no local path and has no
    file suffix.

    Examples:
        >>> is_pretrained_source("hf-hub:owner/ifdd_2dcnn-dfew"), is_pretrained_source("owner/ifdd_2dcnn-dfew")
        (True, True)
        >>> is_pretrained_source("runs/best.pt"), is_pretrained_source("a/b/c")
        (False, False)
    """
    text = os.fspath(source)
    if text.startswith(HUB_PREFIX):
        return True
    path = Path(text)
    if path.is_dir():
        return True
    if path.exists():
        return False
    return _REPO_ID.fullmatch(text) is not None and not text.lower().endswith(_FILE_SUFFIXES)


def _is_checkpoint(value: object) -> bool:
    return isinstance(value, (str, os.PathLike)) or (isinstance(value, Mapping) and "state_dict" in value)


def _json_value(value: object) -> object:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, torch.Size):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _config_of(
    model_or_checkpoint: nn.Module | Mapping[str, Any] | str | os.PathLike[str], overrides: dict[str, Any]
) -> tuple[dict[str, Any], Mapping[str, torch.Tensor]]:
    """The ``config.json`` fields and the state dict of a model or checkpoint, keyword ``overrides`` applied."""
    if isinstance(model_or_checkpoint, nn.Module):
        model = unwrap_model(model_or_checkpoint)
        record = dict(getattr(model, "lifting_dfer_config", None) or {})
        state: Mapping[str, torch.Tensor] = model.state_dict()
        what = f"the {type(model).__name__} model"
    elif _is_checkpoint(model_or_checkpoint):
        if isinstance(model_or_checkpoint, Mapping):
            record, what = dict(model_or_checkpoint), "the checkpoint"
        else:
            record, what = load_checkpoint(model_or_checkpoint), f"checkpoint {model_or_checkpoint}"
        state = record["state_dict"]
    else:
        raise TypeError(
            f"model_or_checkpoint: expected an nn.Module, a checkpoint file or a checkpoint dict, got "
            f"{type(model_or_checkpoint).__name__}"
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    config = {key: given.get(key, record.get(key)) for key in _CONFIG_KEYS}
    if config["arch"] is None or config["arch_kwargs"] is None:
        raise ValueError(
            f"arch: {what} does not say which model it is (models from create_model and the builders record it in "
            f"lifting_dfer_config); pass arch= and arch_kwargs="
        )
    if config["class_names"] is None:
        raise ValueError(
            f"class_names: {what} has no class names; pass class_names=[...] in index order (for DFEW: "
            f"lifting_dfer.data.DFEW_CLASSES)"
        )
    return config, state


def _checked(config: dict[str, Any], source: str) -> dict[str, Any]:
    """``config`` with ``normalization`` and ``sampling`` as plain dicts, validated; ``ValueError`` naming ``source``."""
    from .models import input_normalization, list_models

    arch, kwargs, names = config["arch"], config["arch_kwargs"], config["class_names"]
    if not isinstance(arch, str) or arch not in list_models():
        raise ValueError(f"{source}: arch {arch!r} is not a registered model; known: {', '.join(list_models())}")
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{source}: arch_kwargs must be a mapping of builder arguments, got {kwargs!r}")
    if isinstance(names, str) or not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{source}: class_names must be a list of strings, got {names!r}")
    k = kwargs.get("num_classes")
    if k is not None and k != len(names):
        raise ValueError(f"{source}: {len(names)} class names for a model of {k} classes (arch_kwargs num_classes)")
    norm = config["normalization"]
    if norm is None:
        norm = input_normalization(arch)  # the model's own input (ImageNet's; RGB in [0, 1] for the authors' form)
    elif not isinstance(norm, Normalization):
        norm = Normalization.from_dict(norm, name=f"{source}: normalization")
    sampling = config["sampling"]
    if sampling is not None:
        sampling = sampling.to_dict() if hasattr(sampling, "to_dict") else dict(sampling)
    size = config["input_size"]
    return {
        "arch": arch,
        "arch_kwargs": dict(kwargs),
        "class_names": list(names),
        "normalization": norm.to_dict(),
        "sampling": sampling,
        "input_size": size,
    }


def save_pretrained(
    model_or_checkpoint: nn.Module | Mapping[str, Any] | str | os.PathLike[str],
    save_directory: str | os.PathLike[str],
    *,
    arch: str | None = None,
    arch_kwargs: Mapping[str, Any] | None = None,
    class_names: Sequence[str] | None = None,
    normalization: Normalization | Mapping[str, Any] | None = None,
    sampling: Any = None,
    input_size: int | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (module docstring) into ``save_directory``.

    Args:
        model_or_checkpoint: a model built by [`create_model`][lifting_dfer.create_model], a builder or
            [`from_pretrained`][lifting_dfer.from_pretrained] (they record ``arch`` and ``arch_kwargs``; wrappers of
            ``torch.compile`` and DDP are removed), a checkpoint file written by
            [`save_checkpoint`][lifting_dfer.save_checkpoint] (training's ``best.pt``), or such a checkpoint dict.
        save_directory: the folder (created if missing; files of the same names are replaced).
        arch, arch_kwargs: the registry name and builder arguments, for a model that does not record them.
        class_names: class names in index order; needed unless the checkpoint or model carries them.
        normalization: the input's mean and std; default: the checkpoint's or model's record, else the input the
            model is built for ([`input_normalization`][lifting_dfer.models.input_normalization]: ImageNet's but for
            the authors' form).
        sampling: how the training clips were sampled ([`TrainingSampling`][lifting_dfer.video.TrainingSampling] or
            its dict); default: the checkpoint's or model's record, else none (``predict`` then asks for ``--fps``
            or uses the video's rate).
        input_size: frame side the model expects, when ``arch_kwargs`` has no ``image_size``.

    Returns:
        The folder.

    Raises:
        ValueError: an unknown ``arch``, missing class names or a class count that differs from ``num_classes``,
            builder arguments that are not JSON values.
    """
    import safetensors.torch

    overrides = {
        "arch": arch,
        "arch_kwargs": arch_kwargs,
        "class_names": class_names,
        "normalization": normalization,
        "sampling": sampling,
        "input_size": input_size,
    }
    raw, state = _config_of(model_or_checkpoint, overrides)
    config = {"format": PRETRAINED_FORMAT, **_checked(raw, "save_pretrained")}
    config["versions"] = {"lifting_dfer": str(__version__), "torch": str(torch.__version__)}
    try:
        text = json.dumps(config, indent=2, default=_json_value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_pretrained: the config is not plain JSON ({err}): {config['arch_kwargs']}") from err
    # Own contiguous copies: safetensors refuses views that share storage.
    tensors = {key: value.detach().to("cpu", copy=True).contiguous() for key, value in state.items()}
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(
        folder / WEIGHTS_NAME, lambda tmp: safetensors.torch.save_file(tensors, tmp, metadata={"format": "pt"})
    )
    write_atomically(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    return folder


def _hub_unavailable(repo_id: str, filename: str, revision: str | None, cache_dir: Path, reason: str) -> Exception:
    from huggingface_hub import hf_hub_url

    url = hf_hub_url(repo_id, filename, revision=revision)
    folder = f"models--{repo_id.replace('/', '--')}"
    local = f" (there is no local folder {repo_id} either)" if not Path(repo_id).exists() else ""
    return WeightsUnavailableError(
        f"from_pretrained: cannot download {repo_id} (file {filename}) from {url}: {reason}{local}. Without internet "
        f"access, copy the cache folder {folder} that `hf download {repo_id}` writes on a connected machine into "
        f"{cache_dir}, or put that repository's {CONFIG_NAME} and {WEIGHTS_NAME} into a folder and pass the folder"
    )


def _hub_reason(err: Exception, repo_id: str, filename: str, revision: str | None) -> str:
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, LocalEntryNotFoundError):
        return "the file is not in the local cache and the Hub cannot be reached (offline, HF_HUB_OFFLINE=1 or local_files_only=True)"
    if isinstance(err, GatedRepoError):
        return "the repository is gated: accept its conditions on the Hub and log in (`hf auth login`)"
    if isinstance(err, RepositoryNotFoundError):
        return "the Hub has no such repository (or it is private: log in with `hf auth login`)"
    if isinstance(err, RevisionNotFoundError):
        return f"the repository has no revision {revision!r}"
    if isinstance(err, EntryNotFoundError):
        return (
            f"the repository has no {filename} (save_pretrained and push_to_hub write {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    first = str(err).strip().splitlines()
    return f"{type(err).__name__}: {first[0] if first else ''}".rstrip(": ")


def _hub_files(
    repo_id: str, *, revision: str | None, cache_dir: str | os.PathLike[str] | None, local_files_only: bool, token: Any
) -> tuple[Path, Path]:
    """``config.json`` and ``model.safetensors`` of ``repo_id`` in huggingface_hub's cache (downloaded if missing)."""
    import huggingface_hub
    import huggingface_hub.constants
    from huggingface_hub.utils import EntryNotFoundError

    cache = Path(cache_dir) if cache_dir is not None else Path(huggingface_hub.constants.HF_HUB_CACHE)
    files = []
    for filename in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            found = huggingface_hub.hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=cache,
                local_files_only=local_files_only,
                token=token,
                library_name="lifting_dfer",
                library_version=str(__version__),
            )
        except (OSError, EntryNotFoundError) as err:  # no network, HTTP errors, missing repository or file
            reason = _hub_reason(err, repo_id, filename, revision)
            raise _hub_unavailable(repo_id, filename, revision, cache, reason) from err
        files.append(Path(os.fspath(found)))
    return files[0], files[1]


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a readable JSON file: {err}") from err
    if not isinstance(config, dict) or "format" not in config:
        raise ValueError(f"{path} is not a lifting_dfer config (no 'format' field)")
    if config["format"] != PRETRAINED_FORMAT:
        raise ValueError(f"{path} has format {config['format']!r}; this version reads {PRETRAINED_FORMAT!r}")
    missing = [key for key in ("arch", "arch_kwargs", "class_names") if key not in config]
    if missing:
        raise ValueError(f"{path} lacks the fields {missing}")
    return config


def load_pretrained(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """[`from_pretrained`][lifting_dfer.from_pretrained], also returning the config as a checkpoint-like dict.

    The dict has a checkpoint's fields except ``state_dict`` (``arch``, ``arch_kwargs``, ``class_names``,
    ``normalization``, ``sampling``, ``input_size``), so that code reading checkpoints (``predict``, ``export``)
    reads it too.
    """
    import safetensors
    import safetensors.torch

    from .models import create_model, record_config

    text = os.fspath(name_or_path)
    folder = Path(text)
    if not text.startswith(HUB_PREFIX) and folder.is_dir():
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{folder} has no {path.name}: not a folder written by save_pretrained ({CONFIG_NAME} and "
                    f"{WEIGHTS_NAME})"
                )
    elif not text.startswith(HUB_PREFIX) and folder.exists():
        raise ValueError(
            f"{text} is a file: from_pretrained takes a folder written by save_pretrained or a Hub repository id "
            f"(a checkpoint file loads with lifting_dfer.model_from_checkpoint)"
        )
    else:
        repo_id = text.removeprefix(HUB_PREFIX)
        if _REPO_ID.fullmatch(repo_id) is None:
            raise FileNotFoundError(f"{text}: no such folder, and not a Hub repository id (owner/name)")
        config_path, weights_path = _hub_files(
            repo_id, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
        )
    source = str(config_path.parent)
    config = _read_config(config_path)
    checked = _checked({key: config.get(key) for key in _CONFIG_KEYS}, str(config_path))
    kwargs = {**checked["arch_kwargs"], "pretrained": None}  # every weight comes from model.safetensors
    model = create_model(checked["arch"], **kwargs)
    try:
        state = safetensors.torch.load_file(weights_path, device="cpu")
    except (safetensors.SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file (corrupt or truncated?): {err}") from err
    load_model_state(model, {**checked, "state_dict": state}, source=f"{WEIGHTS_NAME} of {source}")
    record_config(model, dict(checked))
    return model.eval(), {**config, **checked}


def from_pretrained(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> nn.Module:
    """Rebuild a model saved by [`save_pretrained`][lifting_dfer.save_pretrained] or
    [`push_to_hub`][lifting_dfer.push_to_hub]; in eval mode, on the CPU.

    The model's ``lifting_dfer_config`` holds its ``config.json`` fields (``class_names``, ``normalization``,
    ``sampling``, ...).

    Args:
        name_or_path: a local folder, or a Hub repository id ``owner/name`` (``hf-hub:owner/name`` skips the
            folder check).
        revision: branch, tag or commit of the Hub repository (default: ``main``).
        cache_dir: huggingface_hub's cache (default ``$HF_HUB_CACHE``).
        local_files_only: use the cache only, never the network.
        token: a Hub token for private repositories (default: huggingface_hub's login).

    Raises:
        FileNotFoundError: a folder without the two files; [`WeightsUnavailableError`][lifting_dfer.backbones.WeightsUnavailableError]
            (a ``FileNotFoundError``) for a repository that cannot be downloaded (offline and not cached, no such
            repository or file), naming the file, its URL and where to put it.
        ValueError: a malformed config, an unknown model, weights that do not fit the model.
    """
    model, _ = load_pretrained(
        name_or_path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
    )
    return model


def _model_card(repo_id: str, config: Mapping[str, Any]) -> str:
    """A README.md for the Hub: metadata for its search, what the model takes and how to load it."""
    names, kwargs = config["class_names"], config["arch_kwargs"]
    norm = config["normalization"]
    frames = kwargs.get("num_frames", 16)
    size = config.get("input_size") or kwargs.get("image_size") or 224
    sampling = config.get("sampling")
    rate = f", sampled at {sampling['fps']:.2f} frames per second" if sampling and sampling.get("fps") else ""
    return f"""---
library_name: lifting_dfer
pipeline_tag: video-classification
tags:
- lifting_dfer
- ifdd
- facial-expression-recognition
---

# {repo_id.split("/")[-1]}

`{config["arch"]}` from [lifting_dfer](https://pypi.org/project/lifting_dfer/) (IFDD, AAAI 2025), classifying
clips of {frames} face crops of {size}x{size} pixels{rate} into {len(names)} classes: {", ".join(names)}.
Input: RGB scaled to [0, 1], then normalised with mean {norm["mean"]} and std {norm["std"]}.

```python
from lifting_dfer import from_pretrained

model = from_pretrained("{repo_id}")
```

On a video: `lifting-dfer predict video.mp4 --checkpoint {repo_id}`.
"""


def push_to_hub(
    model_or_checkpoint: nn.Module | Mapping[str, Any] | str | os.PathLike[str],
    repo_id: str,
    *,
    commit_message: str = "Upload lifting_dfer model",
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    **save_kwargs: Any,
) -> CommitInfo:
    """Upload a model or checkpoint to the Hub repository ``repo_id`` (created if missing): the two files of
    [`save_pretrained`][lifting_dfer.save_pretrained] and a ``README.md`` model card.

    Args:
        model_or_checkpoint, save_kwargs: as for [`save_pretrained`][lifting_dfer.save_pretrained].
        repo_id: ``owner/name``.
        commit_message, private, token, revision, create_pr: passed to huggingface_hub's ``HfApi``
            (``create_repo``, ``upload_folder``).

    Returns:
        huggingface_hub's ``CommitInfo`` (``commit_url``, ...).
    """
    from huggingface_hub import HfApi

    if _REPO_ID.fullmatch(repo_id) is None:
        raise ValueError(f"repo_id: expected owner/name, got {repo_id!r}")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_pretrained(model_or_checkpoint, tmp, **save_kwargs)
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
        (folder / "README.md").write_text(_model_card(repo_id, config), encoding="utf-8")
        api.create_repo(repo_id, private=private, exist_ok=True)
        result = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=commit_message,
            revision=revision,
            create_pr=create_pr,
        )
    return result
