"""Training input against the JPEG-decode floor: ``python -m benchmarks.loader`` (``--tiny``: seconds, a smoke run).

Writes a DFEW layout of generated face-like JPEG frames (``Clip/clip_224x224_16f``: 16 frames per clip, so a
clip's item decodes exactly its 16 files), then measures:

1. ``per_core``: one thread pinned to one CPU (``--cpu``), candidates timed interleaved
   (``benchmarks/common.measure``) on the same 16 frames, by the process's CPU time (``--clock cpu``, the
   default: what a core of its own would spend, with the time other jobs take on a shared core left out; on an
   idle machine it equals the wall time) or the wall clock (``--clock wall``), with the C allocator set as in
   the DataLoader workers that run these items (``--allocator workers``, the default:
   ``lifting_dfer.data.reuse_freed_memory``) or left at glibc's defaults (``--allocator default``):

   - ``decode_jpeg``: ``torchvision.io.decode_jpeg`` of the 16 files' bytes, already in memory, one call per
     frame: the floor; ``decode_jpeg-batched``: one call for the list of 16 (as ``read_frames`` decodes);
   - ``read+decode_jpeg``: the same, reading the files; ``pil``: Pillow's decoding, for comparison;
   - ``DFEW(..., train=True|False, output=...)[i]`` for ``output`` ``float``, ``uint8`` and ``jpeg`` (the
     workers' share of the device-decoding path: reading the files, drawing the crop and flip), and
     ``float-before``: the float path as it was before ``output="uint8"`` (its file reading and decoding, the
     frames stacked in ``(t, 3, h, w)`` order and the earlier ``ClipTransform``: ``before_item``,
     ``before_read_frame`` and ``BeforeTransform`` here).
     Each run reads the next epoch's draws (crop size, position, flip), so the figures average over crops.

2. ``allocator_effect``: minor page faults and CPU time per ``uint8`` training item in a fresh process (pinned like
   ``per_core``), with glibc's defaults and with the workers' setting, 200 items each.
3. ``loader``: ``DataLoader`` clips/s with 1 and 2 worker processes (persistent, ``collate_clips``), for the
   ``uint8`` and ``float`` items, passes over the whole training split timed interleaved; the ratio 2 / 1 worker.
4. ``device_decode`` (with ``--decode-device``, e.g. ``cuda`` from ``benchmarks/gpu.sh``): batches of
   ``output="jpeg"`` items decoded by one ``decode_jpeg(..., device=...)`` call each, then cropped, flipped,
   resized and normalised there: clips/s, and the largest and mean difference from the CPU's ``uint8`` items;
5. ``models``: forward multiply-accumulates per 16x224x224 clip of IFDD-2DCNN and IFDD-3DViT
   (``lifting_dfer.flops`` on the meta device), from which ``python -m benchmarks.make_docs`` projects how
   many cores like the one measured one H100 needs (a measured rate from ``gpu.json`` when it exists).

Frames: a smooth two-colour background with a low-frequency pattern, shoulders, a face-sized skin ellipse with
shading and a faint skin texture, hair, eyebrows, eyes that blink, a nose shadow and a mouth that opens over the
clip, moving a little from frame to frame, plus mild sensor noise; about 10 KB per 224x224 frame at JPEG quality
90 (the record keeps the sizes, and that of a noise frame at the same quality for comparison).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from .common import ROOT, SCHEMA, environment, measure, write_json

__all__ = ["BeforeTransform", "before_item", "face_frames", "main", "make_fixture"]

logger = logging.getLogger("benchmarks.loader")

#: H100 SXM dense bf16 peak, in multiply-accumulates per second (989 TFLOP/s).
H100_BF16_MACS = 494.7e12
#: Share of that peak assumed by the FLOP estimate of the training rate (until a GPU record measures it).
ASSUMED_UTILISATION = 0.3
#: Training costs about 3x the forward pass (forward, and a backward of about twice its cost).
TRAIN_OVER_FORWARD = 3
SETTINGS = ("clips", "distinct", "frames", "size", "quality", "cpu", "clock", "allocator", "rounds", "min_run_time",
            "workers", "batch", "loader_rounds", "decode_device")  # fmt: skip
FLOOR_RATIO_MAX = 1.5  # issue 21: a uint8 training item costs at most 1.5x decoding its frames
WORKER_SCALING_MIN = 1.6  # issue 21: 2 DataLoader workers deliver at least 1.6x the clips/s of 1


def _ellipse(yy: Tensor, xx: Tensor, cy: float, cx: float, ry: float, rx: float, *, soft: float = 1.5,
             angle: float = 0.0) -> Tensor:  # fmt: skip
    """A soft-edged filled ellipse in ``[0, 1]`` (edge width ``soft`` pixels)."""
    c, s = math.cos(angle), math.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * c + dy * s) / rx
    v = (-dx * s + dy * c) / max(ry, 1e-3)
    return torch.sigmoid((1 - torch.sqrt(u * u + v * v)) * min(rx, max(ry, 1e-3)) / soft)


def _smooth_noise(g: torch.Generator, size: int, cells: int, amp: float, channels: int = 1) -> Tensor:
    n = torch.randn(1, channels, cells, cells, generator=g)
    return amp * F.interpolate(n, size=(size, size), mode="bicubic", align_corners=False)[0]


def face_frames(num: int, size: int = 224, *, seed: int = 0, noise: float = 2.5) -> Tensor:
    """A clip of a generated face (see the module docstring), deterministic in ``seed``.

    Shape:
        returns ``(num, 3, size, size)`` uint8.
    """
    g = torch.Generator().manual_seed(seed)

    def u() -> float:
        return float(torch.rand((), generator=g))

    s = size / 224
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    colour_a = torch.tensor([u(), u(), u()]).view(3, 1, 1) * 0.6 + 0.2
    colour_b = torch.tensor([u(), u(), u()]).view(3, 1, 1) * 0.6 + 0.2
    angle = u() * math.pi
    ramp = ((xx * math.cos(angle) + yy * math.sin(angle)) / size).clamp(0, 1)
    background = colour_a * (1 - ramp) + colour_b * ramp + _smooth_noise(g, size, 4, 0.08, 3)
    skin = (torch.tensor([0.85, 0.65, 0.52]) * (0.6 + 0.5 * u())).view(3, 1, 1)
    hair = (torch.tensor([0.25, 0.17, 0.1]) * (0.3 + 1.2 * u())).view(3, 1, 1)
    shirt = (torch.tensor([u(), u(), u()]) * 0.7 + 0.1).view(3, 1, 1)
    skin_texture = _smooth_noise(g, size, 28, 0.02) + _smooth_noise(g, size, 56, 0.014)
    hair_texture = _smooth_noise(g, size, 80, 0.06)
    sclera, iris = torch.tensor([0.92, 0.9, 0.88]).view(3, 1, 1), torch.tensor([0.2, 0.15, 0.1]).view(3, 1, 1)
    lips, mouth_inside = torch.tensor([0.55, 0.2, 0.22]).view(3, 1, 1), torch.tensor([0.15, 0.05, 0.05]).view(3, 1, 1)

    def paint(img: Tensor, mask: Tensor, colour: Tensor) -> Tensor:
        return img * (1 - mask) + colour * mask

    frames = []
    for i in range(num):
        p = i / max(num - 1, 1)
        cx = size * (0.5 + 0.03 * math.sin(2 * math.pi * p + 1.0))
        cy = size * (0.52 + 0.02 * math.cos(2 * math.pi * p))
        tilt = 0.06 * math.sin(1.4 * math.pi * p)
        img = paint(background, _ellipse(yy, xx, size * 1.15, cx, 70 * s, 110 * s, soft=2), shirt)
        img = paint(img, _ellipse(yy, xx, cy + 78 * s, cx, 35 * s, 24 * s, soft=2), skin * 0.85)
        img = paint(img, _ellipse(yy, xx, cy - 22 * s, cx, 82 * s, 66 * s, soft=2, angle=tilt), hair + hair_texture)
        shade = (0.8 + 0.35 * ((xx - cx + 60 * s) / (120 * s)).clamp(0, 1)) * (
            1.05 - 0.2 * ((yy - cy) / (90 * s)).clamp(-1, 1).abs()
        )
        img = paint(
            img, _ellipse(yy, xx, cy + 6 * s, cx, 80 * s, 58 * s, soft=2, angle=tilt), skin * shade + skin_texture
        )
        openness = 0.15 if abs(p - 0.6) < 0.05 else 1.0  # a blink
        for side in (-1, 1):
            ex, ey = cx + side * 24 * s, cy - 8 * s
            img = paint(
                img, _ellipse(yy, xx, ey - 13 * s - 3 * s * p, ex, 3 * s, 13 * s, soft=1.2, angle=-side * 0.15), hair
            )
            eye = _ellipse(yy, xx, ey, ex, 5 * s * openness, 10 * s, soft=0.8)
            img = paint(img, eye, sclera)
            img = paint(
                img, _ellipse(yy, xx, ey, ex + 1.5 * s * math.sin(3 * p), 4 * s * openness, 4 * s, soft=0.8) * eye, iris
            )
        img = img * (1 - 0.15 * _ellipse(yy, xx, cy + 14 * s, cx + 2 * s, 14 * s, 5 * s, soft=3))  # nose shadow
        opening = 2 + 9 * math.sin(math.pi * p) ** 2
        mouth = _ellipse(yy, xx, cy + 40 * s, cx, opening * s, 18 * s + 4 * s * p, soft=1.2)
        img = paint(img, mouth, lips)
        img = paint(
            img, _ellipse(yy, xx, cy + 40 * s, cx, max(opening - 3, 0.1) * s, 14 * s, soft=1.0) * mouth, mouth_inside
        )
        grain = torch.randn(1, size, size, generator=g) + 0.5 * torch.randn(3, size, size, generator=g)
        frames.append((img + noise / 255 * grain).clamp(0, 1).mul(255).round().to(torch.uint8))
    return torch.stack(frames)  # fmt: skip


def make_fixture(root: Path, *, clips: int, distinct: int, frames: int, size: int, quality: int) -> dict:
    """Write ``clips`` clip folders (``distinct`` generated faces, repeated) in DFEW's 16f layout under ``root``;
    every clip is in fold 1's training and test files. Returns the JPEG sizes in bytes."""
    from torchvision.io import encode_jpeg

    folder = root / "Clip" / "clip_224x224_16f"
    encoded = [encode_jpeg(list(face_frames(frames, size, seed=k)), quality=quality) for k in range(distinct)]
    for clip in range(1, clips + 1):
        out = folder / f"{clip:05d}"
        out.mkdir(parents=True, exist_ok=True)
        for f, data in enumerate(encoded[(clip - 1) % distinct], start=1):
            (out / f"{f}.jpg").write_bytes(data.numpy().tobytes())
    rows = "video_name,label\n" + "".join(f"{c},{1 + c % 7}\n" for c in range(1, clips + 1))
    for split in ("train", "test"):
        split_dir = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
        split_dir.mkdir(parents=True, exist_ok=True)
        (split_dir / "set_1.csv").write_text(rows)
    sizes = [d.numel() for e in encoded for d in e]
    noise = torch.randint(0, 256, (3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return {"frame_bytes": sizes, "noise_frame_bytes": encode_jpeg(noise, quality=quality).numel()}


class BeforeTransform:
    """The float path before ``output="uint8"`` (``ClipTransform`` of commit 9894655), for the "no slower than
    today" comparison: crop, flip, ``channels_last`` copy, uint8 resize, ``.float()``, then one mixed-layout
    ``torch.sub`` and ``div_``, on frames stacked in ``(t, 3, h, w)`` order as ``read_clip`` stacked them then
    (``before_item``). Its values equal today's float path
    (``tests/test_benchmarks.py``)."""

    def __init__(self, size: int, *, train: bool) -> None:
        from lifting_dfer.data import ClipTransform

        self.today = ClipTransform(size, train=train)  # its draws, crop box and constants
        self.size, self.train = size, train

    def __call__(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        from lifting_dfer.data import crop_box

        frames = frames.contiguous()  # read_clip stacked (3, h, w) frames (a no-op on before_item's stack)
        draw, flip = self.today.draw(generator)
        top, left, side = crop_box(*frames.shape[-2:], draw)
        crop = frames[:, :, top : top + side, left : left + side]
        if flip:
            crop = crop.flip(-1)
        if crop.shape[-2:] == (self.size, self.size):
            x = crop.float()
        else:
            crop = crop.contiguous(memory_format=torch.channels_last)
            x = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
            x = x.float()
        x = rearrange(x, "t c h w -> c t h w")
        out = torch.empty(x.shape, dtype=torch.float32)
        torch.sub(x, self.today._shift, out=out)
        return out.div_(self.today._scale)


def before_item(dataset, index: int) -> tuple[Tensor, int]:
    """``dataset[index]`` as ``ClipDataset`` read it before ``output="uint8"``: every sampled frame read and
    decoded as ``read_frame`` did then (``before_read_frame``), the ``(3, h, w)`` frames stacked (a transposing
    copy of the decoder's pixel order), then ``dataset.transform``."""
    from lifting_dfer.data import list_frames, uniform_indices

    generator = dataset._generator(index)
    frames = list_frames(dataset.samples[index])
    indices = uniform_indices(len(frames), dataset.num_frames, random=dataset.train, generator=generator)
    decoded = {i: before_read_frame(frames[i]) for i in dict.fromkeys(indices)}
    return dataset.transform(torch.stack([decoded[i] for i in indices]), generator), dataset.labels[index]


def before_read_frame(path: Path) -> Tensor:
    """``read_frame`` of commit 9894655 for a readable frame: two existence checks, ``read_file``,
    ``decode_image``."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    path_s = os.fspath(path)
    if not os.path.isfile(path_s) or os.path.getsize(path_s) == 0:
        raise FileNotFoundError(path_s)
    return decode_image(read_file(path_s), mode=ImageReadMode.RGB)


def _cycling(dataset, index: int, item: Callable = lambda dataset, index: dataset[index]) -> Callable[[], None]:
    """``item(dataset, index)`` with the next epoch's draws at each call."""
    state = {"epoch": 0}

    def run() -> None:
        state["epoch"] += 1
        dataset.set_epoch(state["epoch"])
        item(dataset, index)

    return run


def _pin(cpu: int | None) -> set[int] | None:
    """Pin this process to ``cpu``; return the previous affinity (None where affinity is not supported)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return previous


def per_core(root: Path, args: argparse.Namespace) -> list[dict]:
    """Single-thread costs of one clip (see the module docstring), timed interleaved."""
    from PIL import Image
    from torchvision.io import decode_jpeg, read_file

    from lifting_dfer.data import DFEW, list_frames, reuse_freed_memory

    files = list_frames(root / "Clip" / "clip_224x224_16f" / "00001")
    data = [read_file(str(f)) for f in files]

    def floor() -> None:
        for d in data:
            decode_jpeg(d)

    def batched_floor() -> None:
        decode_jpeg(data)

    def read_floor() -> None:
        for f in files:
            decode_jpeg(read_file(str(f)))

    def pil() -> None:
        for f in files:
            with Image.open(f) as im:
                im.convert("RGB").load()

    candidates: dict[str, Callable[[], None]] = {"decode_jpeg": floor, "decode_jpeg-batched": batched_floor,
                                                 "read+decode_jpeg": read_floor, "pil": pil}  # fmt: skip
    for train in (True, False):
        mode = "train" if train else "eval"
        before = DFEW(root, fold=1, split="train", train=train, size=args.size, num_frames=args.frames, seed=0,
                      transform=BeforeTransform(args.size, train=train))  # fmt: skip
        candidates[f"float-before-{mode}"] = _cycling(before, 0, before_item)
        for output in ("float", "uint8", "jpeg"):
            ds = DFEW(root, fold=1, split="train", train=train, size=args.size, num_frames=args.frames, seed=0,
                      output=output)  # fmt: skip
            candidates[f"{output}-{mode}"] = _cycling(ds, 0)
    if args.allocator == "workers":
        reuse_freed_memory()  # as in the DataLoader workers that run these items
    previous = _pin(args.cpu)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        timings = measure(candidates, rounds=args.rounds, min_run_time=args.min_run_time, device=torch.device("cpu"),
                          timer=clock)  # fmt: skip
    finally:
        if previous is not None:
            os.sched_setaffinity(0, previous)
    floor_s, read_s = timings["decode_jpeg"].median, timings["read+decode_jpeg"].median
    rows = []
    for name, t in timings.items():
        rows.append({
            "name": name, "median_s": t.median, "iqr_s": t.iqr, "runs": len(t.times), "clips_per_s": 1 / t.median,
            "vs_decode": t.median / floor_s, "vs_read_decode": t.median / read_s,
            "rounds_vs_decode": [m / f for m, f in zip(t.round_medians, timings["decode_jpeg"].round_medians)],
        })  # fmt: skip
    return rows


ALLOCATOR_SCRIPT = """
import json, os, resource, sys, time
import torch
from lifting_dfer.data import DFEW, reuse_freed_memory
torch.set_num_threads(1)
root, size, frames, items, cpu, allocator = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
if allocator == "workers":
    reuse_freed_memory()
if cpu >= 0 and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {cpu})
ds = DFEW(root, fold=1, split="train", train=True, size=size, num_frames=frames, seed=0, output="uint8")
for epoch in range(10):
    ds.set_epoch(epoch)
    ds[0]
faults, cpu_s = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
for epoch in range(10, 10 + items):
    ds.set_epoch(epoch)
    ds[0]
print(json.dumps({"allocator": allocator, "items": items,
                  "faults_per_item": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / items,
                  "cpu_ms_per_item": (time.process_time() - cpu_s) / items * 1e3}))
"""


def allocator_effect(root: Path, args: argparse.Namespace, items: int) -> list[dict]:
    """Page faults and CPU time per ``uint8`` training item, in a fresh process with glibc's defaults and one with
    the workers' setting (``reuse_freed_memory``), one after the other (``items`` items each, after 10)."""
    import subprocess
    import sys

    rows = []
    for allocator in ("default", "workers"):
        argv = [str(root), str(args.size), str(args.frames), str(items), str(-1 if args.cpu is None else args.cpu),
                allocator]  # fmt: skip
        out = subprocess.run([sys.executable, "-c", ALLOCATOR_SCRIPT, *argv], capture_output=True, text=True,
                             check=True, cwd=ROOT)  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def loader_throughput(root: Path, args: argparse.Namespace) -> list[dict]:
    """DataLoader clips/s per output and worker count; every pass reads the whole training split."""
    from torch.utils.data import DataLoader

    from lifting_dfer.data import DFEW, collate_clips, init_worker

    loaders = {}
    for output in ("uint8", "float"):
        ds = DFEW(root, fold=1, split="train", size=args.size, num_frames=args.frames, seed=0, output=output)
        for workers in args.workers:
            loaders[(output, workers)] = DataLoader(ds, batch_size=args.batch, num_workers=workers,
                                                    collate_fn=collate_clips, persistent_workers=True,
                                                    worker_init_fn=init_worker if args.allocator == "workers" else None)  # fmt: skip
    clips = len(ds)
    passes: dict[tuple[str, int], list[float]] = {key: [] for key in loaders}
    for loader in loaders.values():  # start the workers, warm the caches
        for _ in loader:
            pass
    keys = list(loaders)
    for r in range(args.loader_rounds):
        for key in keys if r % 2 == 0 else keys[::-1]:
            start = time.perf_counter()
            for _ in loaders[key]:
                pass
            passes[key].append(time.perf_counter() - start)
    del loaders
    rows = []
    for (output, workers), times in passes.items():
        rows.append({"output": output, "workers": workers, "batch": args.batch, "clips": clips,
                     "pass_s": times, "clips_per_s": clips / statistics.median(times)})  # fmt: skip
    return rows


def device_decode(root: Path, args: argparse.Namespace) -> dict:
    """Batched decoding of ``output="jpeg"`` items on ``args.decode_device``: clips/s and the gap to the CPU."""
    from lifting_dfer.data import DFEW, ClipNormalize, collate_clips

    device = torch.device(args.decode_device)
    jpeg = DFEW(root, fold=1, split="train", size=args.size, num_frames=args.frames, seed=0, output="jpeg")
    cpu = DFEW(root, fold=1, split="train", size=args.size, num_frames=args.frames, seed=0, output="uint8")
    batches = [collate_clips([jpeg[i] for i in range(k, min(k + args.batch, len(jpeg)))])[0]
               for k in range(0, len(jpeg), args.batch)]  # fmt: skip
    normalize = ClipNormalize().to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gaps = []
    for k, batch in enumerate(batches):  # warm-up (nvJPEG handles, kernels) and the check against the CPU
        decoded = batch.decode(device).cpu()
        expected = torch.stack([cpu[i][0] for i in range(k * args.batch, k * args.batch + len(decoded))]).float()
        gaps.append((decoded - expected).abs())
    times = []
    for _ in range(args.loader_rounds):
        sync()
        start = time.perf_counter()
        for batch in batches:
            normalize(batch.decode(device))
        sync()
        times.append(time.perf_counter() - start)
    gap = torch.cat([g.flatten() for g in gaps])
    return {"device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "batch": args.batch, "clips": len(jpeg), "pass_s": times, "clips_per_s": len(jpeg) / statistics.median(times),
            "max_abs_diff": float(gap.max()), "mean_abs_diff": float(gap.mean())}  # fmt: skip


def model_macs(frames: int, size: int, models: Sequence[str]) -> list[dict]:
    """Forward GMACs per clip (meta device) and the training cost assumed from them."""
    from lifting_dfer.flops import model_complexity
    from lifting_dfer.models import create_model

    out = []
    for name in models:
        c = model_complexity(lambda name=name: create_model(name, num_frames=frames, image_size=size),
                             (1, 3, frames, size, size))  # fmt: skip
        estimate = ASSUMED_UTILISATION * H100_BF16_MACS / (TRAIN_OVER_FORWARD * c.macs)
        out.append({"model": name, "frames": frames, "size": size, "gmacs": c.gmacs,
                    "h100_estimate_clips_per_s": estimate})  # fmt: skip
    return out


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.loader", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="seconds-long smoke run: tiny frames, few clips")
    p.add_argument("--root", type=Path, default=None, help="keep the generated dataset here (default: a temp folder)")
    p.add_argument("--clips", type=int, default=None, help="clips of the DataLoader pass (default 96; 8 tiny)")
    p.add_argument("--distinct", type=int, default=None, help="different generated faces (default 8; 2 tiny)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 16; 4 tiny)")
    p.add_argument("--size", type=int, default=None, help="frame and output side (default 224; 32 tiny)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    p.add_argument(
        "--allocator",
        choices=("workers", "default"),
        default="workers",
        help="glibc allocator settings: those of the DataLoader workers (lifting_dfer.data.init_worker), "
        "or the defaults",
    )
    p.add_argument("--cpu", type=int, default=0, help="CPU the per-core timings are pinned to (-1: not pinned)")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="clock of the per-core timings")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds of the per-core timings (default 3)")
    p.add_argument("--min-run-time", type=float, default=None, help="seconds per candidate and round (default 0.5)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DataLoader worker counts")
    p.add_argument("--batch", type=int, default=None, help="DataLoader batch size (default 16; 2 tiny)")
    p.add_argument("--loader-rounds", type=int, default=None, help="timed passes per DataLoader (default 3)")
    p.add_argument("--models", nargs="+", default=["ifdd_2dcnn", "ifdd_3dvit"], help="models of the projection")
    p.add_argument("--decode-device", default=None, help="also time batched decoding of JPEG items there (cuda)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/loader[-tiny].json)")
    args = p.parse_args(argv)
    tiny = args.tiny
    defaults = {"clips": (96, 8), "distinct": (8, 2), "frames": (16, 4), "size": (224, 32), "rounds": (3, 1),
                "min_run_time": (0.5, 0.01), "batch": (16, 2), "loader_rounds": (3, 1)}  # fmt: skip
    for key, (full, small) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if tiny else full)
    args.cpu = None if args.cpu < 0 else args.cpu
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; return the JSON record (also written to ``--out``)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = args.out or ROOT / "benchmarks" / "results" / f"loader{'-tiny' if args.tiny else ''}.json"
    root = args.root or Path(tempfile.mkdtemp(prefix="lifting_dfer-loader-"))
    try:
        record: dict[str, object] = {
            "schema": SCHEMA,
            "kind": "loader",
            "tiny": args.tiny,
            "env": environment(torch.device("cpu")),
            "settings": {key: getattr(args, key) for key in SETTINGS},
            "load_before": _load(),
        }
        start = time.perf_counter()
        if not (root / "EmoLabel_DataSplit").is_dir():
            logger.info("writing %d clips of %d generated %dx%d frames under %s", args.clips, args.frames, args.size,
                        args.size, root)  # fmt: skip
            sizes = make_fixture(root, clips=args.clips, distinct=args.distinct, frames=args.frames, size=args.size,
                                 quality=args.quality)  # fmt: skip
        else:
            from lifting_dfer.data import list_frames

            files = list_frames(root / "Clip" / "clip_224x224_16f" / "00001")
            sizes = {"frame_bytes": [f.stat().st_size for f in files], "noise_frame_bytes": None}
        record["frames"] = {"mean_bytes": statistics.mean(sizes["frame_bytes"]), "min_bytes": min(sizes["frame_bytes"]),
                            "max_bytes": max(sizes["frame_bytes"]), "noise_frame_bytes": sizes["noise_frame_bytes"]}  # fmt: skip
        logger.info("per-core timings (1 thread%s)", f", CPU {args.cpu}" if args.cpu is not None else "")
        record["per_core"] = per_core(root, args)
        write_json(record, out)
        logger.info("page faults per uint8 training item, by allocator setting")
        record["allocator_effect"] = allocator_effect(root, args, items=20 if args.tiny else 200)
        write_json(record, out)
        logger.info("DataLoader passes with %s workers", " and ".join(map(str, args.workers)))
        record["loader"] = loader_throughput(root, args)
        write_json(record, out)
        if args.decode_device is not None:
            logger.info("batched decoding on %s", args.decode_device)
            record["device_decode"] = device_decode(root, args)
            write_json(record, out)
        record["models"] = model_macs(16, 224, args.models)
        record["assumed_utilisation"], record["peak_tmacs"] = ASSUMED_UTILISATION, H100_BF16_MACS / 1e12
        rows = {r["name"]: r for r in record["per_core"]}
        rates = {(r["output"], r["workers"]): r["clips_per_s"] for r in record["loader"]}
        targets = [
            {"name": f"uint8 training item / decode_jpeg of its {args.frames} frames (1 core)",
             "value": rows["uint8-train"]["vs_decode"], "op": "<=", "threshold": FLOOR_RATIO_MAX},
            {"name": "float training item, after / before (1 core)",
             "value": rows["float-train"]["median_s"] / rows["float-before-train"]["median_s"], "op": "<=",
             "threshold": 1.0},
        ]  # fmt: skip
        if (("uint8", 1) in rates) and (("uint8", 2) in rates):
            targets.append({"name": "DataLoader clips/s, 2 workers / 1 worker (uint8)",
                            "value": rates[("uint8", 2)] / rates[("uint8", 1)], "op": ">=",
                            "threshold": WORKER_SCALING_MIN})  # fmt: skip
        for t in targets:
            t["met"] = t["value"] <= t["threshold"] if t["op"] == "<=" else t["value"] >= t["threshold"]
        record["targets"] = targets
        record["load_after"] = _load()
        record["elapsed_s"] = time.perf_counter() - start
        write_json(record, out)
    finally:
        torch.set_num_threads(threads)
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    f = record["frames"]
    noise = f" (a noise frame: {f['noise_frame_bytes'] / 1024:.1f} KB)" if f["noise_frame_bytes"] else ""
    print(f"frames: {f['mean_bytes'] / 1024:.1f} KB on average ({f['min_bytes'] / 1024:.1f}-"
          f"{f['max_bytes'] / 1024:.1f}){noise}, quality {args.quality}")  # fmt: skip
    for r in record["per_core"]:
        print(f"{r['name']:22} {r['median_s'] * 1e3:8.2f} ms  {r['clips_per_s']:8.1f} clips/s  "
              f"{r['vs_decode']:5.2f}x decode_jpeg  {r['vs_read_decode']:5.2f}x read+decode")  # fmt: skip
    for r in record["allocator_effect"]:
        print(f"uint8 training item, allocator {r['allocator']:8}: {r['faults_per_item']:6.1f} page faults, "
              f"{r['cpu_ms_per_item']:.2f} ms CPU")  # fmt: skip
    for r in record["loader"]:
        print(f"DataLoader {r['output']:5} {r['workers']} worker(s): {r['clips_per_s']:8.1f} clips/s")
    d = record.get("device_decode")
    if d:
        print(f"decoding on {d['device_name']}: {d['clips_per_s']:8.1f} clips/s (batch {d['batch']}), "
              f"max |difference| from the CPU's uint8 items {d['max_abs_diff']:.1f} (mean {d['mean_abs_diff']:.2f})")  # fmt: skip
    for t in record["targets"]:
        print(f"target {'met ' if t['met'] else 'MISS'} {t['name']}: {t['value']:.2f} ({t['op']} {t['threshold']})")
    print(f"wrote {out} ({record['elapsed_s']:.0f} s; load {record['load_before']} -> {record['load_after']})")
    return record


if __name__ == "__main__":
    main()
