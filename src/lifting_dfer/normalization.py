"""Input normalisation of a model: ``clip = (rgb / 255 - mean) / std`` per RGB channel, recorded with its weights.

The paper-form models take ImageNet-normalised clips ([`IMAGENET`][lifting_dfer.normalization.IMAGENET]); the
authors' released code feeds RGB in ``[0, 1]`` ([`UNIT`][lifting_dfer.normalization.UNIT]). A checkpoint records
which one its model was trained with under the key ``"normalization"`` (``{"mean": [r, g, b], "std": [r, g, b]}``);
[`checkpoint_normalization`][lifting_dfer.normalization.checkpoint_normalization] reads it back, and a checkpoint
written before the key existed means ImageNet.

[`normalize_frames`][lifting_dfer.normalization.normalize_frames] and
[`frames_to_clip`][lifting_dfer.normalization.frames_to_clip] apply it to uint8 RGB frames (video inference);
[`clip_to_frames`][lifting_dfer.normalization.clip_to_frames] undoes it (plots).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "IMAGENET",
    "UNIT",
    "Normalization",
    "checkpoint_normalization",
    "clip_to_frames",
    "frames_to_clip",
    "normalize_frames",
]


class Normalization(NamedTuple):
    """Per-channel ``mean`` and ``std`` (R, G, B) of RGB values scaled to ``[0, 1]``.

    Examples:
        >>> Normalization.from_dict({"mean": [0, 0, 0], "std": [1, 1, 1]}) == UNIT
        True
        >>> IMAGENET.to_dict()["std"]
        [0.229, 0.224, 0.225]
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, name: str = "normalization") -> Normalization:
        """From ``{"mean": [r, g, b], "std": [r, g, b]}``; ``ValueError`` naming ``name`` if it is malformed."""
        if not isinstance(values, Mapping) or set(values) < {"mean", "std"}:
            raise ValueError(f"{name}: expected a mapping with 'mean' and 'std', got {values!r}")
        mean, std = _three(values["mean"], f"{name}.mean"), _three(values["std"], f"{name}.std")
        if min(std) <= 0:
            raise ValueError(f"{name}.std: expected 3 values > 0, got {list(std)}")
        return cls(mean, std)

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [r, g, b], "std": [r, g, b]}``: what checkpoints, ``config.json`` and export sidecars store."""
        return {"mean": list(self.mean), "std": list(self.std)}


def _three(values: Any, name: str) -> tuple[float, float, float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != 3:
        raise ValueError(f"{name}: expected 3 numbers (R, G, B), got {values!r}")
    r, g, b = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (r, g, b)):
        raise ValueError(f"{name}: expected finite numbers, got {[r, g, b]}")
    return r, g, b


IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""ImageNet mean and std: what the pretrained backbones, and so the paper-form models, expect."""
UNIT = Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
"""RGB in ``[0, 1]`` with no mean or std: the input of the authors' released code."""


def checkpoint_normalization(ckpt: Mapping[str, Any]) -> Normalization:
    """The normalisation recorded in a checkpoint dict (its ``"normalization"`` entry), ImageNet if it has none.

    Examples:
        >>> checkpoint_normalization({}) == IMAGENET
        True
        >>> checkpoint_normalization({"normalization": UNIT.to_dict()}) == UNIT
        True
    """
    values = ckpt.get("normalization")
    return IMAGENET if values is None else Normalization.from_dict(values, name="checkpoint normalization")


def normalize_frames(
    frames: np.ndarray, mean: Sequence[float] = IMAGENET.mean, std: Sequence[float] = IMAGENET.std
) -> Tensor:
    """uint8 RGB frames to normalised float frames, channels first: ``(x / 255 - mean) / std``.

    Shape:
        - frames: ``(n, h, w, 3)`` uint8 -> ``(n, 3, h, w)`` float32

    Examples:
        >>> normalize_frames(np.zeros((4, 8, 8, 3), np.uint8)).shape
        torch.Size([4, 3, 8, 8])
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (n, h, w, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames: expected uint8 RGB in [0, 255], got {frames.dtype}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean, std: expected one value per RGB channel, got {len(mean)} and {len(std)}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def frames_to_clip(frames: np.ndarray) -> Tensor:
    """uint8 RGB frames to a float clip normalised with the ImageNet mean and std (as the datasets do).

    Shape:
        - frames: ``(t, h, w, 3)`` uint8 -> ``(3, t, h, w)`` float32

    Examples:
        >>> frames_to_clip(np.zeros((4, 8, 8, 3), np.uint8)).shape
        torch.Size([3, 4, 8, 8])
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (t, h, w, 3), got {frames.shape}")
    return normalize_frames(frames).permute(1, 0, 2, 3)


def clip_to_frames(clip: Tensor) -> np.ndarray:
    """Inverse of [`frames_to_clip`][lifting_dfer.normalization.frames_to_clip]: an ImageNet-normalised clip back to
    uint8 RGB frames (for plots).

    Shape:
        - clip: ``(3, t, h, w)`` float -> ``(t, h, w, 3)`` uint8

    Examples:
        >>> frames = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
        >>> bool((clip_to_frames(frames_to_clip(frames)) == frames).all())
        True
    """
    if not isinstance(clip, Tensor) or clip.ndim != 4 or clip.shape[0] != 3:
        raise ValueError(f"clip: expected a tensor of shape (3, t, h, w), got {getattr(clip, 'shape', type(clip))}")
    mean = torch.tensor(IMAGENET.mean).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET.std).view(3, 1, 1, 1)
    frames = (clip.detach().float().cpu() * std + mean).mul(255).round().clamp(0, 255).to(torch.uint8)
    return frames.permute(1, 2, 3, 0).numpy()
