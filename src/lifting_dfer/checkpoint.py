"""Checkpoints: one self-describing file per model, written atomically, rebuilt through the model registry.

A checkpoint is a ``dict`` saved with ``torch.save``:

| key | value |
|---|---|
| ``format`` | ``"lifting_dfer/1"`` ([`CHECKPOINT_FORMAT`][lifting_dfer.checkpoint.CHECKPOINT_FORMAT]) |
| ``arch`` | registry name, e.g. ``"ifdd_2dcnn"`` (``create_model(arch, **arch_kwargs)`` rebuilds it) |
| ``arch_kwargs`` | builder keyword arguments (``num_classes``, ``num_frames``, ...) |
| ``class_names`` | class names in index order |
| ``state_dict`` | the model's weights (without ``torch.compile``/DDP wrappers' key prefixes) |
| ``versions`` | ``{"lifting_dfer": ..., "torch": ...}`` that wrote it |
| extras | anything passed as keywords: ``epoch``, ``optimizer``, ``config``, ``metrics``, ...; ``normalization`` ([`lifting_dfer.normalization`][lifting_dfer.normalization]: the input's mean and std; ImageNet when absent); training stores ``sampling`` ([`TrainingSampling`][lifting_dfer.video.TrainingSampling]: frames per clip and the frame rate they imply), which ``predict`` windows videos at |

Writes go to a temporary file in the same folder, are flushed to disk and then ``os.replace``-d onto the target,
so a crash or Ctrl-C never leaves a half-written checkpoint behind. Loading uses ``weights_only=True`` (no code
from the file is run).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._version import __version__

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_save",
    "check_checkpoint_matches",
    "load_checkpoint",
    "load_model_state",
    "model_from_checkpoint",
    "save_checkpoint",
    "unwrap_model",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "lifting_dfer/1"
"""The ``format`` field of the checkpoints this version writes and reads."""
_RESERVED = ("format", "arch", "arch_kwargs", "class_names", "state_dict", "versions")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside ``torch.compile`` (``_orig_mod``) and DDP/DataParallel (``module``) wrappers.

    Examples:
        >>> net = nn.Linear(2, 3)
        >>> unwrap_model(torch.nn.DataParallel(net)) is net
        True
    """
    while True:
        if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        elif isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        else:
            return model


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` through a temporary file in the same folder and ``os.replace``.

    The target either keeps its previous content or holds the complete new file, never a partial one.

    Raises:
        OSError: the file could not be written (disk full, file-size limit, ...): one line naming the file, the
            cause and that the target was left as it was (``errno`` is the cause's).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:  # includes KeyboardInterrupt: never leave the temporary file behind
        Path(tmp).unlink(missing_ok=True)
        cause = _os_error(err) if isinstance(err, Exception) else None
        if cause is None:
            raise
        kept = f"the previous {path.name} is unchanged" if path.exists() else "no partial file was left"
        error = OSError(f"cannot write {path}: {cause.strerror or cause} (disk full or a file-size limit?); {kept}")
        error.errno = cause.errno
        raise error from err
    return path


def _os_error(err: BaseException | None) -> OSError | None:
    """The ``OSError`` behind ``err``: itself, or what torch's writer turned into a ``RuntimeError``."""
    while err is not None:
        if isinstance(err, OSError):
            return err
        err = err.__cause__ or err.__context__
    return None


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    arch: str,
    arch_kwargs: Mapping[str, Any],
    class_names: Sequence[str],
    **extra: Any,
) -> Path:
    """Save ``model``'s weights with what is needed to rebuild it (atomically; see the module docstring).

    Args:
        path: target file (folders are created).
        model: the model, possibly wrapped by ``torch.compile`` or DDP (the wrappers are removed).
        arch: registry name passed to ``create_model``.
        arch_kwargs: builder keyword arguments; plain Python values (numbers, strings, lists, dicts, None).
        class_names: class names in index order; their number must equal ``arch_kwargs["num_classes"]`` if given.
        **extra: stored as top-level keys (``epoch=3``, ``optimizer=opt.state_dict()``, ...); plain values and
            tensors only, so that ``weights_only`` loading accepts them.

    Returns:
        ``path`` as a ``Path``.

    Examples:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = save_checkpoint(pathlib.Path(d) / "m.pt", nn.Linear(4, 2), arch="linear",
        ...                         arch_kwargs={"num_classes": 2}, class_names=["a", "b"], epoch=3)
        ...     ckpt = load_checkpoint(p)
        >>> ckpt["format"], ckpt["arch"], ckpt["epoch"], sorted(ckpt["state_dict"])
        ('lifting_dfer/1', 'linear', 3, ['bias', 'weight'])
    """
    if not isinstance(arch, str) or not arch:
        raise ValueError(f"arch: expected a model name, got {arch!r}")
    if not isinstance(arch_kwargs, Mapping):
        raise TypeError(f"arch_kwargs: expected a mapping of builder arguments, got {type(arch_kwargs).__name__}")
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise TypeError(f"class_names: expected a sequence of strings, got {class_names!r}")
    num_classes = arch_kwargs.get("num_classes")
    if num_classes is not None and num_classes != len(class_names):
        raise ValueError(f"class_names: expected {num_classes} names (arch_kwargs num_classes), got {len(class_names)}")
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"extra keys {clash} are reserved checkpoint fields; rename them")
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch,
        "arch_kwargs": dict(arch_kwargs),
        "class_names": list(class_names),
        "state_dict": unwrap_model(model).state_dict(),
        "versions": {"lifting_dfer": str(__version__), "torch": str(torch.__version__)},
        **extra,
    }
    return atomic_save(ckpt, path)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", *, weights_only: bool = True) -> dict:
    """Read a checkpoint written by [`save_checkpoint`][lifting_dfer.save_checkpoint] and validate its fields.

    Args:
        path: the checkpoint file.
        map_location: passed to ``torch.load`` (default: tensors on the CPU).
        weights_only: refuse pickled code (torch's safe loader); set False only for files you trust.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is truncated/corrupt, is not a lifting_dfer checkpoint, or has another format version.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"checkpoint {path} {what}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as err:
        if weights_only:
            raise ValueError(_refusal(path, err)) from err
        raise ValueError(f"checkpoint {path} is not a readable PyTorch file (corrupt or truncated?): {err}") from err
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError) as err:
        raise ValueError(f"checkpoint {path} is not a readable PyTorch file (corrupt or truncated?): {err}") from err
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path} is not a lifting_dfer checkpoint (no 'format' field; found {keys}). A bare state_dict can be "
            f"loaded with model.load_state_dict(torch.load(path))"
        )
    if ckpt["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} has format {ckpt['format']!r}; this version reads {CHECKPOINT_FORMAT!r}")
    missing = [k for k in _RESERVED if k not in ckpt and k != "versions"]
    if missing:
        raise ValueError(f"checkpoint {path} lacks the fields {missing}")
    return ckpt


def _refusal(path: Path, err: pickle.UnpicklingError) -> str:
    """Why torch's weights-only unpickler refused ``path``, without torch's advice to load it unsafely."""
    text = str(err)
    code = re.search(r"GLOBAL ([\w.]+)", text)
    if code:
        return (
            f"checkpoint {path} contains code and was refused: its pickle references {code.group(1)}, which loading "
            f"would import and run. lifting_dfer checkpoints hold only tensors and plain values; nothing from this "
            f"file was run"
        )
    found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    detail = found.group(1).strip() if found else "unsupported pickle content"
    return f"checkpoint {path} is not a readable PyTorch file (corrupt or truncated?): {detail}"


def check_checkpoint_matches(
    ckpt: Mapping[str, Any],
    *,
    arch: str | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    source: str = "checkpoint",
) -> None:
    """Raise ``ValueError`` when ``ckpt`` was written for another model, class count or class order.

    Examples:
        >>> ckpt = {"arch": "ifdd_2dcnn", "arch_kwargs": {"num_classes": 7}, "class_names": list("abcdefg")}
        >>> check_checkpoint_matches(ckpt, arch="ifdd_2dcnn", num_classes=7)
        >>> check_checkpoint_matches(ckpt, num_classes=11)
        Traceback (most recent call last):
        ...
        ValueError: checkpoint has 7 classes (a, b, c, d, e, f, g), expected 11
    """
    if arch is not None and ckpt["arch"] != arch:
        raise ValueError(f"{source} holds model {ckpt['arch']!r}, expected {arch!r}")
    names = list(ckpt.get("class_names", []))
    k = ckpt.get("arch_kwargs", {}).get("num_classes", len(names))
    if num_classes is not None and k != num_classes:
        raise ValueError(f"{source} has {k} classes ({', '.join(names)}), expected {num_classes}")
    if class_names is not None and names != list(class_names):
        raise ValueError(f"{source} has classes {names}, expected {list(class_names)} (same order)")


def load_model_state(model: nn.Module, ckpt: Mapping[str, Any], *, source: str = "checkpoint") -> nn.Module:
    """Load ``ckpt["state_dict"]`` into ``model`` (unwrapped), strictly, with an error listing what differs.

    Raises:
        ValueError: missing or unexpected keys, or tensors of another shape.
    """
    target = unwrap_model(model)
    state = ckpt["state_dict"]
    own = target.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or reshaped:

        def head(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        parts = [
            f"{name}: {head(items)}"
            for name, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", reshaped))
            if items
        ]
        arch = ckpt.get("arch", "?")
        raise ValueError(
            f"{source} (model {arch!r}, {ckpt.get('arch_kwargs', {})}) does not fit {type(target).__name__}: "
            + "; ".join(parts)
        )
    target.load_state_dict(state)
    return model


def model_from_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", *, weights_only: bool = True
) -> tuple[nn.Module, dict]:
    """Rebuild the model with ``create_model(arch, **arch_kwargs)``, load its weights, return ``(model, ckpt)``.

    The model is returned in eval mode on ``map_location`` (when it names a device). ``pretrained`` in
    ``arch_kwargs`` is ignored (the checkpoint holds all weights), so the backbone file need not exist.

    Raises:
        FileNotFoundError, ValueError: see [`load_checkpoint`][lifting_dfer.load_checkpoint] and
            [`load_model_state`][lifting_dfer.checkpoint.load_model_state]; ``ValueError`` also for an ``arch`` the
            registry does not know.
    """
    from .models import create_model, list_models

    ckpt = load_checkpoint(path, map_location, weights_only=weights_only)
    kwargs = dict(ckpt["arch_kwargs"])
    if "pretrained" in kwargs:
        kwargs["pretrained"] = None
    if ckpt["arch"] not in list_models():
        raise ValueError(f"checkpoint {path} holds model {ckpt['arch']!r}; known models: {', '.join(list_models())}")
    model = create_model(ckpt["arch"], **kwargs)
    load_model_state(model, ckpt, source=f"checkpoint {path}")
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    return model.eval(), ckpt
