"""uint8 and JPEG outputs of the datasets, ClipNormalize, collate_clips and decoding on the device.

The uint8 path must equal the float path: the same pixels at the same positions (crop box and flip from the
same per-clip draws), within 1/255 before normalisation, for train and eval transforms.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, default_collate
from torchvision.io import encode_jpeg, encode_png, write_file

from lifting_dfer.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipDataset,
    ClipNormalize,
    ClipTransform,
    CorruptFrameError,
    JpegClip,
    JpegClips,
    collate_clips,
    crop_box,
    read_jpeg_bytes,
)
from lifting_dfer.normalization import UNIT, Normalization

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def smooth_frames(t: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth random uint8 frames (upsampled noise: JPEG keeps them close to themselves)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(t, 3, max(h // 4, 2), max(w // 4, 2), generator=g)
    return F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False).mul(255).round().to(torch.uint8)


def write_clip(folder, frames, *, png=False):
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames, start=1):
        data = encode_png(frame) if png else encode_jpeg(frame, quality=95)
        write_file(str(folder / f"{k}.{'png' if png else 'jpg'}"), data)
    return folder


@pytest.fixture(scope="module")
def clips_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for i, (h, w) in enumerate([(20, 26), (24, 24), (18, 30), (22, 22)]):
        write_clip(root / f"{i:02d}", smooth_frames(7 + i, h, w, seed=i))
    return root


def dataset(root, output, *, train, size=12, **kwargs):
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    return ClipDataset(folders, list(range(len(folders))), [f"c{i}" for i in range(len(folders))], num_frames=6,
                       size=size, train=train, seed=5, output=output, **kwargs)  # fmt: skip


def reference_item(frames: torch.Tensor, size: int, train: bool, generator: torch.Generator) -> torch.Tensor:
    """The augmentation written plainly: the draws in ClipTransform's order, box, flip, float resize per frame."""
    h, w = frames.shape[-2:]
    short = min(h, w)
    if train:
        u = torch.rand((3,), generator=generator, dtype=torch.float64).tolist()
        flip = torch.rand((), generator=generator).item() < 0.5
        side = max(1, min(short, round((0.8 + 0.2 * u[0]) * short)))
        top, left = int(u[1] * (h - side + 1)), int(u[2] * (w - side + 1))
    else:
        flip, side = False, short
        top, left = (h - side) // 2, (w - side) // 2
    crop = frames[:, :, top : top + side, left : left + side].float()
    if flip:
        crop = torch.stack([f[:, :, torch.arange(side - 1, -1, -1)] for f in crop])
    if side != size:
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return crop.permute(1, 0, 2, 3)  # (3, t, size, size) pixel values


# ------------------------------------------------------------------------------------------- uint8 == float


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_uint8_items_equal_float_items_after_device_normalisation(clips_root, train):
    as_float, as_uint8 = dataset(clips_root, "float", train=train), dataset(clips_root, "uint8", train=train)
    normalize = ClipNormalize()
    for epoch in range(3):
        as_float.set_epoch(epoch)
        as_uint8.set_epoch(epoch)
        for i in range(len(as_float)):
            (x, y), (u, v) = as_float[i], as_uint8[i]
            assert u.dtype == torch.uint8 and u.shape == x.shape == (3, 6, 12, 12) and y == v
            torch.testing.assert_close(normalize(u), x, rtol=0, atol=0)  # bit for bit on the CPU
            # before normalisation: the float clip's pixels, within 1/255
            torch.testing.assert_close(u.float() / 255, x * STD + MEAN, rtol=0, atol=1 / 255)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("size", [12, 30, 20])  # upsampled, downsampled, and the frame side itself
@given(seed=st.integers(0, 2**31 - 1), shape=st.tuples(st.integers(2, 5), st.integers(14, 30), st.integers(14, 30)))
def test_uint8_transform_crops_and_flips_where_a_plain_reference_does(train, size, seed, shape):
    t, h, w = shape
    frames = smooth_frames(t, h, w, seed=seed % 1000)
    out = ClipTransform(size, train=train, output="uint8")(frames, torch.Generator().manual_seed(seed))
    expected = reference_item(frames, size, train, torch.Generator().manual_seed(seed))
    assert out.dtype == torch.uint8 and out.shape == (3, t, size, size)
    # uint8 resizing rounds to integers; a crop or flip one pixel off would differ by far more on these frames
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=1.01)


def test_uint8_clip_is_channels_last_in_memory_and_float_clip_contiguous():
    frames = smooth_frames(3, 16, 20, seed=0)
    u = ClipTransform(8, train=True, output="uint8")(frames, torch.Generator().manual_seed(0))
    x = ClipTransform(8, train=True)(frames, torch.Generator().manual_seed(0))
    assert u.permute(1, 2, 3, 0).is_contiguous()  # (t, h, w, c) in memory: no transposing copy in the worker
    assert x.is_contiguous()


def test_output_is_checked_and_kept_by_subsets(clips_root):
    with pytest.raises(ValueError, match="output: expected 'float', 'uint8' or 'jpeg'"):
        dataset(clips_root, "int8", train=True)
    with pytest.raises(ValueError, match="output: expected 'float' or 'uint8'"):
        ClipTransform(8, output="jpeg")
    with pytest.raises(ValueError, match="custom transform needs decoded frames"):
        dataset(clips_root, "jpeg", train=True, transform=lambda frames, generator: frames)
    ds = dataset(clips_root, "uint8", train=True)
    val = ds.subset([0, 1], train=False)
    assert val.output == "uint8" and val[0][0].dtype == torch.uint8 and "output='uint8'" in repr(val)


# ------------------------------------------------------------------------------------------- ClipNormalize


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)))
def test_clip_normalize_matches_the_plain_formula_for_any_layout(shape):
    b, t, h, w = shape
    memory = torch.randint(0, 256, (b, t, h, w, 3), dtype=torch.uint8)
    clips = memory.permute(0, 4, 1, 2, 3)  # channels_last_3d, as collate_clips delivers
    out = ClipNormalize()(clips)
    expected = (clips.double() / 255 - MEAN.double()) / STD.double()
    assert out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(ClipNormalize()(clips[0]), out[0], rtol=0, atol=0)  # (3, t, h, w) too


def test_clip_normalize_uses_the_given_normalization_and_float_pixels():
    pixels = torch.tensor([0.0, 51.0, 255.0]).view(1, 3, 1, 1, 1).expand(2, 3, 2, 2, 2)
    torch.testing.assert_close(ClipNormalize(UNIT)(pixels)[0, :, 0, 0, 0], torch.tensor([0.0, 0.2, 1.0]))
    odd = Normalization((0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    expected = (torch.tensor([0.0, 0.2, 1.0]) - 0.5) / torch.tensor([0.25, 0.5, 1.0])
    torch.testing.assert_close(ClipNormalize(odd)(pixels.to(torch.uint8))[1, :, 1, 1, 1], expected)
    assert "std=(0.25, 0.5, 1.0)" in repr(ClipNormalize(odd))
    assert ClipNormalize().state_dict() == {}  # constants, not weights: nothing to save or load


@pytest.mark.parametrize(
    "bad",
    [torch.zeros(3, 4, 4, dtype=torch.uint8), torch.zeros(2, 4, 2, 4, 4, dtype=torch.uint8),
     torch.zeros(1, 1, 3, 2, 4, 4, dtype=torch.uint8), "clip"],
)  # fmt: skip
def test_clip_normalize_rejects_other_shapes(bad):
    with pytest.raises(ValueError, match="expected shape 'b c t h w' or 'c t h w' with c=3"):
        ClipNormalize()(bad)


def test_clip_normalize_rejects_non_pixel_dtypes():
    with pytest.raises(TypeError, match="expected pixel values"):
        ClipNormalize()(torch.zeros(3, 2, 2, 2, dtype=torch.bool))


@cuda
def test_clip_normalize_on_cuda_equals_the_cpu():
    clips = torch.randint(0, 256, (2, 4, 8, 8, 3), dtype=torch.uint8).permute(0, 4, 1, 2, 3)
    out = ClipNormalize().cuda()(clips.cuda())
    torch.testing.assert_close(out.cpu(), ClipNormalize()(clips), rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------- collate_clips


def test_collate_clips_keeps_the_channels_last_layout_and_values():
    memory = torch.randint(0, 256, (3, 4, 5, 6, 3), dtype=torch.uint8)
    items = [(m.permute(3, 0, 1, 2), k) for k, m in enumerate(memory)]
    clips, labels = collate_clips(items)
    assert clips.is_contiguous(memory_format=torch.channels_last_3d) and labels.tolist() == [0, 1, 2]
    torch.testing.assert_close(clips, default_collate(items)[0], rtol=0, atol=0)


def test_collate_clips_stacks_contiguous_clips_as_default_collate_does():
    items = [(torch.randn(3, 2, 4, 4), 1, "a"), (torch.randn(3, 2, 4, 4), 0, "b")]
    clips, labels, names = collate_clips(items)
    torch.testing.assert_close(clips, torch.stack([x for x, *_ in items]), rtol=0, atol=0)
    assert clips.is_contiguous() and labels.tolist() == [1, 0] and list(names) == ["a", "b"]


def test_uint8_batches_from_two_workers_equal_the_main_process_batches(clips_root):
    ds = dataset(clips_root, "uint8", train=True)
    batches = [list(DataLoader(ds, batch_size=2, num_workers=w, collate_fn=collate_clips)) for w in (0, 2)]
    for (a, ya), (b, yb) in zip(*batches):
        assert b.is_contiguous(memory_format=torch.channels_last_3d)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert ya.tolist() == yb.tolist()


# ------------------------------------------------------------------------------------------- JPEG on the device


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_jpeg_items_decoded_in_a_batch_match_the_uint8_items(clips_root, train):
    as_jpeg, as_uint8 = dataset(clips_root, "jpeg", train=train), dataset(clips_root, "uint8", train=train)
    items = [as_jpeg[i] for i in range(len(as_jpeg))]
    assert isinstance(items[0][0], JpegClip) and items[0][0].lengths.shape == (6,)
    batch, labels = collate_clips(items)
    assert isinstance(batch, JpegClips) and batch.lengths.shape == (4, 6) and labels.tolist() == [0, 1, 2, 3]
    decoded = batch.decode("cpu")
    expected = torch.stack([as_uint8[i][0] for i in range(len(as_uint8))]).float()
    assert decoded.shape == expected.shape == (4, 3, 6, 12, 12)
    # the same decoder, crops and flips; the resize in float instead of uint8 moves values by its rounding
    torch.testing.assert_close(decoded, expected, rtol=0, atol=1.01)
    assert (decoded - expected).abs().mean() < 0.5


def test_jpeg_frames_of_another_size_are_resized_to_the_first(tmp_path):
    folder = write_clip(tmp_path / "clip", smooth_frames(3, 16, 16, seed=1))
    write_file(str(folder / "4.jpg"), encode_jpeg(smooth_frames(1, 24, 20, seed=2)[0], quality=95))
    ds = ClipDataset([folder], [0], ["a"], num_frames=4, size=16, output="jpeg")
    decoded = collate_clips([ds[0]])[0].decode()
    expected = ClipDataset([folder], [0], ["a"], num_frames=4, size=16, output="uint8")[0][0].float()
    torch.testing.assert_close(decoded[0], expected, rtol=0, atol=1.01)


def test_read_jpeg_bytes_rejects_other_formats_and_skips_empty_files(tmp_path):
    png = write_clip(tmp_path / "png", smooth_frames(2, 8, 8, seed=0), png=True)
    with pytest.raises(CorruptFrameError, match="not a JPEG file"):
        read_jpeg_bytes(sorted(png.iterdir()), [0, 1])
    jpg = write_clip(tmp_path / "jpg", smooth_frames(3, 8, 8, seed=0))
    (jpg / "2.jpg").write_bytes(b"")
    files = sorted(jpg.iterdir())
    data, skipped = read_jpeg_bytes(files, [0, 1, 2], on_corrupt="skip")
    assert skipped == 1 and torch.equal(data[1], data[0])  # the nearest readable frame, earlier first
    assert torch.equal(data[2], torch.frombuffer(bytearray(files[2].read_bytes()), dtype=torch.uint8))


def test_jpeg_collation_needs_one_size_and_frame_count():
    a = JpegClip.build([torch.tensor([255, 216, 0, 0], dtype=torch.uint8)] * 2, None, False, 8)
    with pytest.raises(ValueError, match="one size and frame count per batch"):
        JpegClips.collate([a, a._replace(size=9)])


def test_centred_crop_box_matches_the_eval_transform():
    assert crop_box(10, 16) == (0, 3, 10) and crop_box(17, 12) == (2, 0, 12)


@cuda
def test_jpeg_batches_decoded_on_cuda_match_the_cpu_within_decoder_differences(clips_root):
    as_jpeg = dataset(clips_root, "jpeg", train=True)
    batch, _ = collate_clips([as_jpeg[i] for i in range(len(as_jpeg))])
    on_gpu, on_cpu = batch.decode("cuda"), batch.decode("cpu")
    assert on_gpu.is_cuda and on_gpu.shape == on_cpu.shape
    diff = (on_gpu.cpu() - on_cpu).abs()
    assert diff.mean() < 2.0 and diff.max() < 32  # nvJPEG's IDCT and chroma upsampling differ from libjpeg-turbo's
