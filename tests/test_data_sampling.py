"""Uniform temporal sampling (lifting_dfer.temporal_sampling, exported as lifting_dfer.data.uniform_indices) against a plain fraction-based reference."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from math import floor

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lifting_dfer.data import uniform_indices


def reference_centres(n: int, t: int) -> list[int]:
    """Segment i of [0, n) is [i n / t, (i + 1) n / t); its centre, floored, in exact arithmetic."""
    return [floor((Fraction(i) + Fraction(1, 2)) * n / t) for i in range(t)]


@pytest.mark.parametrize(("n", "t"), [(32, 4), (77, 16), (16, 16), (847, 16), (110, 32), (17, 16)])
def test_test_mode_picks_segment_centres(n, t):
    assert uniform_indices(n, t) == reference_centres(n, t)


def test_known_values():
    assert uniform_indices(32, 4) == [4, 12, 20, 28]
    assert uniform_indices(10, 5) == [1, 3, 5, 7, 9]


@pytest.mark.parametrize(("n", "t"), [(1, 16), (3, 8), (5, 16), (8, 16), (11, 16), (9, 32)])
def test_short_clip_repeats_each_frame_in_order(n, t):
    idx = uniform_indices(n, t)
    assert idx == sorted(idx)
    counts = Counter(idx)
    assert set(counts) == set(range(n)), "every frame of a short clip appears"
    assert {t // n, -(-t // n)} >= set(counts.values()), "each frame repeated floor or ceil(t / n) times"
    assert idx == reference_centres(n, t)


def test_short_clip_example_from_docs():
    assert uniform_indices(3, 8) == [0, 0, 0, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("n", [1, 3, 15])
def test_short_clips_are_deterministic_in_training_too(n):
    a = uniform_indices(n, 16, random=True, generator=torch.Generator().manual_seed(0))
    b = uniform_indices(n, 16, random=True, generator=torch.Generator().manual_seed(1))
    assert a == b == uniform_indices(n, 16)


def test_equal_length_is_identity_in_both_modes():
    assert uniform_indices(16, 16) == list(range(16))
    assert uniform_indices(16, 16, random=True, generator=torch.Generator().manual_seed(3)) == list(range(16))


@pytest.mark.parametrize(("n", "t"), [(50, 16), (17, 16), (847, 16), (33, 32)])
def test_random_mode_stays_inside_each_integer_segment(n, t):
    for seed in range(20):
        idx = uniform_indices(n, t, random=True, generator=torch.Generator().manual_seed(seed))
        for i, k in enumerate(idx):
            assert floor(Fraction(i * n, t)) <= k < floor(Fraction((i + 1) * n, t)), (i, k)


def test_random_mode_is_seeded_and_varies():
    def draw(seed):
        return uniform_indices(100, 8, random=True, generator=torch.Generator().manual_seed(seed))

    assert draw(0) == draw(0)
    assert len({tuple(draw(s)) for s in range(10)}) > 5
    # ... and covers more than the centres: positions inside a segment change between draws
    assert {i for s in range(30) for i in draw(s)} > set(uniform_indices(100, 8))


def test_offsets_give_distinct_deterministic_views():
    views = [uniform_indices(90, 6, offset=o) for o in (1 / 6, 3 / 6, 5 / 6)]
    assert views[1] == uniform_indices(90, 6)
    assert views[0] < views[1] < views[2]
    assert all(a < b < c for a, b, c in zip(*views))


@pytest.mark.parametrize(
    ("n", "t", "kwargs", "match"),
    [
        (0, 16, {}, "num_available"),
        (5, 0, {}, "num_frames"),
        (5.0, 4, {}, "num_available"),
        (5, 4, {"offset": 1.0}, "offset"),
        (5, 4, {"offset": -0.1}, "offset"),
    ],
)
def test_bad_arguments_raise(n, t, kwargs, match):
    with pytest.raises(ValueError, match=match):
        uniform_indices(n, t, **kwargs)


@given(n=st.integers(1, 400), t=st.integers(1, 40), seed=st.integers(0, 100), random=st.booleans())
def test_indices_are_sorted_in_range_and_t_long(n, t, seed, random):
    idx = uniform_indices(n, t, random=random, generator=torch.Generator().manual_seed(seed))
    assert len(idx) == t
    assert idx == sorted(idx)
    assert idx[0] >= 0 and idx[-1] < n
    if n >= t:
        assert len(set(idx)) == t, "long clips never repeat a frame"


def test_the_old_import_path_gives_the_same_function():
    from lifting_dfer import temporal_sampling
    from lifting_dfer.data import sampling

    assert sampling.uniform_indices is temporal_sampling.uniform_indices is uniform_indices
