"""``lifting-dfer check-data``: counts, problems with their paths, warnings, exit statuses and the fingerprint."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_data_datasets import make_dfew, make_ferv, make_mafw

from lifting_dfer.cli import main as cli_main
from lifting_dfer.data import DFEW_OFFICIAL_COUNTS, check_dataset
from lifting_dfer.data.check import main

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

# 10 clips, 5 folds: fold f tests clips f and f + 5 (as DFEW, every clip is in exactly one test fold)
CLIPS = {i: (12 + i, 1 + i % 7) for i in range(1, 11)}


def dfew_copy(root, *, sixteen=False):
    make_dfew(root, clips=CLIPS, folds=(), sixteen=sixteen)
    for fold in range(1, 6):
        for split in ("train", "test"):
            ids = [c for c in CLIPS if (c % 5 == fold % 5) == (split == "test")]
            folder = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
            folder.mkdir(parents=True, exist_ok=True)
            rows = "".join(f"{c},{CLIPS[c][1]}\n" for c in ids)
            (folder / f"set_{fold}.csv").write_text("video_name,label\n" + rows)
    return root


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return dfew_copy(tmp_path_factory.mktemp("clean") / "DFEW")


def test_clean_copy_exits_0_with_the_counts(clean, capsys):
    assert main(["dfew", str(clean), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "frame folder: Clip/clip_224x224 (auto-detected; the only DFEW frame set present)" in out
    assert "|    1 | train | 8 (!) |     9356 |" in out and "|    5 |  test | 2 (!) |     2336 |" in out
    assert "10 clips, 175 frames" in out and "frames per clip: min 13, median 17.5, max 22" in out
    assert "[clip count] 10 of 10 split files" in out
    assert "DFEW: usable (1 warnings)" in out
    assert main(["dfew", str(clean), "--strict", "--no-progress"]) == 1, "--strict fails on warnings"


def test_broken_copy_lists_each_problem_with_its_path_and_exits_1(tmp_path, capsys):
    root = dfew_copy(tmp_path / "DFEW")
    shutil.rmtree(root / "Clip" / "clip_224x224" / "00004")
    zero = root / "Clip" / "clip_224x224" / "00002" / "00002_00003.jpg"
    zero.write_bytes(b"")
    split = root / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_1.csv"
    split.write_text(split.read_text().replace("3,4\n", "3,9\n"))  # clip 3: label 9 of 1..7
    assert cli_main(["check-data", "dfew", str(root), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "problems (3):" in out
    assert f"[bad label] {split}:3: label 9 outside 1..7" in out
    assert f"[zero-byte frame] {zero}" in out
    assert f"[missing clip] {root / 'Clip' / 'clip_224x224' / '00004'} (named at {split}:4)" in out
    assert "DFEW: 3 problems: fix them before training" in out


def test_usage_errors_exit_2(tmp_path, clean, capsys):
    assert main(["dfew", str(tmp_path / "nowhere")]) == 2
    assert "DFEW root" in capsys.readouterr().err
    assert main(["dfew", str(clean), "--data-arg", "frame_dir=x"]) == 2
    assert (
        "DFEW takes no option frame_dir; the path options are frames_dir, split_dir, split_file"
        in capsys.readouterr().err
    )
    assert main(["dfew", str(clean), "--data-arg", "frames_dir=clip_999"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["affectnet", str(clean)])
    assert info.value.code == 2


def test_manifest_holds_counts_classes_and_the_fingerprint(tmp_path, clean):
    manifest = tmp_path / "dfew.json"
    assert main(["dfew", str(clean), "--manifest", str(manifest), "--no-progress"]) == 0
    data = json.loads(manifest.read_text())
    assert data["fingerprint"].startswith("sha256:") and len(data["fingerprint"]) == 7 + 64
    assert (data["dataset"], data["frames_dir"], data["clips"], data["usable"]) == (
        "DFEW",
        "Clip/clip_224x224",
        10,
        True,
    )
    fold1 = {s["split"]: s for s in data["splits"] if s["fold"] == 1}
    assert fold1["test"]["clips"] == 2 and fold1["test"]["official"] == DFEW_OFFICIAL_COUNTS[(1, "test")]
    # fold 1 tests clips 1 (file label 2: Sad) and 6 (file label 7: Fear)
    assert fold1["test"]["classes"] == {
        "Happy": 0,
        "Sad": 1,
        "Neutral": 0,
        "Angry": 0,
        "Surprise": 0,
        "Disgust": 0,
        "Fear": 1,
    }
    assert fold1["test"]["file"] == "EmoLabel_DataSplit/test(single-labeled)/set_1.csv"
    assert sum(s["clips"] for s in data["splits"] if s["split"] == "test") == 10


def test_fingerprint_follows_names_sizes_and_split_files_not_the_location(tmp_path, clean):
    base = check_dataset("dfew", clean).fingerprint
    moved = shutil.copytree(clean, tmp_path / "elsewhere" / "DFEW")
    assert check_dataset("dfew", moved).fingerprint == base, "a moved copy keeps its fingerprint"
    frame = moved / "Clip" / "clip_224x224" / "00001" / "00001_00001.jpg"
    frame.write_bytes(frame.read_bytes() + b"\0")
    resized = check_dataset("dfew", moved).fingerprint
    frame.rename(frame.with_name("00001_00099.jpg"))
    renamed = check_dataset("dfew", moved).fingerprint
    split = moved / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv"
    split.write_text(split.read_text() + "\n")
    edited = check_dataset("dfew", moved).fingerprint
    assert len({base, resized, renamed, edited}) == 4


def test_16f_only_copy_is_detected_and_odd_frame_counts_warned(tmp_path, capsys):
    root = dfew_copy(tmp_path / "DFEW", sixteen=True)
    shutil.rmtree(root / "Clip" / "clip_224x224")
    (root / "Clip" / "clip_224x224_16f" / "00005" / "16.jpg").unlink()
    assert main(["dfew", str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "frame folder: Clip/clip_224x224_16f (auto-detected; the only DFEW frame set present)" in out
    assert "[frame count] " + str(root / "Clip" / "clip_224x224_16f" / "00005") + " holds 15 frames, expected 16" in out
    assert "1 clips have fewer than 16 frames" in out


def test_repeated_rows_leaks_and_conflicts_are_reported_with_the_readers_rules(tmp_path):
    root = dfew_copy(tmp_path / "DFEW")
    train = root / "EmoLabel_DataSplit" / "train(single-labeled)" / "set_2.csv"
    train.write_text(train.read_text() + "1,2\n2,3\n")  # clip 1: repeated; clip 2: in fold 2's test file (a leak)
    test = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_3.csv"
    test.write_text(test.read_text() + "3,1\n")  # clip 3: a second label
    report = check_dataset("dfew", root)
    kinds = {(i.kind, i.message.split(": ")[0].rsplit("/", 1)[-1]) for i in report.warnings}
    assert ("repeated row", "set_2.csv:10") in kinds
    assert any(i.kind == "train/test leak" and "'00002'" in i.message for i in report.warnings)
    assert [i.kind for i in report.problems] == ["conflicting labels"]
    assert "set_3.csv:4: clip '00003' has two labels: Angry at line 2 and Happy at line 4" in report.problems[0].message


def test_decode_finds_frames_that_do_not_decode(tmp_path):
    root = dfew_copy(tmp_path / "DFEW")
    bad = root / "Clip" / "clip_224x224" / "00007" / "00007_00004.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    assert check_dataset("dfew", root).usable, "names and sizes only: not noticed"
    report = check_dataset("dfew", root, decode=True, workers=2)
    assert [i.kind for i in report.problems] == ["unreadable frame"] and str(bad) in report.problems[0].message


def test_ferv39k_and_mafw_copies(tmp_path):
    ferv = check_dataset("ferv39k", make_ferv(tmp_path / "FERV39k"))
    assert [(s.split, s.clips, s.official) for s in ferv.splits] == [("train", 3, 31088), ("test", 1, 7847)]
    assert ferv.splits[0].classes["Sad"] == 1 and ferv.short_clips == [
        "2_ClipsforFaceCrop/Action/Sad/0010",
        "2_ClipsforFaceCrop/Daily/Angry/0001",
        "2_ClipsforFaceCrop/Daily/Fear/0104",
    ]
    root = make_mafw(tmp_path / "MAFW")
    mafw = check_dataset("mafw", root)
    assert mafw.num_frames == 32 and mafw.clips == 4
    assert [i.kind for i in mafw.problems] == ["missing split file"] * 6  # folds 2, 4, 5 of the fixture
    for frame in (root / "data" / "frames" / "00026").iterdir():  # an empty clip folder
        frame.unlink()
    assert "empty clip" in {i.kind for i in check_dataset("mafw", root).problems}


def test_fast_on_metadata(tmp_path):
    root = tmp_path / "DFEW"
    frames = root / "Clip" / "clip_224x224_16f"
    one = tmp_path / "frame.jpg"
    one.write_bytes(b"\xff\xd8 frame")
    rows = []
    for c in range(1, 501):  # 500 clips x 16 frames, hard links to one file
        folder = frames / f"{c:05d}"
        folder.mkdir(parents=True)
        for k in range(1, 17):
            (folder / f"{k}.jpg").hardlink_to(one)
        rows.append(f"{c},{1 + c % 7}")
    for fold in range(1, 6):
        for split in ("train", "test"):
            folder = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
            folder.mkdir(parents=True, exist_ok=True)
            chosen = [r for i, r in enumerate(rows) if (i % 5 == fold - 1) == (split == "test")]
            (folder / f"set_{fold}.csv").write_text("video_name,label\n" + "\n".join(chosen) + "\n")
    report = check_dataset("dfew", root)
    assert report.usable and report.clips == 500 and report.frames == 8000
    assert report.seconds < 10, f"{report.seconds:.1f} s for 500 clips of metadata"


def test_unreadable_clip_folder_is_one_problem(tmp_path, monkeypatch):
    root = dfew_copy(tmp_path / "DFEW")
    folder = root / "Clip" / "clip_224x224" / "00008"
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = check_dataset("dfew", root)
    assert [i.kind for i in report.problems] == ["unreadable clip"]
    assert report.problems[0].message == f"{folder}: Permission denied"
