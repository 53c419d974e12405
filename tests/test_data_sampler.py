"""Class-balanced resampling weights and the stratified 4:1 train/val split."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from lifting_dfer.data import (
    ClipDataset,
    balanced_sampler,
    class_balanced_weights,
    class_counts,
    stratified_split,
    train_val_split,
)

LONG_TAIL = [0] * 60 + [1] * 25 + [2] * 10 + [3] * 5  # DFEW-like imbalance


def test_class_counts():
    assert class_counts([2, 0, 2, 2]) == [1, 0, 3]
    assert class_counts([1], num_classes=3) == [0, 1, 0]
    with pytest.raises(ValueError, match=r"labels\[1\]: expected a class index in \[0, 2\), got 5"):
        class_counts([0, 5], num_classes=2)
    with pytest.raises(ValueError, match="at least one"):
        class_counts([])


def test_weights_are_inverse_class_frequency():
    w = class_balanced_weights(LONG_TAIL)
    expected = torch.tensor([1 / {0: 60, 1: 25, 2: 10, 3: 5}[y] for y in LONG_TAIL], dtype=torch.float64)
    torch.testing.assert_close(w, expected)
    # every class carries the same total weight
    totals = torch.zeros(4, dtype=torch.float64).index_add_(0, torch.tensor(LONG_TAIL), w)
    torch.testing.assert_close(totals, torch.ones(4, dtype=torch.float64))


def test_weight_power():
    torch.testing.assert_close(
        class_balanced_weights([0, 0, 0, 0, 1], power=0.5), torch.tensor([0.5, 0.5, 0.5, 0.5, 1.0], dtype=torch.float64)
    )
    torch.testing.assert_close(class_balanced_weights(LONG_TAIL, power=0.0), torch.ones(100, dtype=torch.float64))
    with pytest.raises(ValueError, match="power"):
        class_balanced_weights([0], power=-1)


def test_balanced_sampler_draws_classes_about_equally():
    sampler = balanced_sampler(LONG_TAIL, num_samples=8000, generator=torch.Generator().manual_seed(0))
    drawn = Counter(LONG_TAIL[i] for i in sampler)
    assert len(list(sampler)) == 8000
    for k in range(4):
        assert 1800 < drawn[k] < 2200, drawn
    assert len(balanced_sampler(LONG_TAIL)) == len(LONG_TAIL)


def test_stratified_split_takes_a_fifth_of_each_class():
    train, val = stratified_split(LONG_TAIL, 0.2, seed=0)
    assert Counter(LONG_TAIL[i] for i in val) == {0: 12, 1: 5, 2: 2, 3: 1}
    assert sorted(train + val) == list(range(100)) and not set(train) & set(val)
    assert train == sorted(train) and val == sorted(val)


def test_stratified_split_is_deterministic_and_seeded():
    assert stratified_split(LONG_TAIL, seed=1) == stratified_split(LONG_TAIL, seed=1)
    assert stratified_split(LONG_TAIL, seed=1) != stratified_split(LONG_TAIL, seed=2)


def test_stratified_split_edge_cases():
    train, val = stratified_split([0, 1, 1], 0.5)
    assert train[0] == 0 and len(val) == 1, "a single-clip class stays in training"
    assert stratified_split([0, 0, 1], 0.0) == ([0, 1, 2], [])
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split([0, 1], 1.0)


def test_train_val_split_on_a_generic_dataset():
    ds = ClipDataset([f"clip{i}" for i in range(100)], LONG_TAIL, ["a", "b", "c", "d"], train=True, seed=0)
    train, val = train_val_split(ds, seed=0)
    assert len(train) == 80 and len(val) == 20
    assert train.train and not val.train
    assert train.class_counts() == [48, 20, 8, 4]
    assert val.labels == [LONG_TAIL[int(str(p)[4:])] for p in val.samples]
    assert ds.labels == LONG_TAIL, "the original dataset is untouched"
