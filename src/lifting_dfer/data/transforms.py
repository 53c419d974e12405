"""Clip-consistent augmentation: one crop box and one flip decision for every frame of a clip.

Pipeline (``ClipTransform``), on decoded ``uint8`` frames ``(t, 3, h, w)``:

- train: a random square crop whose side is a fraction ``U(crop_scale)`` of the shorter frame side, at a
  uniformly random position; a horizontal flip with probability ``flip_p``. Both drawn once per clip.
- test: the centred square crop of side ``min(h, w)`` (the whole frame for square face crops).

then one bilinear, antialiased ``F.interpolate`` call to ``size x size`` for the whole clip, scaling to
``[0, 1]``, ImageNet normalisation and ``rearrange(x, "t c h w -> c t h w")``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from ..normalization import IMAGENET

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ClipTransform", "random_crop_box", "resize_clip"]

IMAGENET_MEAN = IMAGENET.mean
"""Per-channel (RGB) mean subtracted from frames scaled to ``[0, 1]``, as the pretrained backbones expect."""
IMAGENET_STD = IMAGENET.std
"""Per-channel (RGB) standard deviation the frames are divided by after subtracting ``IMAGENET_MEAN``."""


def random_crop_box(
    height: int,
    width: int,
    *,
    scale: tuple[float, float] = (0.8, 1.0),
    generator: torch.Generator | None = None,
) -> tuple[int, int, int]:
    """Draw a square crop ``(top, left, side)`` with ``side = round(U(scale) * min(height, width))``.

    Examples:
        >>> random_crop_box(10, 20, scale=(1.0, 1.0))[2]
        10
    """
    lo, hi = scale
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"scale: expected 0 < low <= high <= 1, got {scale}")
    u = torch.rand((3,), generator=generator, dtype=torch.float64).tolist()
    short = min(height, width)
    side = max(1, min(short, round((lo + (hi - lo) * u[0]) * short)))
    top = int(u[1] * (height - side + 1))
    left = int(u[2] * (width - side + 1))
    return top, left, side


def resize_clip(frames: Tensor, size: int) -> Tensor:
    """Resize every frame of a clip with one antialiased bilinear ``F.interpolate`` call.

    uint8 clips are resized in uint8 (torch's vectorised path, 2-3x faster than float; values round to the
    nearest integer), float clips in float.

    Shape:
        ``frames: (t, c, h, w)`` uint8 or float -> ``(t, c, size, size)`` float32 (same value range).
    """
    if frames.shape[-2:] == (size, size):
        return frames.float()
    frames = frames.contiguous(memory_format=torch.channels_last) if frames.dtype == torch.uint8 else frames.float()
    out = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.float()  # may be channels_last: callers that need a layout copy once, fused with their next op


class ClipTransform:
    """uint8 frames -> normalised float clip, with the same random crop and flip for all frames.

    Shape:
        ``frames: (t, 3, h, w)`` uint8 -> ``(3, t, size, size)`` float32, ImageNet-normalised.

    Args:
        size: output side.
        train: random crop + flip (train) or centred crop (test).
        crop_scale: range of the crop side as a fraction of the shorter frame side (train only).
        flip_p: probability of a horizontal flip (train only).
        mean, std: per-channel normalisation of ``[0, 1]`` pixel values.

    Examples:
        >>> frames = torch.zeros(4, 3, 8, 10, dtype=torch.uint8)
        >>> ClipTransform(6)(frames).shape
        torch.Size([3, 4, 6, 6])
    """

    def __init__(
        self,
        size: int = 224,
        *,
        train: bool = False,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        flip_p: float = 0.5,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        if size < 1:
            raise ValueError(f"size: expected a positive output side, got {size}")
        if not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"flip_p: expected a probability in [0, 1], got {flip_p}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean, std: expected 3 values each with std > 0, got {mean}, {std}")
        random_crop_box(1, 1, scale=crop_scale, generator=torch.Generator())  # validates crop_scale
        self.size = size
        self.train = train
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.flip_p = flip_p
        # Normalise uint8 values directly: (x / 255 - mean) / std == (x - 255 mean) / (255 std).
        self._shift = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self._scale = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1) * 255.0

    def __call__(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
            got = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
            raise ValueError(f"frames: expected shape 't c h w' with c=3, got {got}")
        h, w = frames.shape[-2:]
        flip = False
        if self.train:
            top, left, side = random_crop_box(h, w, scale=self.crop_scale, generator=generator)
            flip = torch.rand((), generator=generator).item() < self.flip_p
        else:
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
        crop = frames[:, :, top : top + side, left : left + side]
        if flip:
            crop = crop.flip(-1)  # flipping commutes with the (symmetric) resize; cheaper on the small uint8 crop
        x = rearrange(resize_clip(crop, self.size), "t c h w -> c t h w")
        out = torch.empty(x.shape, dtype=torch.float32)
        torch.sub(x, self._shift, out=out)  # one pass: layout change and normalisation together
        return out.div_(self._scale)

    def __repr__(self) -> str:
        extra = f", crop_scale={self.crop_scale}, flip_p={self.flip_p}" if self.train else ""
        return f"{type(self).__name__}(size={self.size}, train={self.train}{extra})"
