"""Shared test settings and hypothesis strategies (shapes use the axis names of docs/shapes.md).

The rule: no test draws an unseeded random number. Every test starts with torch, numpy and ``random`` seeded (the
autouse ``_seed`` fixture), and every hypothesis example starts with them seeded again: hypothesis seeds ``random``
and numpy's global generator per example, and ``TORCH_RANDOM`` registers torch's global generator with it too, so
an example draws the same numbers when hypothesis replays it (shrinking, the final run), whatever ran before it.
Tests that want other draws per example take ``st.random_module()``: it seeds all of them from the example.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, register_random, settings
from hypothesis import strategies as st

settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# HYPOTHESIS_PROFILE=stress: many more examples, drawn from --hypothesis-seed (to hunt for flaky tests).
settings.register_profile("stress", parent=settings.get_profile("ci"), max_examples=200, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class _TorchRandom:
    """torch's global generator in the form ``hypothesis.register_random`` manages (``seed``, ``getstate``,
    ``setstate``): hypothesis seeds it before each example and restores it after."""

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def getstate(self) -> torch.Tensor:
        return torch.random.get_rng_state()

    def setstate(self, state: torch.Tensor) -> None:
        torch.random.set_rng_state(state)


#: Registered with hypothesis (which keeps a weak reference only: this name keeps it alive).
TORCH_RANDOM = _TorchRandom()
register_random(TORCH_RANDOM)


@pytest.fixture(autouse=True)
def _seed():
    """Seed torch, numpy and ``random`` before every test: draws outside hypothesis examples are reproducible."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


def even_frames(min_t: int = 2, max_t: int = 8) -> st.SearchStrategy[int]:
    """Even frame counts t in [min_t, max_t]: what the lifting split accepts."""
    return st.integers(min_t // 2, max_t // 2).map(lambda z: 2 * z)


@st.composite
def clip_shapes(draw, *, max_b: int = 3, max_c: int = 16, max_t: int = 8, min_hw: int = 2, max_hw: int = 8):
    """Random feature shapes (b, c, t, h, w) with even t."""
    return (
        draw(st.integers(1, max_b)),
        draw(st.integers(1, max_c)),
        draw(even_frames(2, max_t)),
        draw(st.integers(min_hw, max_hw)),
        draw(st.integers(min_hw, max_hw)),
    )


# Layouts backbones emit, over the axes b, c, h, w and a time axis (t for ISSM's input, z for LADM's).
LAYOUTS = (
    "b c {t} h w",  # PyTorch video (Conv3d, torchvision video models)
    "b {t} h w c",  # channels last (Video Swin)
    "b {t} c h w",  # a stack of frame maps
    "b ({t} h w) c",  # tokens (MViT, VideoMAE without the class token)
    "b c ({t} h w)",  # flattened channels-first map
    "({t} b) c h w",  # frames of a clip batch, time outermost
    "(b {t}) c h w",  # per-frame 2D CNN
    "(b {t}) (h w) c",  # per-frame image ViT tokens
    "(b {t}) h w c",  # per-frame channels-last map
)


def layouts(time: str = "t") -> st.SearchStrategy[str]:
    """Einops layouts of a video feature tensor, with ``time`` naming its frame axis."""
    return st.sampled_from([layout.format(t=time) for layout in LAYOUTS])


def _encode_video(path, frames, *, fps: int = 25, codec: str = "ffv1", pix_fmt: str = "bgr0", options=None):
    """Write uint8 RGB frames ``(n, h, w, 3)`` as a video file with PyAV (lossless ffv1 by default); ``path``."""
    import av

    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture
def encode_video():
    """``encode_video(path, frames, fps=25, codec="ffv1", pix_fmt="bgr0", options=None)`` writes a test video."""
    pytest.importorskip("av")
    return _encode_video
