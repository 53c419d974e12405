"""How long ``lifting-dfer check-data`` takes on a DFEW-sized copy: ``python -m benchmarks.check_data``.

Writes (once, then reuses) a metadata fixture in DFEW's layout with the release's 16,372 clips, every one named in
the 5-fold split files (so every clip folder is listed), in one of two frame sets:

- ``16f``: ``Clip/clip_224x224_16f/<clip>/1.jpg .. 16.jpg`` (262k files);
- ``all``: ``Clip/clip_224x224/<clip>/<clip>_00001.jpg ...`` with DFEW's spread of lengths (11 to 847 frames,
  log-normal around a mean of about 77; about 1.26M files).

Frames are hard links to 64 small JPEG-like files of different sizes (check-data reads names and sizes only, and
ext4 allows at most 65,000 links per file), so the fixture costs directory entries, not gigabytes. Then
[`check_dataset`][lifting_dfer.data.check_dataset] runs ``--repeat`` times per worker count (page cache warm
after the first run) and the wall-clock times are printed with the CPU time of the process (a figure that a busy
machine inflates less) and the load average; ``--json FILE`` writes them as a record.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from lifting_dfer.data import check_dataset

NUM_CLIPS = 16372
NUM_FOLDS = 5
_POOL = 64


def make_fixture(root: Path, frames: str, *, clips: int = NUM_CLIPS, seed: int = 0) -> Path:
    """Write the metadata fixture of ``clips`` clips under ``root`` (nothing is rewritten when its marker exists)."""
    marker = root / f".fixture-{frames}-{clips}"
    if marker.exists():
        return root
    rng = random.Random(seed)
    pool_dir = root / "pool"
    pool_dir.mkdir(parents=True, exist_ok=True)
    pool = []
    for i in range(_POOL):
        path = pool_dir / f"{i}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(rng.randrange(256) for _ in range(4000 + 97 * i)))
        pool.append(path)
    folder = root / "Clip" / ("clip_224x224_16f" if frames == "16f" else "clip_224x224")
    mu, sigma = math.log(77) - 0.18, 0.6  # log-normal with mean about 77
    for clip in range(1, clips + 1):
        out = folder / f"{clip:05d}"
        out.mkdir(parents=True, exist_ok=True)
        n = 16 if frames == "16f" else min(847, max(11, round(rng.lognormvariate(mu, sigma))))
        for k in range(1, n + 1):
            name = f"{k}.jpg" if frames == "16f" else f"{clip:05d}_{k:05d}.jpg"
            os.link(pool[rng.randrange(_POOL)], out / name)
    test_fold = {clip: 1 + clip % NUM_FOLDS for clip in range(1, clips + 1)}
    for split in ("train", "test"):
        split_dir = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
        split_dir.mkdir(parents=True, exist_ok=True)
        for fold in range(1, NUM_FOLDS + 1):
            rows = [f"{c},{1 + c % 7}" for c in test_fold if (test_fold[c] == fold) == (split == "test")]
            (split_dir / f"set_{fold}.csv").write_text("video_name,label\n" + "\n".join(rows) + "\n")
    marker.write_text("complete\n")
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.check_data", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        default=str(Path(tempfile.gettempdir()) / "lifting_dfer_check_data"),
        help="where the fixtures are written (default: lifting_dfer_check_data in the temporary folder)",
    )
    parser.add_argument("--frames", choices=("16f", "all"), nargs="+", default=["16f", "all"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clips", type=int, default=NUM_CLIPS, help="clips in the fixture (DFEW: 16,372)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the timings as JSON")
    args = parser.parse_args(argv)
    records = []
    for frames in args.frames:
        root = Path(args.root) / f"{frames}-{args.clips}" / "DFEW"
        start = time.perf_counter()
        fresh = not (root / f".fixture-{frames}-{args.clips}").exists()
        make_fixture(root, frames, clips=args.clips)
        if fresh:
            print(f"{frames}: fixture written in {time.perf_counter() - start:.0f} s ({root})")
        for workers in args.workers:
            times, cpu = [], []
            for _ in range(args.repeat):
                cpu_start = time.process_time()
                report = check_dataset("dfew", root, workers=workers)
                times.append(report.seconds)
                cpu.append(time.process_time() - cpu_start)
            record = {
                "frames": frames,
                "workers": workers,
                "clips": report.clips,
                "frame_files": report.frames,
                "seconds": times,
                "median_s": statistics.median(times),
                "cpu_seconds": cpu,
                "median_cpu_s": statistics.median(cpu),
                "load_average": os.getloadavg(),
                "cpus": os.cpu_count(),
            }
            records.append(record)
            print(
                f"{frames}: {report.clips} clips, {report.frames} frames, workers {workers}: "
                f"{', '.join(f'{t:.2f}' for t in times)} s (median {record['median_s']:.2f} s, CPU time median "
                f"{record['median_cpu_s']:.2f} s; load {' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
                f"{os.cpu_count()} CPUs)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
