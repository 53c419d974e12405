"""A model ready to run from a checkpoint file (or a saved-pretrained folder, or a Hub id): the model, the clips it expects, the device it runs on.

[`load_model`][lifting_dfer.loading.load_model] rebuilds the model of a ``lifting_dfer`` checkpoint in eval mode,
[`checkpoint_geometry`][lifting_dfer.loading.checkpoint_geometry] reads the ``(num_frames, input_size)`` of its
clips and [`resolve_device`][lifting_dfer.loading.resolve_device] turns a ``--device`` value into a
``torch.device``. The command line, ``export`` and ``video`` share them::

    model, ckpt = load_model("runs/dfew/fold1/best.pt", device=resolve_device("auto"))
    num_frames, size = checkpoint_geometry(ckpt)   # clips (b, 3, num_frames, size, size)
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from .checkpoint import model_from_checkpoint
from .errors import CommandError
from .pretrained import is_pretrained_source, load_pretrained

__all__ = ["DEFAULT_INPUT_SIZE", "checkpoint_geometry", "load_model", "resolve_device"]

DEFAULT_INPUT_SIZE = 224
"""Side of the square input frames when a checkpoint records none."""
_SIZE_KEYS = ("input_size", "image_size", "img_size")


def resolve_device(name: str) -> torch.device:
    """The device a ``--device`` value names: ``"auto"`` is CUDA when torch sees a GPU, else the CPU.

    Raises:
        CommandError: a name torch does not know, or CUDA on a machine without it.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise CommandError(f"--device: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"--device {name}: CUDA is not available on this machine")
    return device


def load_model(path: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model stored in a ``lifting_dfer`` checkpoint; ``(model, checkpoint dict)``, the model in eval mode.

    A folder written by [`save_pretrained`][lifting_dfer.save_pretrained] or a Hugging Face Hub repository id loads
    through [`load_pretrained`][lifting_dfer.pretrained.load_pretrained], its config in place of the checkpoint dict.

    [`model_from_checkpoint`][lifting_dfer.model_from_checkpoint] raises ``FileNotFoundError`` / ``ValueError`` naming
    the file and the reason (not a checkpoint, weights of another model, unknown model); errors that escape
    ``torch.load`` on arbitrary bytes become a ``ValueError`` here too.
    """
    if is_pretrained_source(path):
        model, config = load_pretrained(path)
        return model.to(device).eval(), config
    path = Path(path)
    try:
        model, ckpt = model_from_checkpoint(path, map_location="cpu")
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as err:  # torch.load's own errors
        raise CommandError(
            f"cannot use checkpoint {path}: not a readable PyTorch file ({type(err).__name__}: {err})"
        ) from err
    return model.to(device).eval(), ckpt


def checkpoint_geometry(ckpt: dict) -> tuple[int, int]:
    """``(num_frames, input_size)`` the checkpoint's model expects (``input_size`` defaults to 224).

    ``num_frames`` comes from ``arch_kwargs`` (builder default 16); the size from the checkpoint's
    ``input_size`` entry, else from ``arch_kwargs`` (``input_size``, ``image_size`` or ``img_size``).

    Raises:
        CommandError: a rectangular input size (the video pipeline crops square faces).

    Examples:
        >>> checkpoint_geometry({"arch_kwargs": {"num_frames": 8, "image_size": 112}})
        (8, 112)
        >>> checkpoint_geometry({"arch_kwargs": {}})
        (16, 224)
    """
    arch_kwargs = ckpt.get("arch_kwargs") or {}
    num_frames = int(arch_kwargs.get("num_frames", 16))
    size = ckpt.get("input_size")
    for key in _SIZE_KEYS:
        size = arch_kwargs.get(key) if size is None else size
    size = DEFAULT_INPUT_SIZE if size is None else size
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise CommandError(f"checkpoint: predict needs a square input size, got {tuple(size)}")
        size = size[0]
    return num_frames, int(size)
