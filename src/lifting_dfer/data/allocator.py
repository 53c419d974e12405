"""The C allocator of DataLoader workers: keep freed buffers for the next item instead of handing them back.

One clip item allocates a handful of buffers of 0.1-2.5 MB: the decoded frames, the crop, the resized clip.
glibc's ``malloc`` serves blocks from 128 KiB up with fresh ``mmap`` pages and unmaps them on ``free``; its
threshold adapts to the sizes it has freed, but a worker's mix of sizes keeps the heap trimmed, so every item
faults in hundreds of new pages. ``python -m benchmarks.loader`` counts them (``allocator_effect``: page faults
and CPU time per ``uint8`` training item with and without this setting; the Performance page shows them).

[`reuse_freed_memory`][lifting_dfer.data.reuse_freed_memory] raises the mmap threshold to 32 MiB and keeps up to
64 MiB of freed memory at the top of the heap. [`init_worker`][lifting_dfer.data.init_worker] is the
``worker_init_fn`` that the training and evaluation loaders pass; pass it to your own ``DataLoader`` too.
Outside glibc (macOS, Windows, musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["init_worker", "reuse_freed_memory"]

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""Blocks below this come from the heap (glibc's largest allowed value on 64-bit systems)."""
TRIM_THRESHOLD = 64 << 20
"""Freed memory at the top of the heap is kept up to this much."""


@functools.cache
def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).mallopt  # the process's C library; musl has no mallopt
    except (OSError, AttributeError):
        return None


def reuse_freed_memory() -> bool:
    """Set this process's glibc allocator to keep freed buffers (see the module docstring); returns whether
    it was set (``False`` outside glibc). It lasts for the life of the process."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # mallopt returns 1 on success; setting M_MMAP_THRESHOLD also turns off the threshold's adaptation
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def init_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=init_worker)``: [`reuse_freed_memory`][lifting_dfer.data.reuse_freed_memory]
    in each worker process (the main process keeps glibc's defaults)."""
    reuse_freed_memory()
