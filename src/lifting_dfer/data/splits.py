"""The paper's 4:1 train/validation split of a training set, stratified by class and deterministic."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .clips import ClipDataset

__all__ = ["stratified_split", "train_val_split"]


def stratified_split(labels: Sequence[int], val_fraction: float = 0.2, *, seed: int = 0) -> tuple[list[int], list[int]]:
    """Split indices per class: ``floor(n_k * val_fraction + 0.5)`` of class ``k``'s clips go to validation.

    A class with a single clip stays in training. Both index lists are sorted; the same ``labels`` and
    ``seed`` always give the same split.

    Examples:
        >>> train, val = stratified_split([0] * 5 + [1] * 5, 0.2)
        >>> len(train), len(val)
        (8, 2)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {val_fraction}")
    g = torch.Generator().manual_seed(seed)
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(i)
    train: list[int] = []
    val: list[int] = []
    for y in sorted(by_class):
        idx = by_class[y]
        order = torch.randperm(len(idx), generator=g).tolist()
        n_val = min(int(len(idx) * val_fraction + 0.5), len(idx) - 1)
        val += [idx[j] for j in order[:n_val]]
        train += [idx[j] for j in order[n_val:]]
    return sorted(train), sorted(val)


def train_val_split(
    dataset: ClipDataset, val_fraction: float = 0.2, *, seed: int = 0
) -> tuple[ClipDataset, ClipDataset]:
    """Split a training set into (train, val) datasets, 4:1 by default, stratified by class.

    The validation part is switched to test-time processing (segment centres, centre crop, no flip); both parts
    keep ``class_names`` and expose their own ``labels``.
    """
    train_idx, val_idx = stratified_split(dataset.labels, val_fraction, seed=seed)
    return dataset.subset(train_idx), dataset.subset(val_idx, train=False)
