"""``ClipDataset``: labelled clips stored as folders of frames; the base of DFEW, FERV39k and MAFW.

An item is ``(clip, label)``: ``num_frames`` frames sampled uniformly over the whole clip
([`uniform_indices`][lifting_dfer.data.uniform_indices]), decoded with torchvision.io, cropped/flipped/resized/
normalised by [`ClipTransform`][lifting_dfer.data.ClipTransform].

``output`` chooses how far the item goes on the CPU: ``"float"`` (normalised float32), ``"uint8"`` (the same
crop, flip and resize, no float work: [`ClipNormalize`][lifting_dfer.data.ClipNormalize] normalises the batch
on the device) or ``"jpeg"`` (the sampled files undecoded, with the drawn crop and flip, as a
[`JpegClip`][lifting_dfer.data.JpegClip], for decoding on the GPU). Batch ``uint8`` and ``jpeg`` items with
``DataLoader(..., collate_fn=collate_clips)`` ([`collate_clips`][lifting_dfer.data.collate_clips]).

Randomness (training only: segment offsets, crop box, flip) comes from torch's RNG, so it is reproducible:

- ``seed=None``: torch's global RNG. In DataLoader workers torch seeds it with ``base_seed + worker_id``, where
  ``base_seed`` is drawn from the DataLoader's ``generator``; pass ``DataLoader(..., generator=g)`` with
  ``g.manual_seed(seed + epoch)`` to replay an epoch (for the same ``num_workers``).
- ``seed=int``: each item draws from its own generator seeded by ``(seed, epoch, index)``, independent of worker
  count and order; call [`ClipDataset.set_epoch`][lifting_dfer.data.ClipDataset.set_epoch] at the start of every epoch.
"""

from __future__ import annotations

import copy
import logging
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, cast

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..temporal_sampling import uniform_indices
from .device_transform import JpegClip
from .frames import frame_files, read_clip, read_frames, read_jpeg_bytes
from .transforms import ClipTransform

__all__ = ["ClipDataset", "check_num_classes"]

logger = logging.getLogger(__name__)

ClipTransformFn = Callable[[Tensor, "torch.Generator | None"], Tensor]
ClipOutput = Literal["float", "uint8", "jpeg"]


class ClipDataset(Dataset):
    """Clips as frame folders with integer labels.

    Shape:
        ``dataset[i] -> (clip, label)``, ``clip: (3, num_frames, size, size)`` float32 ImageNet-normalised
        (``output="uint8"``: uint8 pixel values; ``"jpeg"``: a [`JpegClip`][lifting_dfer.data.JpegClip]),
        ``label`` an int in ``[0, len(class_names))``.

    Args:
        samples: one frame folder per clip.
        labels: 0-based class index per clip.
        class_names: class names in index order.
        num_frames: frames sampled per clip (``T0``).
        size: output side in pixels.
        train: random temporal offsets, random crop and flip (else deterministic segment centres, centre crop).
        on_corrupt: ``"raise"`` on an unreadable frame, or ``"skip"``: use the nearest readable frame of the
            same clip, log a warning and count it in ``num_skipped_frames`` (per process: each DataLoader
            worker keeps its own count). A clip with no readable frame always raises.
        transform: replaces the default ``ClipTransform(size, train=train, output=output)``; called as
            ``transform(frames, generator)`` with ``frames: (t, 3, h, w)`` uint8 (not with ``output="jpeg"``).
        seed: per-item seeding for the training randomness (see the module docstring).
        output: ``"float"``, ``"uint8"`` or ``"jpeg"``: what an item holds (see the module docstring). The
            ``uint8`` clip has the float clip's pixels at the same positions (same crop box and flip from the
            same draws); ``"jpeg"`` needs JPEG frames.
    """

    def __init__(
        self,
        samples: Sequence[str | os.PathLike],
        labels: Sequence[int],
        class_names: Sequence[str],
        *,
        num_frames: int = 16,
        size: int = 224,
        train: bool = False,
        on_corrupt: Literal["raise", "skip"] = "raise",
        transform: ClipTransformFn | None = None,
        seed: int | None = None,
        output: ClipOutput = "float",
    ) -> None:
        if output not in ("float", "uint8", "jpeg"):
            raise ValueError(f"output: expected 'float', 'uint8' or 'jpeg', got {output!r}")
        if output == "jpeg" and transform is not None:
            raise ValueError("transform: a custom transform needs decoded frames; it cannot run with output='jpeg'")
        if len(samples) != len(labels):
            raise ValueError(f"samples, labels: expected equal lengths, got {len(samples)} and {len(labels)}")
        if len(class_names) < 1:
            raise ValueError("class_names: expected at least one class")
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames: expected a positive integer, got {num_frames!r}")
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size: expected a positive integer, got {size!r}")
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt: expected 'raise' or 'skip', got {on_corrupt!r}")
        k = len(class_names)
        for i, y in enumerate(labels):
            if not isinstance(y, numbers.Integral) or isinstance(y, bool) or not 0 <= y < k:
                raise ValueError(f"labels[{i}] ({samples[i]}): expected a class index in [0, {k}), got {y!r}")
        self.samples: list[Path] = [Path(s) for s in samples]
        self.labels: list[int] = [int(y) for y in labels]
        self.class_names: tuple[str, ...] = tuple(class_names)
        self.num_frames = num_frames
        self.size = size
        self.train = train
        self.on_corrupt = on_corrupt
        self.seed = seed
        self.offset = 0.5  # where in each segment a test clip samples (evaluate's temporal views change it)
        self.epoch = 0
        self.num_skipped_frames = 0
        self.output = output
        self._custom_transform = transform
        self.transform: ClipTransformFn = transform if transform is not None else self._default_transform(train)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor | JpegClip, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {type(self).__name__} with {len(self)} clips")
        index %= len(self)
        generator = self._generator(index)
        frames = frame_files(self.samples[index])
        indices = uniform_indices(
            len(frames), self.num_frames, random=self.train, offset=self.offset, generator=generator
        )
        if self.output == "jpeg":
            files, skipped = read_jpeg_bytes(frames, indices, on_corrupt=self.on_corrupt)
            self._count_skipped(index, skipped)
            draw, flip = cast(ClipTransform, self.transform).draw(generator)  # the default: 'jpeg' refuses others
            return JpegClip.build(files, draw, flip, self.size), self.labels[index]
        if self._custom_transform is None:  # ClipTransform takes the frames unstacked: it copies only the crops
            decoded, skipped = read_frames(frames, indices, on_corrupt=self.on_corrupt)
            self._count_skipped(index, skipped)
            return cast(ClipTransform, self.transform)(decoded, generator), self.labels[index]
        stacked, skipped = read_clip(frames, indices, on_corrupt=self.on_corrupt)
        self._count_skipped(index, skipped)
        return self.transform(stacked, generator), self.labels[index]

    def _count_skipped(self, index: int, skipped: int) -> None:
        if skipped:
            self.num_skipped_frames += skipped
            logger.warning(
                "%s: %d unreadable frame(s) replaced (%d so far in this process)",
                self.samples[index],
                skipped,
                self.num_skipped_frames,
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws ``seed=int`` reproduces."""
        self.epoch = int(epoch)

    def class_counts(self) -> list[int]:
        """Number of clips per class, in class index order."""
        counts = [0] * self.num_classes
        for y in self.labels:
            counts[y] += 1
        return counts

    def subset(self, indices: Sequence[int], *, train: bool | None = None) -> ClipDataset:
        """A copy holding only ``indices`` (same class, names and settings).

        ``train`` switches the mode (sampling, and the default transform; a custom ``transform`` is kept).
        """
        new = copy.copy(self)
        new.samples = [self.samples[i] for i in indices]
        new.labels = [self.labels[i] for i in indices]
        new.num_skipped_frames = 0
        if train is not None and train != self.train:
            new.train = train
            if self._custom_transform is None:
                new.transform = new._default_transform(train)
        return new

    def _default_transform(self, train: bool) -> ClipTransform:
        return ClipTransform(self.size, train=train, output="uint8" if self.output == "uint8" else "float")

    def _generator(self, index: int) -> torch.Generator | None:
        if self.seed is None or not self.train:
            return None
        mixed = (self.seed * 0x9E3779B97F4A7C15 + self.epoch * 0xBF58476D1CE4E5B9 + index) % (2**63)
        return torch.Generator().manual_seed(mixed)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clips={len(self)}, classes={self.num_classes}, num_frames={self.num_frames}, "
            f"size={self.size}, train={self.train}" + (f", output={self.output!r})" if self.output != "float" else ")")
        )


def check_num_classes(dataset: ClipDataset, num_classes: int) -> None:
    """Raise ``ValueError`` when a model's ``num_classes`` does not match the dataset's classes."""
    if num_classes != dataset.num_classes:
        raise ValueError(
            f"num_classes={num_classes} does not match {type(dataset).__name__}, which has {dataset.num_classes} "
            f"classes ({', '.join(dataset.class_names)})"
        )
