"""uint8 RGB frames to the models' float input (ImageNet mean and std, as the datasets do) and back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["clip_to_frames", "frames_to_clip", "normalize_frames"]


def normalize_frames(
    frames: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
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
    """Inverse of [`frames_to_clip`][lifting_dfer.video.frames_to_clip]: an ImageNet-normalised clip back to uint8 RGB
    frames (for plots).

    Shape:
        - clip: ``(3, t, h, w)`` float -> ``(t, h, w, 3)`` uint8

    Examples:
        >>> frames = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
        >>> bool((clip_to_frames(frames_to_clip(frames)) == frames).all())
        True
    """
    if not isinstance(clip, Tensor) or clip.ndim != 4 or clip.shape[0] != 3:
        raise ValueError(f"clip: expected a tensor of shape (3, t, h, w), got {getattr(clip, 'shape', type(clip))}")
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
    frames = (clip.detach().float().cpu() * std + mean).mul(255).round().clamp(0, 255).to(torch.uint8)
    return frames.permute(1, 2, 3, 0).numpy()
