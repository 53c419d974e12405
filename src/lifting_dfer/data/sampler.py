"""Class-balanced resampling for long-tailed training sets (DFEW's Fear/Disgust, MAFW's rare classes).

``class_balanced_weights`` gives each clip the weight ``count[label] ** -power``: with ``power=1`` every class is
drawn equally often in expectation by a ``WeightedRandomSampler``; ``power=0.5`` is a milder square-root balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor
from torch.utils.data import WeightedRandomSampler

__all__ = ["balanced_sampler", "class_balanced_weights", "class_counts"]


def class_counts(labels: Sequence[int], num_classes: int | None = None) -> list[int]:
    """Clips per class, for classes ``0 .. num_classes-1`` (default ``max(labels) + 1``).

    Examples:
        >>> class_counts([0, 2, 2], num_classes=4)
        [1, 0, 2, 0]
    """
    labels = [int(y) for y in labels]
    if not labels:
        raise ValueError("labels: expected at least one label, got none")
    k = max(labels) + 1 if num_classes is None else num_classes
    counts = [0] * k
    for i, y in enumerate(labels):
        if not 0 <= y < k:
            raise ValueError(f"labels[{i}]: expected a class index in [0, {k}), got {y}")
        counts[y] += 1
    return counts


def class_balanced_weights(labels: Sequence[int], num_classes: int | None = None, *, power: float = 1.0) -> Tensor:
    """Per-clip sampling weights ``count[label] ** -power``.

    Shape:
        ``labels: (n,)`` -> ``(n,)`` float64.

    Examples:
        >>> class_balanced_weights([0, 0, 0, 1]).tolist()
        [0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 1.0]
    """
    if power < 0:
        raise ValueError(f"power: expected a non-negative exponent, got {power}")
    counts = torch.tensor(class_counts(labels, num_classes), dtype=torch.float64)
    y = torch.as_tensor([int(v) for v in labels], dtype=torch.long)
    return counts[y].pow(-power)


def balanced_sampler(
    labels: Sequence[int],
    *,
    num_samples: int | None = None,
    power: float = 1.0,
    generator: torch.Generator | None = None,
) -> WeightedRandomSampler:
    """A ``WeightedRandomSampler`` (with replacement) over ``class_balanced_weights(labels, power=power)``.

    ``num_samples`` defaults to ``len(labels)`` (one epoch draws as many clips as the dataset holds).
    """
    weights = class_balanced_weights(labels, power=power)
    n = len(weights) if num_samples is None else num_samples
    # torch's stub says Sequence[float]; the sampler converts any tensor with torch.as_tensor
    return WeightedRandomSampler(cast("Sequence[float]", weights), n, replacement=True, generator=generator)
