"""The DataLoaders of training and evaluation: ``uint8`` clips batched by
[`collate_clips`][lifting_dfer.data.collate_clips], pinned memory on CUDA (the engine copies with
``non_blocking=True``), and worker processes that persist from one epoch to the next and keep their freed
buffers ([`init_worker`][lifting_dfer.data.init_worker]).

Persistent workers keep their copy of the dataset, so ``dataset.set_epoch(e)`` in the main process would not
reach them: [`EpochLoader`][lifting_dfer.training.loaders.EpochLoader] sends the epoch with every index instead
(its sampler yields ``(epoch, index)`` pairs and each worker calls ``set_epoch`` when the epoch changes). The
augmentation of epoch ``e`` therefore stays what ``set_epoch(e)`` selects, whatever the number of workers.
Workers draw their torch seed once, when they start: a dataset that draws from torch's global RNG
(``seed=None``) then depends on the epochs seen since, while per-item seeding (``seed=int``, what the training
scripts use) does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.allocator import init_worker
from ..data.device_transform import collate_clips
from .distributed import DistributedContext, ShardSampler

__all__ = ["EpochLoader", "shard_loader"]


class _EpochItems(Dataset):
    """``dataset`` read by ``(epoch, index)`` keys: ``set_epoch(epoch)`` runs in whichever process reads."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if epoch != self.epoch and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        self.epoch = epoch
        return self.dataset[index]


class _Keys(Sampler):
    """The keys of the current epoch; replaced before each pass over the loader."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class EpochLoader:
    """One DataLoader for every epoch of a training run (so that its workers persist).

    Args:
        dataset: ``(clip, label)`` items; ``set_epoch(e)`` is called (in the worker) before the items of epoch
            ``e`` when the dataset has it.
        batch_size, num_workers: as for ``DataLoader``.
        device: memory is pinned for CUDA.
        seed: seeds the workers' base seed (``DataLoader(generator=...)``).
    """

    def __init__(self, dataset: Dataset, *, batch_size: int, num_workers: int, device: torch.device, seed: int) -> None:
        self._keys = _Keys()
        self.loader = DataLoader(
            _EpochItems(dataset),
            batch_size=batch_size,
            sampler=self._keys,
            num_workers=num_workers,
            collate_fn=collate_clips,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
            worker_init_fn=init_worker,
            generator=torch.Generator().manual_seed(seed * 1000003),
        )

    def epoch(self, epoch: int, indices: Sequence[int]) -> DataLoader:
        """The loader set to read ``indices`` (in this order) with the augmentation of epoch ``epoch``."""
        self._keys.keys = [(epoch, int(i)) for i in indices]
        return self.loader


def shard_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    device: torch.device,
    ctx: DistributedContext | None = None,
    num_workers: int = 0,
    persistent: bool = False,
) -> DataLoader:
    """This rank's share of ``dataset`` (``rank::world_size``, in order), for
    [`evaluate`][lifting_dfer.training.evaluate]; ``persistent`` keeps the workers for the next pass."""
    ctx = ctx or DistributedContext(device=device)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), rank=ctx.rank, world_size=ctx.world_size),  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=collate_clips,
        pin_memory=device.type == "cuda",
        persistent_workers=persistent and num_workers > 0,
        worker_init_fn=init_worker,
        generator=torch.Generator().manual_seed(0),  # not torch's global RNG: evaluating leaves it as it was
    )
