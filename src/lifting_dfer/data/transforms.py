"""Clip-consistent augmentation: one crop box and one flip decision for every frame of a clip.

Pipeline (``ClipTransform``), on decoded ``uint8`` frames ``(t, 3, h, w)``:

- train: a random square crop whose side is a fraction ``U(crop_scale)`` of the shorter frame side, at a
  uniformly random position; a horizontal flip with probability ``flip_p``. Both drawn once per clip.
- test: the centred square crop of side ``min(h, w)`` (the whole frame for square face crops).

then one bilinear, antialiased ``F.interpolate`` call to ``size x size`` for the whole clip, in ``uint8``, and
``rearrange(x, "t c h w -> c t h w")``. ``output="float"`` then scales to ``[0, 1]`` and normalises (ImageNet
mean and std by default); ``output="uint8"`` stops before: the clip stays ``uint8`` and
[`ClipNormalize`][lifting_dfer.data.ClipNormalize] normalises whole batches on the device, with the same values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from ..normalization import IMAGENET

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ClipTransform", "CropDraw", "crop_box", "random_crop_box", "resize_clip"]

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
    return crop_box(height, width, CropDraw(lo + (hi - lo) * u[0], u[1], u[2]))


class CropDraw(NamedTuple):
    """The random part of a training crop, independent of the frame size: the side as a fraction of the shorter
    frame side, and the top and left positions as fractions in ``[0, 1)`` of the free range."""

    fraction: float
    top: float
    left: float


def crop_box(height: int, width: int, draw: CropDraw | None = None) -> tuple[int, int, int]:
    """The square crop ``(top, left, side)`` of a ``height x width`` frame that ``draw`` selects; without a draw,
    the centred square of side ``min(height, width)``.

    Examples:
        >>> crop_box(10, 20, CropDraw(0.5, 0.0, 0.99)), crop_box(10, 20)
        ((0, 15, 5), (0, 5, 10))
    """
    short = min(height, width)
    if draw is None:
        return (height - short) // 2, (width - short) // 2, short
    side = max(1, min(short, round(draw.fraction * short)))
    top = int(draw.top * (height - side + 1))
    left = int(draw.left * (width - side + 1))
    return top, left, side


def resize_clip(frames: Tensor, size: int) -> Tensor:
    """Resize every frame of a clip with one antialiased bilinear ``F.interpolate`` call.

    uint8 clips are resized in uint8 (torch's vectorised path, 2-3x faster than float; values round to the
    nearest integer), float clips in float.

    Shape:
        ``frames: (t, c, h, w)`` uint8 or float -> ``(t, c, size, size)`` float32 (same value range).
    """
    if frames.dtype == torch.uint8:
        return _resize_uint8_clip(frames, size).float()
    if frames.shape[-2:] == (size, size):
        return frames.float()
    out = F.interpolate(frames.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.float()


def _frame_list(frames: Tensor | Sequence[Tensor]) -> Sequence[Tensor]:
    """``frames`` as a sequence of ``(3, h, w)`` frames, checked."""
    if isinstance(frames, Tensor):
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames: expected shape 't c h w' with c=3, got {tuple(frames.shape)}")
        return frames.unbind(0)
    if not isinstance(frames, Sequence) or not frames or not all(isinstance(f, Tensor) for f in frames):
        got = type(frames).__name__
        raise ValueError(
            f"frames: expected shape 't c h w' with c=3 (a tensor, or a list of 'c h w' frames), got {got}"
        )
    shape = frames[0].shape
    if len(shape) != 3 or shape[0] != 3 or any(f.shape != shape or f.dtype != frames[0].dtype for f in frames):
        shapes = sorted({(tuple(f.shape), str(f.dtype)) for f in frames})
        raise ValueError(f"frames: expected a list of 'c h w' frames with c=3, of one shape and dtype, got {shapes}")
    return frames


def _crop_clip(frames: Sequence[Tensor], top: int, left: int, side: int, *, flip: bool) -> Tensor:
    """The ``side x side`` crop at ``(top, left)`` of every ``(c, h, w)`` frame, mirrored left-right when
    ``flip``, copied once into a ``(t, c, side, side)`` ``channels_last`` clip (pixel by pixel in memory, the
    resize's layout). Flipping commutes with the (symmetric) resize that follows, and is cheaper on the crop.

    uint8 frames are flipped with OpenCV when it is installed (``cv2.flip`` copies the mirrored crop in one
    pass, 2-3x faster than ``Tensor.flip`` on 3-byte pixels); the bytes are the same either way.
    """
    if frames[0].dtype != torch.uint8 or frames[0].device.type != "cpu":
        crop = torch.stack([f[:, top : top + side, left : left + side] for f in frames])
        return (crop.flip(-1) if flip else crop).contiguous(memory_format=torch.channels_last)
    # numpy views: a tenth of the cost of torch views, at 16 frames per clip
    crops = [f.numpy().transpose(1, 2, 0)[top : top + side, left : left + side] for f in frames]
    out = np.empty((len(crops), *crops[0].shape), dtype=np.uint8)
    cv2 = _opencv() if flip else None
    if cv2 is None:
        np.stack(crops, out=out)
        clip = torch.from_numpy(out)
        return (clip.flip(2) if flip else clip).permute(0, 3, 1, 2)
    for src, dst in zip(crops, out):
        cv2.flip(src, 1, dst=dst)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


@functools.cache
def _opencv() -> Any:
    """The ``cv2`` module, or ``None`` where OpenCV is not installed (it is optional: the ``video`` extra)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _resize_uint8_clip(frames: Tensor, size: int) -> Tensor:
    """``resize_clip`` in uint8, ``channels_last`` (pixel by pixel in memory): torch's fast uint8 path reads and
    writes that layout, and a crop of ``channels_last`` frames becomes one by copying whole rows."""
    frames = frames.contiguous(memory_format=torch.channels_last)  # no copy for the frames of read_clip
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class ClipTransform:
    """uint8 frames -> a clip of ``size x size`` frames, with the same random crop and flip for all frames.

    Shape:
        ``frames: (t, 3, h, w)`` uint8 -> ``(3, t, size, size)``: float32 normalised (``output="float"``), or
        uint8 with the same crop, flip and resize (``output="uint8"``; [`ClipNormalize`][lifting_dfer.data.ClipNormalize]
        turns it into the float clip, on whichever device).

    Args:
        size: output side.
        train: random crop + flip (train) or centred crop (test).
        crop_scale: range of the crop side as a fraction of the shorter frame side (train only).
        flip_p: probability of a horizontal flip (train only).
        mean, std: per-channel normalisation of ``[0, 1]`` pixel values (``output="float"`` only).
        output: ``"float"`` (normalised here) or ``"uint8"`` (no float work: normalise later, on the device).

    A ``uint8`` clip is returned in the memory order of the resize (``(t, size, size, 3)``, ``channels_last``)
    rather than copied into ``(3, t, size, size)`` order: [`collate_clips`][lifting_dfer.data.collate_clips]
    batches it without that copy, and [`ClipNormalize`][lifting_dfer.data.ClipNormalize] writes its output
    contiguous.

    Examples:
        >>> frames = torch.zeros(4, 3, 8, 10, dtype=torch.uint8)
        >>> ClipTransform(6)(frames).shape
        torch.Size([3, 4, 6, 6])
        >>> ClipTransform(6, output="uint8")(frames).dtype
        torch.uint8
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
        output: Literal["float", "uint8"] = "float",
    ) -> None:
        if size < 1:
            raise ValueError(f"size: expected a positive output side, got {size}")
        if not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"flip_p: expected a probability in [0, 1], got {flip_p}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean, std: expected 3 values each with std > 0, got {mean}, {std}")
        if output not in ("float", "uint8"):
            raise ValueError(f"output: expected 'float' or 'uint8', got {output!r}")
        random_crop_box(1, 1, scale=crop_scale, generator=torch.Generator())  # validates crop_scale
        self.size = size
        self.train = train
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.flip_p = flip_p
        self.output = output
        # Normalise uint8 values directly: (x / 255 - mean) / std == (x - 255 mean) / (255 std).
        self._shift = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self._scale = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1) * 255.0

    def draw(self, generator: torch.Generator | None = None) -> tuple[CropDraw | None, bool]:
        """The crop and the flip of one clip: in training, two draws from ``generator`` (in this order); else
        ``(None, False)``, the centred crop (see [`crop_box`][lifting_dfer.data.crop_box])."""
        if not self.train:
            return None, False
        lo, hi = self.crop_scale
        u = torch.rand((3,), generator=generator, dtype=torch.float64).tolist()
        flip = torch.rand((), generator=generator).item() < self.flip_p
        return CropDraw(lo + (hi - lo) * u[0], u[1], u[2]), flip

    def __call__(self, frames: Tensor | Sequence[Tensor], generator: torch.Generator | None = None) -> Tensor:
        frames = _frame_list(frames)
        draw, flip = self.draw(generator)
        top, left, side = crop_box(frames[0].shape[-2], frames[0].shape[-1], draw)
        crop = _crop_clip(frames, top, left, side, flip=flip)
        x = rearrange(_resize_uint8_clip(crop, self.size), "t c h w -> c t h w")
        if self.output == "uint8":
            return x
        # to float and to (c, t, h, w) order in one copy, then contiguous in-place arithmetic (mixed-dtype strided
        # arithmetic is 2-3x slower on the CPU); the same values as (x.float() - shift) / scale
        return torch.empty(x.shape, dtype=torch.float32).copy_(x).sub_(self._shift).div_(self._scale)

    def __repr__(self) -> str:
        extra = f", crop_scale={self.crop_scale}, flip_p={self.flip_p}" if self.train else ""
        output = ", output='uint8'" if self.output == "uint8" else ""
        return f"{type(self).__name__}(size={self.size}, train={self.train}{extra}{output})"
