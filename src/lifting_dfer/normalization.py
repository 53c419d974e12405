"""Input normalisation of a model: ``clip = (rgb / 255 - mean) / std`` per RGB channel, recorded with its weights.

The paper-form models take ImageNet-normalised clips ([`IMAGENET`][lifting_dfer.normalization.IMAGENET]); the
authors' released code feeds RGB in ``[0, 1]`` ([`UNIT`][lifting_dfer.normalization.UNIT]). A checkpoint records
which one its model was trained with under the key ``"normalization"`` (``{"mean": [r, g, b], "std": [r, g, b]}``);
[`checkpoint_normalization`][lifting_dfer.normalization.checkpoint_normalization] reads it back, and a checkpoint
written before the key existed means ImageNet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["IMAGENET", "UNIT", "Normalization", "checkpoint_normalization"]


class Normalization(NamedTuple):
    """Per-channel ``mean`` and ``std`` (R, G, B) of RGB values scaled to ``[0, 1]``.

    Examples:
        >>> Normalization.from_dict({"mean": [0, 0, 0], "std": [1, 1, 1]}) == UNIT
        True
        >>> IMAGENET.to_dict()["std"]
        [0.229, 0.224, 0.225]
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, name: str = "normalization") -> Normalization:
        """From ``{"mean": [r, g, b], "std": [r, g, b]}``; ``ValueError`` naming ``name`` if it is malformed."""
        if not isinstance(values, Mapping) or set(values) < {"mean", "std"}:
            raise ValueError(f"{name}: expected a mapping with 'mean' and 'std', got {values!r}")
        mean, std = _three(values["mean"], f"{name}.mean"), _three(values["std"], f"{name}.std")
        if min(std) <= 0:
            raise ValueError(f"{name}.std: expected 3 values > 0, got {list(std)}")
        return cls(mean, std)

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [r, g, b], "std": [r, g, b]}``: what checkpoints, ``config.json`` and export sidecars store."""
        return {"mean": list(self.mean), "std": list(self.std)}


def _three(values: Any, name: str) -> tuple[float, float, float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != 3:
        raise ValueError(f"{name}: expected 3 numbers (R, G, B), got {values!r}")
    r, g, b = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (r, g, b)):
        raise ValueError(f"{name}: expected finite numbers, got {[r, g, b]}")
    return r, g, b


IMAGENET = Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""ImageNet mean and std: what the pretrained backbones, and so the paper-form models, expect."""
UNIT = Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
"""RGB in ``[0, 1]`` with no mean or std: the input of the authors' released code."""


def checkpoint_normalization(ckpt: Mapping[str, Any]) -> Normalization:
    """The normalisation recorded in a checkpoint dict (its ``"normalization"`` entry), ImageNet if it has none.

    Examples:
        >>> checkpoint_normalization({}) == IMAGENET
        True
        >>> checkpoint_normalization({"normalization": UNIT.to_dict()}) == UNIT
        True
    """
    values = ckpt.get("normalization")
    return IMAGENET if values is None else Normalization.from_dict(values, name="checkpoint normalization")
