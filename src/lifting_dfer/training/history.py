"""Per-epoch metric files of a run: ``metrics.jsonl`` and ``metrics.csv`` (append-only, flushed each epoch).

``MetricWriter.log(record)`` appends one line to each file and ``fsync``-s them, so a crash loses at most the
epoch in progress. On resume, [`MetricWriter.rewrite`][lifting_dfer.training.MetricWriter.rewrite] replaces both files
(atomically) with the history stored in the checkpoint, dropping any epoch logged after the checkpoint was written (it
is trained again). TensorBoard scalars are written too when ``tensorboard=True`` (needs the ``tensorboard`` package).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text

__all__ = ["MetricWriter", "atomic_write_text", "read_jsonl"]

logger = logging.getLogger(__name__)


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (a torn last line, from a crash mid-write, is skipped)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s: skipped an unreadable line", path)
    return records


class MetricWriter:
    """Append per-epoch records to ``<folder>/metrics.jsonl`` and ``<folder>/metrics.csv``.

    The CSV columns are the keys of the first record; later records must have the same keys.

    Args:
        folder: run (fold) folder.
        tensorboard: also write each numeric value as a TensorBoard scalar (step = ``record["epoch"]``).

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     w = MetricWriter(d)
        ...     w.log({"epoch": 1, "loss": 0.5}); w.log({"epoch": 2, "loss": 0.25})
        ...     print(open(w.csv_path).read().split())
        ['epoch,loss', '1,0.5', '2,0.25']
    """

    def __init__(self, folder: str | os.PathLike, *, tensorboard: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = self.folder / "metrics.jsonl"
        self.csv_path = self.folder / "metrics.csv"
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:  # tensorboard is not a dependency
                raise ImportError("--tensorboard needs the tensorboard package: pip install tensorboard") from err
            self._tb = SummaryWriter(str(self.folder / "tensorboard"))

    def _columns(self) -> list[str] | None:
        if not self.csv_path.is_file() or self.csv_path.stat().st_size == 0:
            return None
        with open(self.csv_path, encoding="utf-8", newline="") as f:
            return next(csv.reader(f), None)

    def log(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` to both files and flush them to disk."""
        record = dict(record)
        columns = self._columns()
        if columns is not None and columns != list(record):
            raise ValueError(f"record keys {list(record)} differ from the CSV columns {columns}")
        with open(self.jsonl_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with open(self.csv_path, "a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(record))
            if columns is None:
                writer.writeheader()
            writer.writerow(record)
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            step = int(record.get("epoch", 0))
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "epoch" and value is not None:
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def rewrite(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Replace both files with exactly ``records`` (used when a run resumes from a checkpoint)."""
        atomic_write_text(self.jsonl_path, "".join(json.dumps(dict(r)) + "\n" for r in records))
        buffer = io.StringIO()
        if records:
            writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(dict(r) for r in records)
        atomic_write_text(self.csv_path, buffer.getvalue())

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
