"""DataLoader workers keep freed buffers: fewer page faults per clip, and the loaders set it in their workers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from lifting_dfer.data import init_worker

# A training transform on clips of 16 frames with a fresh crop each time (the sizes a worker allocates vary), run
# in a fresh interpreter; prints the minor page faults per clip after a warm-up.
SCRIPT = """
import json, resource, sys
import torch
from lifting_dfer.data import ClipTransform, reuse_freed_memory
torch.set_num_threads(1)
was_set = reuse_freed_memory() if sys.argv[1] == "reuse" else None
frames = list(torch.randint(0, 256, (16, 224, 224, 3), generator=torch.Generator().manual_seed(0),
                            dtype=torch.uint8).permute(0, 3, 1, 2).unbind(0))
transform, g = ClipTransform(224, train=True, output="uint8"), torch.Generator().manual_seed(0)
for _ in range(10):
    transform(frames, g)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    transform(frames, g)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 40
print(json.dumps({"set": was_set, "faults": faults}))
"""


def _faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_reusing_freed_memory_removes_most_page_faults_per_clip():
    kept, default = _faults("reuse"), _faults("default")
    if not kept["set"]:
        pytest.skip("this C library has no mallopt (not glibc)")
    if default["faults"] < 20:
        pytest.skip(f"this glibc's defaults already keep the buffers ({default['faults']:.1f} faults per clip)")
    # a uint8 clip of 16 x 224 x 224 is 2.4 MB, 590 pages of 4 KiB: glibc's defaults fault in a good part of a
    # clip's buffers again for each clip (about 240 pages on our machine), the workers' setting next to none
    # (none on an idle machine; a few where the kernel reclaims idle pages of a busy one)
    assert kept["faults"] < default["faults"] / 4, (kept, default)


def test_training_and_evaluation_loaders_set_it_in_their_workers():
    from lifting_dfer.training.loaders import EpochLoader, shard_loader

    data = [(torch.zeros(1), 0)] * 4
    cpu = torch.device("cpu")
    assert EpochLoader(data, batch_size=2, num_workers=1, device=cpu, seed=0).loader.worker_init_fn is init_worker
    assert shard_loader(data, batch_size=2, device=cpu, num_workers=1).worker_init_fn is init_worker
