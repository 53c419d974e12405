"""The device side of the data pipeline: batches of ``uint8`` clips (or of undecoded JPEG frames) from the
DataLoader workers become the model's normalised float input after ``.to(device)``.

Where the work happens, by the datasets' ``output`` (see [`ClipDataset`][lifting_dfer.data.ClipDataset]):

| ``output`` | workers (CPU) | device |
|---|---|---|
| ``"float"`` | decode, crop, flip, resize, to float, normalise | nothing |
| ``"uint8"`` | decode, crop, flip, resize | [`ClipNormalize`][lifting_dfer.data.ClipNormalize] |
| ``"jpeg"`` | read the files, draw the crop and flip | [`JpegClips.decode`][lifting_dfer.data.JpegClips.decode] (batched ``decode_jpeg``, crop, flip, resize), then ``ClipNormalize`` |

A ``uint8`` clip is a quarter of the bytes of a float one through the workers' shared memory, the pinned buffer
and the host-to-device copy, and the float arithmetic on full frames (the costliest part of the float path after
decoding) runs on the device. [`collate_clips`][lifting_dfer.data.collate_clips] batches either kind of item.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.data import default_collate

from ..normalization import IMAGENET, Normalization
from .transforms import CropDraw, crop_box

__all__ = ["ClipNormalize", "JpegClip", "JpegClips", "collate_clips"]


class ClipNormalize(nn.Module):
    """Pixel values in ``[0, 255]`` (uint8 clips, or decoded float ones) -> the model's input
    ``(x / 255 - mean) / std``, per RGB channel.

    The same arithmetic as [`ClipTransform`][lifting_dfer.data.ClipTransform]'s float output, so a ``uint8``
    clip normalised here equals the float clip of the same item (bit for bit on the CPU). The output is a new
    contiguous float32 tensor whatever the input's memory layout.

    Shape:
        ``clips: (b, 3, t, h, w)`` or ``(3, t, h, w)`` -> the same shape, float32.

    Args:
        normalization: the model's [`Normalization`][lifting_dfer.normalization.Normalization] (a checkpoint's
            is [`checkpoint_normalization`][lifting_dfer.normalization.checkpoint_normalization]).

    Examples:
        >>> clips = torch.full((2, 3, 4, 8, 8), 255, dtype=torch.uint8)
        >>> ClipNormalize()(clips)[0, :, 0, 0, 0]
        tensor([2.2489, 2.4286, 2.6400])
    """

    shift: Tensor  # buffers: 255 * mean and 255 * std, (3, 1, 1, 1)
    scale: Tensor

    def __init__(self, normalization: Normalization = IMAGENET) -> None:
        super().__init__()
        self.normalization = Normalization(*normalization)
        # (x / 255 - mean) / std == (x - 255 mean) / (255 std), as ClipTransform computes it
        shift = torch.tensor(self.normalization.mean, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        scale = torch.tensor(self.normalization.std, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self.register_buffer("shift", shift, persistent=False)
        self.register_buffer("scale", scale, persistent=False)

    def forward(self, clips: Tensor) -> Tensor:
        if not isinstance(clips, Tensor) or clips.ndim not in (4, 5) or clips.shape[-4] != 3:
            got = tuple(clips.shape) if isinstance(clips, Tensor) else type(clips).__name__
            raise ValueError(f"clips: expected shape 'b c t h w' or 'c t h w' with c=3, got {got}")
        if clips.is_complex() or clips.dtype == torch.bool:
            raise TypeError(f"clips: expected pixel values (uint8 or float), got {clips.dtype}")
        out = torch.empty(clips.shape, dtype=torch.float32, device=clips.device)
        return out.copy_(clips).sub_(self.shift).div_(self.scale)  # as ClipTransform computes it

    def extra_repr(self) -> str:
        return f"mean={self.normalization.mean}, std={self.normalization.std}"


class JpegClip(NamedTuple):
    """One clip as its undecoded JPEG frames and the augmentation drawn for it (a dataset item with
    ``output="jpeg"``); [`collate_clips`][lifting_dfer.data.collate_clips] batches them into
    [`JpegClips`][lifting_dfer.data.JpegClips].

    Fields: ``data`` the frames' files concatenated (1-D uint8), ``lengths`` the byte count of each frame
    ``(t,)``, ``draw`` the [`CropDraw`][lifting_dfer.data.CropDraw] as a float64 ``(3,)`` tensor (NaN: the
    centred crop), ``flip`` whether to flip horizontally, ``size`` the output side.
    """

    data: Tensor
    lengths: Tensor
    draw: Tensor
    flip: bool
    size: int

    @classmethod
    def build(cls, frames: Sequence[Tensor], draw: CropDraw | None, flip: bool, size: int) -> JpegClip:
        """From the frames' bytes (one 1-D uint8 tensor each), the crop draw and the flip."""
        lengths = torch.tensor([f.numel() for f in frames], dtype=torch.int64)
        values = (math.nan,) * 3 if draw is None else tuple(draw)
        return cls(torch.cat(list(frames)), lengths, torch.tensor(values, dtype=torch.float64), bool(flip), size)


class JpegClips(NamedTuple):
    """A batch of [`JpegClip`][lifting_dfer.data.JpegClip]s: ``data`` every frame's bytes, ``lengths``
    ``(b, t)``, ``draws`` ``(b, 3)``, ``flips`` ``(b,)`` bool, ``size``."""

    data: Tensor
    lengths: Tensor
    draws: Tensor
    flips: Tensor
    size: int

    def decode(self, device: torch.device | str = "cpu") -> Tensor:
        """Decode every frame with one batched ``torchvision.io.decode_jpeg(..., device=device)`` call (nvJPEG on
        CUDA), then crop, flip and resize each clip there as the workers would.

        The resize runs in float (CUDA has no uint8 antialiased resize), so the values differ from the ``uint8``
        path by the workers' rounding: at most one grey level on the CPU; on CUDA, nvJPEG's decoding differs
        from libjpeg-turbo's by a few levels more.

        Shape:
            returns ``(b, 3, t, size, size)`` float32 pixel values in ``[0, 255]`` on ``device``, for
            [`ClipNormalize`][lifting_dfer.data.ClipNormalize].
        """
        from torchvision.io import ImageReadMode, decode_jpeg

        b, t = self.lengths.shape
        files = list(torch.split(self.data, self.lengths.flatten().tolist()))
        images = decode_jpeg(files, mode=ImageReadMode.RGB, device=device)
        clips = []
        for i in range(b):
            frames = images[i * t : (i + 1) * t]
            h, w = frames[0].shape[-2:]
            x = torch.stack([f if f.shape[-2:] == (h, w) else _resize(f[None], h, w)[0].round().byte() for f in frames])
            draw = self.draws[i].tolist()
            top, left, side = crop_box(h, w, None if math.isnan(draw[0]) else CropDraw(*draw))
            crop = x[:, :, top : top + side, left : left + side]
            if bool(self.flips[i]):
                crop = crop.flip(-1)
            clips.append(_resize(crop, self.size, self.size))
        return rearrange(torch.stack(clips), "b t c h w -> b c t h w")

    @classmethod
    def collate(cls, clips: Sequence[JpegClip]) -> JpegClips:
        sizes = {c.size for c in clips}
        frames = {c.lengths.numel() for c in clips}
        if len(sizes) != 1 or len(frames) != 1:
            raise ValueError(f"JPEG clips: expected one size and frame count per batch, got {sizes} and {frames}")
        return cls(
            torch.cat([c.data for c in clips]),
            torch.stack([c.lengths for c in clips]),
            torch.stack([c.draw for c in clips]),
            torch.tensor([c.flip for c in clips]),
            sizes.pop(),
        )


def _resize(frames: Tensor, h: int, w: int) -> Tensor:
    """uint8 ``(t, 3, h0, w0)`` -> float ``(t, 3, h, w)`` in ``[0, 255]``, antialiased bilinear."""
    x = frames.float()
    if x.shape[-2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp_(0, 255)


def _memory_order(x: Tensor) -> list[int] | None:
    """The permutation of ``x``'s dimensions that is contiguous in memory (outermost first), or None."""
    strides = x.stride()
    order = sorted(range(x.ndim), key=lambda d: -strides[d])
    return order if x.permute(order).is_contiguous() else None


def collate_clips(batch: Sequence[Sequence[Any]]) -> list[Any]:
    """DataLoader ``collate_fn`` for ``(clip, label, ...)`` items that keeps each clip's memory layout.

    Tensor clips are stacked in their memory order (one contiguous copy per clip, into shared memory in a
    worker) and the batch is a view of shape ``(b, *clip.shape)``: a ``uint8`` clip of
    [`ClipTransform`][lifting_dfer.data.ClipTransform] (``(t, h, w, c)`` in memory) gives a
    ``channels_last_3d`` batch without the transposing copy that ``default_collate`` makes; pinning and
    ``.to(device)`` keep the layout. [`JpegClip`][lifting_dfer.data.JpegClip]s become a
    [`JpegClips`][lifting_dfer.data.JpegClips]. The other fields go through ``default_collate``.

    Examples:
        >>> clip = torch.zeros(4, 6, 6, 3, dtype=torch.uint8).permute(3, 0, 1, 2)  # (3, t, h, w) view
        >>> clips, labels = collate_clips([(clip, 0), (clip, 1)])
        >>> clips.shape, clips.is_contiguous(memory_format=torch.channels_last_3d), labels.tolist()
        (torch.Size([2, 3, 4, 6, 6]), True, [0, 1])
    """
    clips = [item[0] for item in batch]
    rest = default_collate([tuple(item[1:]) for item in batch])
    first = clips[0]
    if isinstance(first, JpegClip):
        return [JpegClips.collate(clips), *rest]
    order = _memory_order(first) if isinstance(first, Tensor) else None
    if order is None or any(c.stride() != first.stride() for c in clips):
        return [default_collate(clips), *rest]
    stacked = default_collate([c.permute(order) for c in clips])
    return [stacked.permute(0, *[1 + order.index(d) for d in range(first.ndim)]), *rest]
