"""Frame folders: natural ordering, decoding, corrupt frames (raise / skip with a count and a warning)."""

from __future__ import annotations

import logging

import pytest
import torch
from torchvision.io import encode_jpeg, encode_png, write_file

from lifting_dfer.data import CorruptFrameError, list_frames, natural_key, read_clip, read_frame
from lifting_dfer.data import frames as frames_module

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def const_frame(value: int, h: int = 6, w: int = 6) -> torch.Tensor:
    return torch.full((3, h, w), value, dtype=torch.uint8)


def write_png(path, value, h=6, w=6):
    write_file(str(path), encode_png(const_frame(value, h, w)))


def write_clip(folder, n, *, fmt="{}.png"):
    """Frame k (0-based, file number k + 1) is constant 20 k + 10."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        p = folder / fmt.format(k + 1)
        write_png(p, 20 * k + 10)
        paths.append(p)
    return paths


def test_natural_key_orders_by_integer_value():
    assert sorted(["10.jpg", "2.jpg", "1.jpg", "9.jpg"], key=natural_key) == ["1.jpg", "2.jpg", "9.jpg", "10.jpg"]
    assert sorted(["00001_00011.jpg", "00001_00002.jpg", "00001_00100.jpg"], key=natural_key) == [
        "00001_00002.jpg",
        "00001_00011.jpg",
        "00001_00100.jpg",
    ]
    assert sorted(["frame_100.png", "frame_9.png", "Frame_10.png"], key=natural_key) == [
        "frame_9.png",
        "Frame_10.png",
        "frame_100.png",
    ]


def test_list_frames_sorts_naturally_and_ignores_other_files(tmp_path):
    for name in ["10.jpg", "2.jpg", "1.JPG", "3.png", "notes.txt", ".hidden.jpg", "4.webp"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_frames(tmp_path)] == ["1.JPG", "2.jpg", "3.png", "4.webp", "10.jpg"]


def test_list_frames_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        list_frames(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no frames"):
        list_frames(tmp_path / "empty")


def test_read_frame_png_is_exact_and_grey_becomes_rgb(tmp_path):
    img = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    write_file(str(tmp_path / "a.png"), encode_png(img))
    torch.testing.assert_close(read_frame(tmp_path / "a.png"), img, rtol=0, atol=0)
    grey = torch.randint(0, 256, (1, 5, 7), dtype=torch.uint8)
    write_file(str(tmp_path / "g.png"), encode_png(grey))
    torch.testing.assert_close(read_frame(tmp_path / "g.png"), grey.expand(3, 5, 7), rtol=0, atol=0)


def test_read_frame_jpeg_is_close(tmp_path):
    write_file(str(tmp_path / "a.jpg"), encode_jpeg(const_frame(100, 8, 8), quality=95))
    frame = read_frame(tmp_path / "a.jpg")
    assert frame.shape == (3, 8, 8) and frame.dtype == torch.uint8
    assert (frame.int() - 100).abs().max() <= 2


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated_jpeg", "truncated_png"])
def test_corrupt_frame_raises_naming_the_file(tmp_path, content):
    if content == "truncated_jpeg":
        content = encode_jpeg(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)).numpy().tobytes()[:200]
    elif content == "truncated_png":
        content = encode_png(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)).numpy().tobytes()[:100]
    path = tmp_path / "bad_07.jpg"
    path.write_bytes(content)
    with pytest.raises(CorruptFrameError, match="bad_07.jpg"):
        read_frame(path)


def test_read_clip_stacks_the_requested_indices(tmp_path):
    paths = write_clip(tmp_path / "c", 5)
    clip, skipped = read_clip(paths, [0, 0, 2, 4, 4])
    assert clip.shape == (5, 3, 6, 6) and skipped == 0
    assert clip[:, 0, 0, 0].tolist() == [10, 10, 50, 90, 90]


def test_read_clip_resizes_frames_of_another_size(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    write_png(folder / "1.png", 40, 6, 6)
    write_png(folder / "2.png", 80, 9, 12)
    clip, _ = read_clip(list_frames(folder), [0, 1])
    assert clip.shape == (2, 3, 6, 6)
    assert clip[1].unique().tolist() == [80]


def test_corrupt_frame_in_clip_raises_by_default(tmp_path):
    paths = write_clip(tmp_path / "c", 4)
    paths[2].write_bytes(b"garbage")
    with pytest.raises(CorruptFrameError, match=r"c/3\.png"):
        read_clip(paths, [0, 1, 2, 3])


def test_skip_uses_nearest_readable_frame_counts_and_warns(tmp_path, caplog):
    paths = write_clip(tmp_path / "c", 6)
    paths[2].write_bytes(b"garbage")  # neighbours 1 (value 30) and 3 (value 70): the earlier wins the tie
    paths[5].write_bytes(b"")  # nearest readable is 4 (value 90)
    with caplog.at_level(logging.WARNING, logger="lifting_dfer.data.frames"):
        clip, skipped = read_clip(paths, [0, 2, 2, 5], on_corrupt="skip")
    assert clip[:, 0, 0, 0].tolist() == [10, 30, 30, 110 - 20]
    assert skipped == 2, "each unreadable file counted once"
    assert sum("3.png" in r.getMessage() for r in caplog.records) == 1
    assert sum("6.png" in r.getMessage() for r in caplog.records) == 1


def test_skip_looks_beyond_the_sampled_frames_and_past_several_bad_ones(tmp_path):
    paths = write_clip(tmp_path / "c", 6)
    for k in (0, 1, 2):
        paths[k].write_bytes(b"bad")
    clip, skipped = read_clip(paths, [0], on_corrupt="skip")
    assert clip[0, 0, 0, 0] == 70 and skipped == 1


def test_whole_clip_unreadable_raises_naming_the_clip(tmp_path):
    paths = write_clip(tmp_path / "clip_0042", 3)
    for p in paths:
        p.write_bytes(b"bad")
    with pytest.raises(CorruptFrameError, match="clip_0042"):
        read_clip(paths, [0, 1], on_corrupt="skip")


def test_read_clip_bad_arguments(tmp_path):
    paths = write_clip(tmp_path / "c", 2)
    with pytest.raises(IndexError, match="outside"):
        read_clip(paths, [0, 2])
    with pytest.raises(ValueError, match="on_corrupt"):
        read_clip(paths, [0], on_corrupt="ignore")
    with pytest.raises(ValueError, match="at least one"):
        read_clip([], [0])


def test_pillow_fallback_decodes_the_same_frames_and_reports_corrupt_ones(tmp_path, monkeypatch):
    img = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    write_file(str(tmp_path / "a.png"), encode_png(img))
    write_file(str(tmp_path / "g.png"), encode_png(img[:1]))
    (tmp_path / "bad.jpg").write_bytes(encode_jpeg(img).numpy().tobytes()[:60])
    monkeypatch.setattr(frames_module, "decode_image", None)
    torch.testing.assert_close(read_frame(tmp_path / "a.png"), img, rtol=0, atol=0)
    torch.testing.assert_close(read_frame(tmp_path / "g.png"), img[:1].expand(3, 5, 7), rtol=0, atol=0)
    with pytest.raises(CorruptFrameError, match="bad.jpg"):
        read_frame(tmp_path / "bad.jpg")


def test_sixteen_bit_png_is_scaled_to_uint8(tmp_path):
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    grey = (np.arange(35).reshape(5, 7) * 1000).astype(np.uint16)
    image.fromarray(grey).save(tmp_path / "g16.png")
    frame = read_frame(tmp_path / "g16.png")
    assert frame.dtype == torch.uint8 and frame.shape == (3, 5, 7)
    assert frame[0].tolist() == (grey >> 8).tolist()


def write_jpeg_clip(folder, n, *, seed=0, h=24, w=20):
    """n random JPEG frames; frame 1 grey (one channel), frame 2 of another size when n > 2."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    paths = []
    for k in range(n):
        shape = (1 if k == 1 else 3, h + 8 if k == 2 else h, w)
        p = folder / f"{k + 1}.jpg"
        write_file(str(p), encode_jpeg(torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)))
        paths.append(p)
    return paths


def test_jpeg_clip_is_decoded_in_one_call_with_read_frames_pixels(tmp_path, monkeypatch):
    from lifting_dfer.data import read_frames

    paths = write_jpeg_clip(tmp_path / "c", 4)
    calls = []
    decode = frames_module.decode_jpeg
    monkeypatch.setattr(
        frames_module, "decode_jpeg", lambda files, **kw: calls.append(len(files)) or decode(files, **kw)
    )
    out, skipped = read_frames(paths, [3, 0, 1, 1, 2])
    assert calls == [4] and skipped == 0, "one call for the distinct files"
    expected = [read_frame(paths[i]) for i in (3, 0, 1, 1)]
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert out[2].shape == (3, 24, 20), "grey becomes RGB"
    assert out[4].shape == (3, 24, 20), "a frame of another size is resized to the first sampled frame's"
    stacked, _ = read_clip(paths, [3, 0, 1, 1, 2])
    torch.testing.assert_close(stacked, torch.stack(out), rtol=0, atol=0)


@pytest.mark.parametrize("damage", ["truncated", "empty", "missing", "png"])
def test_a_bad_file_in_a_jpeg_clip_is_found_frame_by_frame(tmp_path, damage, caplog):
    paths = write_jpeg_clip(tmp_path / "c", 4)
    good = read_frame(paths[1])
    if damage == "truncated":
        paths[2].write_bytes(paths[2].read_bytes()[:200])
    elif damage == "empty":
        paths[2].write_bytes(b"")
    elif damage == "missing":
        paths[2].unlink()
    else:
        paths[2].write_bytes(encode_png(torch.zeros(3, 24, 20, dtype=torch.uint8)).numpy().tobytes())
    error = FileNotFoundError if damage == "missing" else CorruptFrameError
    if damage == "png":  # not an error: a PNG among JPEGs is decoded by decode_image
        clip, skipped = read_clip(paths, [2])
        assert skipped == 0 and clip.count_nonzero() == 0
        return
    with pytest.raises(error, match=r"c/3\.jpg"):
        read_clip(paths, [0, 2])
    with caplog.at_level(logging.WARNING, logger="lifting_dfer.data.frames"):
        clip, skipped = read_clip(paths, [2], on_corrupt="skip")
    assert skipped == 1 and "3.jpg" in caplog.text
    torch.testing.assert_close(clip[0], good, rtol=0, atol=0)  # the earlier neighbour wins the tie


def test_reading_a_folder_or_a_missing_file_names_it(tmp_path):
    (tmp_path / "7.jpg").mkdir()
    for name in ("7.jpg", "8.jpg", "7.jpg/x.jpg"):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            read_frame(tmp_path / name)


def test_frame_files_are_list_frames_as_strings(tmp_path):
    from lifting_dfer.data import frame_files

    write_clip(tmp_path / "c", 12)
    (tmp_path / "c" / "notes.txt").write_text("x")
    assert frame_files(tmp_path / "c") == [str(p) for p in list_frames(tmp_path / "c")]
    with pytest.raises(FileNotFoundError, match="nope"):
        frame_files(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="notes.txt"):
        frame_files(tmp_path / "c" / "notes.txt")
