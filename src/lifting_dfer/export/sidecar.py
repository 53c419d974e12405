"""The JSON sidecar of an exported model: everything a consumer needs besides the model file.

``lifting-dfer export`` writes ``<model file>.json`` next to the model (``ifdd.onnx`` -> ``ifdd.onnx.json``),
schema ``lifting_dfer.export/1``, one flat JSON object:

| key | value |
| --- | --- |
| `format` | `"lifting_dfer.export/1"` ([`SIDECAR_FORMAT`][lifting_dfer.export.SIDECAR_FORMAT]) |
| `model_file` | the model file's name, in the sidecar's folder |
| `model_format` | `"onnx"` or `"torchscript"` |
| `sha256` | hex SHA-256 of the model file (a sidecar left next to another export is refused) |
| `arch`, `arch_kwargs` | registry name of the model (`"ifdd_2dcnn"`, ...) and its builder arguments |
| `class_names` | the `k` classes, in the order of the output columns |
| `num_frames` | frames per window `t0` |
| `input_size` | side of the square RGB face crops, `h = w` |
| `input_name`, `input_shape` | the graph input `"clip"`: float32 `["batch", 3, num_frames, input_size, input_size]` |
| `output_names` | `["probabilities", "logits"]`, both `(batch, k)`; probabilities are `softmax(logits)` |
| `mean`, `std` | per-channel normalisation of RGB in `[0, 1]`, channels R, G, B: `clip = (rgb / 255 - mean) / std` |
| `sampling` | how training clips were sampled (`dataset`, `frames_per_clip`, `clip_seconds`, `fps`), or `null` |
| `opset` | the ONNX opset (`null` for TorchScript) |
| `checkpoint` | the source checkpoint: `file` (its name) and `epoch` (`null` if not recorded) |
| `verification` | `max_abs_diff` of the probabilities vs PyTorch; `batch_sizes`, `seed` of the random clips |
| `versions` | `lifting_dfer`, `torch` (and `onnx`, `onnxscript` for ONNX) that wrote the export |
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "PARITY_TOLERANCE",
    "SIDECAR_FORMAT",
    "ExportMetadata",
    "file_sha256",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]

SIDECAR_FORMAT = "lifting_dfer.export/1"
"""The ``format`` field of every sidecar this version writes and reads."""
PARITY_TOLERANCE = 1e-4
"""Largest absolute difference of the probabilities (fp32) from PyTorch that counts as a faithful export."""


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """Where the sidecar of ``model_path`` lives: ``model_path`` with ``.json`` appended.

    Examples:
        >>> sidecar_path("exports/ifdd.onnx").as_posix()
        'exports/ifdd.onnx.json'
    """
    path = Path(model_path)
    return path.with_name(path.name + ".json")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportMetadata:
    """The sidecar's content (see the module docstring for each field); JSON keys equal the field names."""

    model_file: str
    model_format: Literal["onnx", "torchscript"]
    sha256: str
    arch: str
    class_names: tuple[str, ...]
    num_frames: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sampling: dict[str, Any] | None = None
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    input_name: str = "clip"
    input_shape: tuple[str | int, ...] = ()
    output_names: tuple[str, ...] = ("probabilities", "logits")
    opset: int | None = None
    checkpoint: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = ("batch", 3, self.num_frames, self.input_size, self.input_size)
        if not self.input_shape:
            object.__setattr__(self, "input_shape", shape)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, ``format`` first (tuples become lists, other objects their ``str``)."""
        return {"format": SIDECAR_FORMAT, **json.loads(json.dumps(asdict(self), default=str))}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], *, source: str = "sidecar") -> ExportMetadata:
        """Validate a parsed sidecar; ``ValueError`` naming ``source`` and the first bad field otherwise."""
        if not isinstance(record, Mapping):
            raise ValueError(f"{source}: expected a JSON object, got {type(record).__name__}")
        if record.get("format") != SIDECAR_FORMAT:
            raise ValueError(
                f"{source}: expected format {SIDECAR_FORMAT!r} (a lifting-dfer export sidecar), "
                f"got {record.get('format')!r}"
            )
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(n for n in required if n not in record)
        if missing:
            raise ValueError(f"{source}: missing fields {missing}")
        values = {k: v for k, v in record.items() if k in names}
        checks = {
            "model_format": values["model_format"] in ("onnx", "torchscript"),
            "class_names": isinstance(values["class_names"], list)
            and bool(values["class_names"])
            and all(isinstance(n, str) for n in values["class_names"]),
            "num_frames": _positive_int(values["num_frames"]),
            "input_size": _positive_int(values["input_size"]),
            "mean": _three_floats(values["mean"], positive=False),
            "std": _three_floats(values["std"], positive=True),
            "sampling": values.get("sampling") is None or isinstance(values["sampling"], dict),
        }
        bad = next((k for k, ok in checks.items() if not ok), None)
        if bad is not None:
            raise ValueError(f"{source}: invalid {bad!r}: {values[bad]!r}")
        for key in ("class_names", "mean", "std", "input_shape", "output_names"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _three_floats(value: object, *, positive: bool) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or not positive) for v in value)
    )


def write_sidecar(metadata: ExportMetadata, model_path: str | os.PathLike) -> Path:
    """Write ``metadata`` as the sidecar of ``model_path``; returns the sidecar's path."""
    path = sidecar_path(model_path)
    path.write_text(json.dumps(metadata.to_dict(), indent=2) + "\n")
    return path


def read_sidecar(
    model_path: str | os.PathLike, sidecar: str | os.PathLike | None = None, *, check_hash: bool = True
) -> ExportMetadata:
    """Read and validate the sidecar of ``model_path`` (default: [`sidecar_path`][lifting_dfer.export.sidecar_path]).

    Raises:
        FileNotFoundError: no sidecar (the message names where it was looked for).
        ValueError: not JSON, not a ``lifting_dfer.export/1`` sidecar, an invalid field, or (``check_hash``) a
            sidecar written for another model file (SHA-256 mismatch).
    """
    model_path = Path(model_path)
    path = Path(sidecar) if sidecar is not None else sidecar_path(model_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no sidecar for {model_path}: {path} does not exist (lifting-dfer export writes it next to the model)"
        )
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"sidecar {path} is not valid JSON: {err}") from err
    metadata = ExportMetadata.from_dict(record, source=f"sidecar {path}")
    if check_hash and file_sha256(model_path) != metadata.sha256:
        raise ValueError(
            f"sidecar {path} does not describe {model_path} (SHA-256 differs; it was written for another export "
            f"of {metadata.model_file!r}): export again or pass the matching sidecar"
        )
    return metadata
