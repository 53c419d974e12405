"""``torchrun`` data parallelism: process-group set-up, rank-0 helpers, sharded evaluation and gathering.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and the rendezvous variables); without them the run is a
single process and every helper here is a no-op. Training uses ``DistributedSampler`` (padding to equal shards);
evaluation shards the indices ``rank::world_size`` *without* padding, and `gather_predictions` puts the
pieces back in dataset order, so metrics count every clip exactly once.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Sampler

__all__ = [
    "DistributedContext",
    "ShardSampler",
    "all_gather_objects",
    "barrier",
    "broadcast_buffers",
    "broadcast_object",
    "cleanup_distributed",
    "gather_predictions",
    "resolve_device",
    "setup_distributed",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, its ``local_rank`` and ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``"cuda"`` -> ``cuda:<local_rank>``.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available on this machine (use --device cpu)")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup_distributed(device: str = "auto", *, timeout_minutes: float = 30.0) -> DistributedContext:
    """Join the process group that ``torchrun`` describes (NCCL on CUDA, Gloo on CPU), or run alone.

    Idempotent: an already initialised group is reused.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
        logger.info("rank %d/%d joined the %s process group on %s", rank, world_size, backend, dev)
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def cleanup_distributed() -> None:
    """Leave the process group (if any)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` in a single process)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world_size, ...`` of a dataset: disjoint shards, no padding, no shuffling.

    Examples:
        >>> list(ShardSampler(7, rank=1, world_size=3))
        [1, 4]
    """

    def __init__(self, length: int, *, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank: expected 0 <= rank < world_size={world_size}, got {rank}")
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def gather_predictions(indices: Tensor, logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Collect every rank's ``(indices, logits, labels)`` and return ``(logits, labels)`` in dataset order.

    Duplicated indices (e.g. a padded sampler) are kept once.

    Shape:
        ``indices: (n_r,)``, ``logits: (n_r, k)``, ``labels: (n_r,)`` on each rank -> ``(n, k)``, ``(n,)``.
    """
    parts = all_gather_objects((indices.cpu(), logits.float().cpu(), labels.cpu()))
    idx = torch.cat([p[0] for p in parts])
    out_logits = torch.cat([p[1] for p in parts])
    out_labels = torch.cat([p[2] for p in parts])
    order = torch.argsort(idx, stable=True)
    idx, out_logits, out_labels = idx[order], out_logits[order], out_labels[order]
    keep = torch.ones_like(idx, dtype=torch.bool)
    keep[1:] = idx[1:] != idx[:-1]
    return out_logits[keep], out_labels[keep]


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank, so that all ranks evaluate the
    same model (DDP only syncs buffers at the start of a training forward)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=src)
