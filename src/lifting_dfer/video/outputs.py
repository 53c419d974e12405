"""What ``predict`` writes for one video: ``<stem>.json``, ``<stem>.csv`` and ``<stem>_timeline.png``."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_csv", "write_outputs"]


def write_csv(result: Mapping, path: Path) -> Path:
    """One row per window: ``start_frame, end_frame, start_time, end_time, top``, then one column per class."""
    names = result["class_names"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start_frame", "end_frame", "start_time", "end_time", "top", *names])
        for w in result["windows"]:
            times = (f"{w['start_time']:.4f}", f"{w['end_time']:.4f}")
            probs = [f"{w['probabilities'][n]:.6f}" for n in names]
            writer.writerow([w["start_frame"], w["end_frame"], *times, w["top"], *probs])
    return path


def write_outputs(result: Mapping, out_dir: Path, stem: str, *, table_format: str, plot: bool) -> list[Path]:
    """Write the JSON and/or CSV (``table_format``: ``json``, ``csv`` or ``both``) and the timeline PNG."""
    written = []
    if table_format in ("json", "both"):
        written.append(out_dir / f"{stem}.json")
        written[-1].write_text(json.dumps(result, indent=2) + "\n")
    if table_format in ("csv", "both"):
        written.append(write_csv(result, out_dir / f"{stem}.csv"))
    if plot:
        from ..viz import plot_timeline

        written.append(plot_timeline(result, out_dir / f"{stem}_timeline.png"))
    return written
