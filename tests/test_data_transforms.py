"""Clip transforms: one crop box and one flip for all frames, exact normalisation, deterministic test mode."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lifting_dfer.data import IMAGENET_MEAN, IMAGENET_STD, ClipTransform, random_crop_box, resize_clip

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)


def random_frames(t=4, h=12, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, 3, h, w), generator=g, dtype=torch.uint8)


def test_output_shape_dtype_and_layout():
    out = ClipTransform(8, train=True)(random_frames(5, 12, 16), torch.Generator().manual_seed(0))
    assert out.shape == (3, 5, 8, 8)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("seed", range(8))
def test_identical_frames_stay_identical_after_train_transform(seed):
    frame = random_frames(1, 20, 24, seed=seed)
    clip = frame.expand(6, -1, -1, -1).contiguous()
    out = ClipTransform(10, train=True, crop_scale=(0.5, 1.0))(clip, torch.Generator().manual_seed(seed))
    for k in range(1, 6):
        torch.testing.assert_close(out[:, k], out[:, 0], rtol=0, atol=0)


@pytest.mark.parametrize("seed", range(6))
def test_crop_and_flip_are_shared_by_all_frames(seed):
    # frame k = base + 10 k: a shared crop/flip/resize (linear ops) keeps the difference a per-channel constant.
    base = torch.randint(0, 150, (1, 3, 18, 18), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    clip = torch.cat([base + 10 * k for k in range(4)])
    out = ClipTransform(7, train=True, crop_scale=(0.4, 0.9))(clip, torch.Generator().manual_seed(seed))
    for k in range(4):
        expected = (10 * k / 255.0) / STD[:, 0]
        # uint8 resizing rounds each frame to integers: allow 1 grey level either way
        torch.testing.assert_close(out[:, k] - out[:, 0], expected.expand(3, 7, 7), atol=1.01 / 255 / 0.224, rtol=0)


def test_flip_draw_is_a_horizontal_mirror_of_the_same_crop():
    clip = random_frames(3, 16, 16, seed=1)
    kept = ClipTransform(8, train=True, flip_p=0.0)(clip, torch.Generator().manual_seed(5))
    flipped = ClipTransform(8, train=True, flip_p=1.0)(clip, torch.Generator().manual_seed(5))
    torch.testing.assert_close(flipped, kept.flip(-1), rtol=0, atol=0)


def test_train_mode_flips_about_half_the_clips():
    clip = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    clip[..., :2] = 255  # left half bright
    tf = ClipTransform(4, train=True, crop_scale=(1.0, 1.0))
    g = torch.Generator().manual_seed(0)
    flips = sum(bool(tf(clip, g)[0, 0, 0, 0] < 0) for _ in range(200))
    assert 70 < flips < 130


def test_normalisation_matches_imagenet_formula():
    values = torch.tensor([0, 64, 128, 255], dtype=torch.uint8)
    clip = values.view(4, 1, 1, 1).expand(4, 3, 5, 5).contiguous()
    out = ClipTransform(5)(clip)
    expected = (values.float().view(1, 4, 1, 1) / 255.0 - MEAN) / STD
    torch.testing.assert_close(out, expected.expand(3, 4, 5, 5), atol=1e-5, rtol=0)


def test_test_mode_is_the_centred_square_crop_without_randomness():
    clip = random_frames(2, 6, 10, seed=3)
    out1 = ClipTransform(6)(clip, torch.Generator().manual_seed(0))
    out2 = ClipTransform(6)(clip, torch.Generator().manual_seed(1))
    crop = clip[:, :, :, 2:8].float().permute(1, 0, 2, 3)  # (3, t, 6, 6), no resize needed
    expected = (crop / 255.0 - MEAN) / STD
    torch.testing.assert_close(out1, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)


def test_resize_clip_is_one_interpolation_over_the_whole_clip():
    clip = random_frames(3, 9, 13)
    out = resize_clip(clip, 5)
    per_frame = torch.stack([resize_clip(f[None], 5)[0] for f in clip])
    assert out.shape == (3, 3, 5, 5) and out.dtype == torch.float32
    torch.testing.assert_close(out, per_frame)
    # the uint8 path equals the float path up to rounding to integers
    reference = torch.nn.functional.interpolate(clip.float(), size=(5, 5), mode="bilinear", antialias=True)
    assert (out - reference).abs().max() <= 1.0
    torch.testing.assert_close(resize_clip(clip.float(), 5), reference)
    # constant frames stay constant (antialiased bilinear preserves the mean)
    const = torch.full((2, 3, 9, 13), 77, dtype=torch.uint8)
    torch.testing.assert_close(resize_clip(const, 4), torch.full((2, 3, 4, 4), 77.0))


@pytest.mark.parametrize("seed", range(30))
def test_random_crop_box_lies_inside_the_frame(seed):
    g = torch.Generator().manual_seed(seed)
    h, w = 10 + seed % 7, 20 - seed % 5
    top, left, side = random_crop_box(h, w, scale=(0.5, 0.9), generator=g)
    short = min(h, w)
    assert round(0.5 * short) <= side <= round(0.9 * short)
    assert 0 <= top <= h - side and 0 <= left <= w - side


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"flip_p": 1.5}, "flip_p"),
        ({"crop_scale": (0.0, 1.0)}, "scale"),
        ({"crop_scale": (0.9, 0.5)}, "scale"),
        ({"std": (0.0, 1.0, 1.0)}, "std"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    size = kwargs.pop("size", 8)
    with pytest.raises(ValueError, match=match):
        ClipTransform(size, **kwargs)


@pytest.mark.parametrize("frames", [torch.zeros(3, 8, 8, dtype=torch.uint8), torch.zeros(2, 1, 8, 8), "clip"])
def test_bad_frames_raise(frames):
    with pytest.raises(ValueError, match="t c h w"):
        ClipTransform(4)(frames)


@pytest.mark.parametrize(
    "frames", [[], [torch.zeros(3, 8, 8, dtype=torch.uint8), torch.zeros(3, 8, 9, dtype=torch.uint8)]]
)
def test_bad_frame_lists_raise_naming_the_shapes(frames):
    with pytest.raises(ValueError, match="frames: expected"):
        ClipTransform(4)(frames)


def _reference_uint8_clip(frames, size, generator, crop_scale):
    """The uint8 train transform written plainly: the drawn square crop, ``Tensor.flip`` when drawn, one uint8
    antialiased bilinear resize, ``(3, t, size, size)``."""
    from lifting_dfer.data import crop_box

    draw, flip = ClipTransform(size, train=True, crop_scale=crop_scale).draw(generator)
    top, left, side = crop_box(frames.shape[-2], frames.shape[-1], draw)
    crop = frames[:, :, top : top + side, left : left + side]
    crop = (crop.flip(-1) if flip else crop).contiguous(memory_format=torch.channels_last)
    if side != size:
        crop = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True)
    return crop.permute(1, 0, 2, 3)


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 4), h=st.integers(4, 40), w=st.integers(4, 40), size=st.integers(2, 32),
       seed=st.integers(0, 2**16), opencv=st.booleans(), as_list=st.booleans())  # fmt: skip
def test_uint8_clip_equals_the_plain_crop_flip_resize(t, h, w, size, seed, opencv, as_list):
    # the fast path (numpy views, one copy of each crop, cv2.flip where OpenCV is installed) gives the same bytes
    # as the plain one, with and without OpenCV, for a stacked clip or a list of decoded frames
    import lifting_dfer.data.transforms as transforms

    frames = random_frames(t, h, w, seed=seed).contiguous(memory_format=torch.channels_last)
    cv2 = transforms._opencv() if opencv else None
    with pytest.MonkeyPatch.context() as m:
        m.setattr(transforms, "_opencv", lambda: cv2)
        out = ClipTransform(size, train=True, crop_scale=(0.3, 1.0), output="uint8")(
            list(frames.unbind(0)) if as_list else frames, torch.Generator().manual_seed(seed)
        )
    expected = _reference_uint8_clip(frames, size, torch.Generator().manual_seed(seed), (0.3, 1.0))
    assert out.dtype == torch.uint8 and out.shape == (3, t, size, size)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
