"""A prepared folder as a dataset (``--dataset folder``) and its check (``check-data folder``): lifting_dfer.data.folder.

The folders here are written by hand (PNG frames whose grey level encodes the frame index), so that what is read
can be traced to the frame it came from.
"""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torchvision.io import encode_png, write_file

from lifting_dfer.data import FolderDataset, check_dataset, uniform_indices
from lifting_dfer.data.check import check_folder
from lifting_dfer.data.check import main as check_main
from lifting_dfer.data.folder import (
    MANIFEST_COLUMNS,
    ManifestRow,
    folder_datasets,
    folder_sampling,
    parse_manifest,
    read_manifest,
    write_manifest,
)
from lifting_dfer.normalization import IMAGENET

GREY_STEP = 9  # frame i (0-based) is a flat image of grey level 9 * i + 10


def write_clip(root, row: ManifestRow, size: int = 16) -> None:
    folder = root / "clips" / row.clip
    folder.mkdir(parents=True)
    for i in range(row.frames):
        image = torch.full((3, size, size), GREY_STEP * i + 10, dtype=torch.uint8)
        write_file(str(folder / f"{i + 1:06d}.png"), encode_png(image))


def make_folder(root, rows: list[ManifestRow]):
    for row in rows:
        write_clip(root, row)
    write_manifest(root, rows)
    return root


def row(clip: str, split: str, frames: int = 20, fps: float = 25.0, share: float | None = 1.0) -> ManifestRow:
    return ManifestRow(clip, clip.split("/")[0], split, frames, fps, 30.0, share, f"{clip}.mp4")


def small_rows() -> list[ManifestRow]:
    rows = []
    for label in ("smile", "frown", "surprise"):
        rows += [row(f"{label}/a", "train"), row(f"{label}/b", "train", frames=11), row(f"{label}/c", "val"),
                 row(f"{label}/d", "test", frames=7, fps=10.0)]  # fmt: skip
    return rows


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "dst", small_rows())


def test_manifest_round_trips_and_is_sorted_by_clip(tmp_path):
    rows = [row("b/x", "test", share=None), row("a/y", "train", fps=29.97)]
    write_manifest(tmp_path, rows)
    text = (tmp_path / "manifest.csv").read_text().splitlines()
    assert text[0] == ",".join(MANIFEST_COLUMNS) and text[1].startswith("a/y,a,train,20,29.97,30.0,1.0000,")
    assert read_manifest(tmp_path) == sorted(rows)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a/x,a,holdout,20,25.0,25.0,1,a.mp4", "split: expected one of train, val, test, got 'holdout'"),
        ("a/x,a,train,twenty,25.0,25.0,1,a.mp4", "frames, fps, source_fps, face_share: expected numbers"),
        ("a/x,a,train,20,0,25.0,1,a.mp4", "expected frames >= 1 and fps > 0"),
        ("a/x,a,train,20,25.0,25.0,1.5,a.mp4", "face_share: expected a share in [0, 1]"),
        ("a/x,a,train,20", "expected 8 fields"),
    ],
)
def test_a_malformed_manifest_row_is_named_by_file_and_line(tmp_path, line, message):
    (tmp_path / "manifest.csv").write_text(",".join(MANIFEST_COLUMNS) + "\nb/y,b,train,5,25,25,1,b.mp4\n" + line + "\n")
    with pytest.raises(ValueError, match=f"manifest.csv:3: {message}".replace("[", r"\[").replace("]", r"\]")):
        read_manifest(tmp_path)


def test_a_clip_listed_twice_and_a_missing_manifest_are_errors(tmp_path):
    (tmp_path / "manifest.csv").write_text(",".join(MANIFEST_COLUMNS) + "\na/x,a,train,5,25,25,1,a.mp4\n" * 2)
    _, issues = parse_manifest(tmp_path / "manifest.csv")
    assert [i.kind for i in issues] == ["repeated clip"] and "first at line 2" in issues[0].message
    with pytest.raises(FileNotFoundError, match="run lifting-dfer prepare SRC DST first"):
        read_manifest(tmp_path / "nothing")


def test_classes_are_the_sorted_labels_in_every_split(folder):
    for split, n in (("train", 6), ("val", 3), ("test", 3)):
        data = FolderDataset(folder, split=split, num_frames=4, size=16)
        assert data.class_names == ("frown", "smile", "surprise") and len(data) == n
        assert [data.class_names[y] for y in data.labels] == [
            r.label for r in read_manifest(folder) if r.split == split
        ]
    assert FolderDataset(folder, split="train").train and not FolderDataset(folder, split="test").train


def test_items_are_t0_frames_sampled_uniformly_over_the_whole_clip(folder):
    data = FolderDataset(folder, split="train", num_frames=4, size=16, train=False)
    index = [s.name for s in data.samples].index("b")  # 11 frames
    clip, label = data[index]
    assert clip.shape == (3, 4, 16, 16) and data.class_names[label] == data.rows[index].label
    expected = [GREY_STEP * i + 10 for i in uniform_indices(11, 4)]  # segment centres: frames 1, 4, 6, 9
    mean, std = torch.tensor(IMAGENET.mean), torch.tensor(IMAGENET.std)
    reference = (torch.tensor(expected, dtype=torch.float32)[None, :] / 255 - mean[:, None]) / std[:, None]
    torch.testing.assert_close(clip.mean(dim=(2, 3)), reference, atol=1e-5, rtol=0)


def test_training_sampling_is_t0_over_the_mean_clip_duration(folder):
    rows = read_manifest(folder)
    seconds = statistics.fmean(r.frames / r.fps for r in rows)  # 3 x (20/25, 11/25, 20/25, 7/10) / 12 clips
    sampling = FolderDataset(folder, split="val").training_sampling(16)
    assert sampling.dataset == "folder" and sampling.frames_per_clip == 16
    assert math.isclose(sampling.clip_seconds, seconds) and math.isclose(sampling.fps, 16 / seconds)
    assert folder_sampling(rows, 8).fps == pytest.approx(8 / seconds)


def test_without_val_clips_the_training_clips_are_split(tmp_path):
    rows = [r._replace(split="train") if r.split == "val" else r for r in small_rows()]
    root = make_folder(tmp_path / "dst", rows)
    train, val, test = folder_datasets(root, val_fraction=0.34, num_frames=4, size=16)
    assert (len(train), len(val), len(test)) == (6, 3, 3)  # 3 training clips per class: round(1.02) = 1 to val
    assert not val.train and set(val.samples).isdisjoint(train.samples)
    train, val, _ = folder_datasets(root, val_fraction=0.0, num_frames=4, size=16)
    assert len(train) == 9 and val is None


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("one label", ValueError, "has one label, smile: a classifier needs at least 2 labels"),
        (
            "no test",
            ValueError,
            "has no test clips (train 9, val 3, test 0): rerun lifting-dfer prepare with a --test-f",
        ),
        ("missing folder", FileNotFoundError, "clip 'frown/d' has no frame folder"),
    ],
)
def test_a_folder_that_cannot_train_says_why(tmp_path, change, error, message):
    rows = small_rows()
    if change == "one label":
        rows = [r for r in rows if r.label == "smile"]
    elif change == "no test":
        rows = [r._replace(split="train") if r.split == "test" else r for r in rows]
    root = make_folder(tmp_path / "dst", rows)
    if change == "missing folder":
        for frame in (root / "clips" / "frown" / "d").iterdir():
            frame.unlink()
        (root / "clips" / "frown" / "d").rmdir()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        FolderDataset(root, split="test")


def test_check_data_folder_counts_splits_and_classes(folder, capsys):
    report = check_dataset("folder", folder, num_frames=16)
    assert report.usable and report.dataset == "folder" and report.clips == 12
    assert [(s.split, s.clips, s.classes) for s in report.splits] == [
        ("train", 6, {"frown": 2, "smile": 2, "surprise": 2}),
        ("val", 3, {"frown": 1, "smile": 1, "surprise": 1}),
        ("test", 3, {"frown": 1, "smile": 1, "surprise": 1}),
    ]
    assert report.frames == 3 * (20 + 11 + 20 + 7) and sorted(report.short_clips) == sorted(
        f"{y}/{c}" for y in ("smile", "frown", "surprise") for c in "bd"
    )
    assert check_main(["folder", str(folder), "--no-progress"]) == 0
    assert "folder: usable (0 warnings)" in capsys.readouterr().out


def test_check_data_folder_lists_problems_and_warnings(folder, capsys):
    clean = check_folder(folder).fingerprint
    (folder / "clips" / "smile" / "a" / "000020.png").unlink()  # the manifest says 20 frames
    rows = read_manifest(folder)
    rows = [r._replace(face_share=0.25) if r.clip == "frown/b" else r for r in rows]
    rows = [r._replace(split="val") if r.clip in ("surprise/a", "surprise/b") else r for r in rows]
    write_manifest(folder, [*rows, row("smile/ghost", "train")])
    report = check_folder(folder)
    assert report.fingerprint != clean
    kinds = sorted(i.kind for i in report.problems)
    assert kinds == ["class without training clips", "missing clip", "missing frames"]
    assert [i.kind for i in report.warnings] == ["few faces"] and "25%" in report.warnings[0].message
    assert check_main(["folder", str(folder), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "[missing frames]" in out and "holds 19 frames, the manifest says 20" in out


def test_the_fingerprint_follows_the_frames_not_the_place(folder, tmp_path):
    import shutil

    before = check_folder(folder).fingerprint
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)
    assert check_folder(moved).fingerprint == before
    with pytest.raises(ValueError, match="takes no option frames_dir"):
        check_folder(folder, frames_dir="x")
