"""DFEW, FERV39k and MAFW readers on tiny fixtures written in each dataset's official layout.

Frame k (0-based, in natural order) of every fixture clip is a constant image of value ``6 k + 3``, so the
sampled frame indices can be read back from the decoded pixels.
"""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.io import encode_jpeg, encode_png, write_file

from lifting_dfer.data import (
    DFEW,
    DFEW_CLASSES,
    MAFW,
    MAFW_CLASS_ORDERS,
    MAFW_CLASSES,
    MAFW_COMPOUND_CLASSES,
    ClipDataset,
    CorruptFrameError,
    FERV39k,
    check_dataset,
    check_num_classes,
    mafw_class_names,
    read_dfew_split,
    read_ferv39k_split,
    read_mafw_split,
    train_val_split,
    uniform_indices,
)

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

H = W = 8


def frame_value(k: int) -> int:
    return 6 * k + 3


def write_frames(folder, n, *, name="{k}.jpg", size=(H, W)):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = torch.full((3, *size), frame_value(k), dtype=torch.uint8)
        path = folder / name.format(k=k + 1, clip=folder.name)
        data = encode_png(img) if path.suffix == ".png" else encode_jpeg(img, quality=95)
        write_file(str(path), data)


def sampled_frames(clip: torch.Tensor) -> list[int]:
    """Recover frame indices from a raw (t, 3, h, w) float clip (identity transform)."""
    return [round((float(v) - 3) / 6) for v in clip[:, 0, 0, 0]]


def identity(frames, generator=None):
    return frames.float()


# ---------------------------------------------------------------- DFEW layout
DFEW_CLIPS = {1: (20, 1), 2: (5, 3), 3: (11, 7), 4: (16, 2), 5: (30, 0), 6: (12, 4)}  # id: (frames, 1-based label)


def make_dfew(root, *, clips=DFEW_CLIPS, split_folder="{split}(single-labeled)", folds=(1, 2), sixteen=False):
    for cid, (n, _) in clips.items():
        write_frames(root / "Clip" / "clip_224x224" / f"{cid:05d}", n, name="{clip}_{k:05d}.jpg")
        if sixteen:
            write_frames(root / "Clip" / "clip_224x224_16f" / f"{cid:05d}", 16)
    ids = sorted(clips)
    for fold in folds:
        test_ids = ids[fold - 1 :: 3]
        for split in ("train", "test"):
            chosen = [c for c in ids if (c in test_ids) == (split == "test")]
            folder = root / "EmoLabel_DataSplit" / split_folder.format(split=split)
            folder.mkdir(parents=True, exist_ok=True)
            rows = ["video_name,label"] + [f"{c},{clips[c][1]}" for c in chosen]
            (folder / f"set_{fold}.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def dfew_root(tmp_path_factory):
    return make_dfew(tmp_path_factory.mktemp("DFEW"), sixteen=True)


def test_dfew_items_have_the_contract_shape_and_labels(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="train", num_frames=4, size=6)
    assert ds.class_names == DFEW_CLASSES and ds.num_classes == 7
    clip, label = ds[0]
    assert clip.shape == (3, 4, 6, 6) and clip.dtype == torch.float32
    assert isinstance(label, int)
    # train of fold 1: ids 2, 3, 5 (label 0 -> skipped), 6; 1-based labels become 0-based
    assert [p.name for p in ds.samples] == ["00002", "00003", "00006"]
    assert ds.labels == [2, 6, 3]
    assert ds.train is True


def test_dfew_fold_files_select_the_right_clips(dfew_root):
    test1 = DFEW(dfew_root, fold=1, split="test")
    test2 = DFEW(dfew_root, fold=2, split="test")
    assert [p.name for p in test1.samples] == ["00001", "00004"]
    assert [p.name for p in test2.samples] == ["00002"]  # 00005 has label 0
    assert test1.train is False and test1.labels == [0, 1]
    assert test1.split_file.name == "set_1.csv" and test2.split_file.parent.name == "test(single-labeled)"


def test_dfew_test_items_sample_segment_centres_in_natural_order(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="test", num_frames=4, transform=identity)
    clip, _ = ds[0]  # clip 1: 20 frames
    assert clip.shape == (4, 3, H, W)
    assert sampled_frames(clip) == uniform_indices(20, 4) == [2, 7, 12, 17]


def test_dfew_short_clip_is_padded_by_repetition(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="train", num_frames=16, transform=identity, train=False)
    clip, label = ds[0]  # clip 2: 5 frames
    assert label == 2
    assert sampled_frames(clip) == uniform_indices(5, 16) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_dfew_train_items_sample_inside_segments_and_are_seeded(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="train", num_frames=4, transform=identity, seed=7)
    a, b = sampled_frames(ds[1][0]), sampled_frames(ds[1][0])  # clip 3: 11 frames
    assert a == b
    starts = [i * 11 // 4 for i in range(5)]
    assert all(lo <= k < hi for k, lo, hi in zip(a, starts, starts[1:]))
    draws = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        draws.add(tuple(sampled_frames(ds[1][0])))
    assert len(draws) > 1, "set_epoch changes the random draws"


def test_dfew_seeded_training_is_reproducible_across_instances(dfew_root):
    a = DFEW(dfew_root, split="train", num_frames=4, size=6, seed=3)
    b = DFEW(dfew_root, split="train", num_frames=4, size=6, seed=3)
    torch.testing.assert_close(a[2][0], b[2][0], rtol=0, atol=0)


def test_dfew_16f_frame_set(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="test", frames_dir="clip_224x224_16f", num_frames=16, transform=identity)
    assert ds.samples[0].parent.name == "clip_224x224_16f"
    assert sampled_frames(ds[0][0]) == list(range(16)), "1.jpg .. 16.jpg in natural order, each once"


def test_dfew_accepts_the_renamed_split_folders(tmp_path):
    root = make_dfew(tmp_path / "DFEW", split_folder="{split}_single-labeled", folds=(1,))
    assert len(DFEW(root, fold=1, split="test")) == 2


def test_dfew_explicit_split_file_and_split_dir(tmp_path, dfew_root):
    custom = tmp_path / "my_split.csv"
    custom.write_text("video_name,label\n4,5\n1,6\n")
    ds = DFEW(dfew_root, split_file=custom)
    assert [p.name for p in ds.samples] == ["00004", "00001"] and ds.labels == [4, 5]
    ds = DFEW(dfew_root, split_dir=dfew_root / "EmoLabel_DataSplit", fold=2, split="train")
    assert ds.split_file.parent.name == "train(single-labeled)"


def test_dfew_size_resizes_any_frame_size(tmp_path):
    root = make_dfew(tmp_path / "DFEW", clips={1: (3, 1), 2: (3, 2), 3: (3, 3)}, folds=(1,))
    write_frames(root / "Clip" / "clip_224x224" / "00002", 3, name="{clip}_{k:05d}.jpg", size=(16, 16))
    ds = DFEW(root, fold=1, split="train", num_frames=2, size=5)
    assert ds[0][0].shape == (3, 2, 5, 5)


def test_read_dfew_split_skips_label_zero_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "set_1.csv"
    path.write_text("video_name,label\n1,5\n\n2,0\n10,7\n")
    rows = read_dfew_split(path)
    assert [(r.clip, r.label, r.line) for r in rows] == [("00001", 4, 2), ("00010", 6, 5)]


def test_read_dfew_split_reads_crlf_and_a_bom_and_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "set_1.csv"
    path.write_bytes(b"\xef\xbb\xbfvideo_name,label\r\n1,5\r\n10,7\r\n")  # Excel's "CSV UTF-8"
    assert [(r.clip, r.label, r.line) for r in read_dfew_split(path)] == [("00001", 4, 2), ("00010", 6, 3)]
    path.write_bytes("video_name,label\n1,5\n".encode("utf-16"))  # Excel's "Unicode text"
    with pytest.raises(ValueError, match=r"DFEW split file .*set_1.csv is not UTF-8 text \(byte 0"):
        read_dfew_split(path)


# ---------------------------------------------------------------- FERV39k layout
FERV_CLIPS = [
    ("Action/Sad/0010", 9, "Sad"),
    ("Action/Happy/0003", 20, "Happy"),
    ("Daily/Fear/0104", 4, "Fear"),
    ("Daily/Angry/0001", 12, "angry"),
]


def make_ferv(root, clips=FERV_CLIPS):
    for rel, n, _ in clips:
        write_frames(root / "2_ClipsforFaceCrop" / rel, n)
    setup = root / "4_setups" / "All_scenes"
    setup.mkdir(parents=True)
    (setup / "train_All.csv").write_text("".join(f"{rel} {lab}\n" for rel, _, lab in clips[:3]))
    (setup / "test_All.csv").write_text("".join(f"{rel} {lab}\n" for rel, _, lab in clips[3:]))
    return root


@pytest.fixture(scope="module")
def ferv_root(tmp_path_factory):
    return make_ferv(tmp_path_factory.mktemp("FERV39k"))


def test_ferv39k_reads_paths_and_names_in_dfew_order(ferv_root):
    ds = FERV39k(ferv_root, split="train", num_frames=4, size=6)
    assert ds.class_names == DFEW_CLASSES
    assert ds.labels == [1, 0, 6]
    assert ds.samples[0] == ferv_root / "2_ClipsforFaceCrop" / "Action" / "Sad" / "0010"
    assert ds[0][0].shape == (3, 4, 6, 6)
    test = FERV39k(ferv_root, split="test")
    assert test.labels == [3] and test.train is False


def test_ferv39k_alphabetical_class_order(ferv_root):
    ds = FERV39k(ferv_root, split="train", class_order="alphabetical")
    assert ds.class_names == ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
    assert ds.labels == [5, 3, 2]
    assert FERV39k(ferv_root, split="test", class_order="alphabetical").labels == [0]


def test_ferv39k_natural_frame_order_and_short_clip_padding(ferv_root):
    ds = FERV39k(ferv_root, split="train", num_frames=16, transform=identity, train=False)
    assert sampled_frames(ds[0][0]) == uniform_indices(9, 16)  # 1.jpg .. 9.jpg: no 10 to mis-sort, see next
    assert sampled_frames(ds[1][0]) == uniform_indices(20, 16)  # 1..20.jpg: "10.jpg" after "9.jpg"
    assert sampled_frames(ds[2][0]) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]


def test_ferv39k_other_setup_and_comma_separated_files(ferv_root, tmp_path):
    setup = ferv_root / "4_setups" / "22_scenes"
    setup.mkdir(exist_ok=True)
    (setup / "train_Action.csv").write_text("Action/Sad/0010,Sad\n")
    ds = FERV39k(ferv_root, split="train", setup="22_scenes")
    assert ds.labels == [1] and ds.split_file.name == "train_Action.csv"
    (setup / "train_Daily.csv").write_text("Daily/Fear/0104 Fear\n")
    with pytest.raises(ValueError, match="several train files.*split_file"):
        FERV39k(ferv_root, split="train", setup="22_scenes")


# ---------------------------------------------------------------- MAFW layout
MAFW_CLIPS = [("00025", 40, "anger"), ("00026", 7, "disappointment"), ("00100", 33, "contempt"), ("01000", 12, "Fear")]


def make_mafw(root, clips=MAFW_CLIPS):
    for i, (name, n, _) in enumerate(clips):
        write_frames(root / "data" / "frames" / name, n, name="{k:06d}.png", size=(H + 2 * i, W + i))
    for fold in (1, 3):
        folder = root / "Train & Test Set" / "single" / "no_caption" / f"set_{fold}"
        folder.mkdir(parents=True)
        (folder / "train.txt").write_text("".join(f"{n}.mp4 {lab}\n" for n, _, lab in clips[:3]))
        (folder / "test.txt").write_text("".join(f"{n}.mp4 {lab}\n" for n, _, lab in clips[3:]))
    return root


@pytest.fixture(scope="module")
def mafw_root(tmp_path_factory):
    return make_mafw(tmp_path_factory.mktemp("MAFW"))


def test_mafw_reads_11_classes_and_strips_the_video_extension(mafw_root):
    ds = MAFW(mafw_root, fold=1, split="train", size=6)
    assert ds.class_names == MAFW_CLASSES and len(ds.class_names) == 11
    assert ds.num_frames == 32
    assert [p.name for p in ds.samples] == ["00025", "00026", "00100"]
    assert ds.labels == [0, 10, 7]
    clip, label = ds[1]  # frames of size (10, 9): resized to 6x6
    assert clip.shape == (3, 32, 6, 6) and label == 10
    assert MAFW(mafw_root, fold=3, split="test").labels == [2]


def test_mafw_samples_32_frames_uniformly(mafw_root):
    ds = MAFW(mafw_root, fold=1, split="train", transform=identity, train=False)
    assert sampled_frames(ds[0][0]) == uniform_indices(40, 32)
    assert sampled_frames(ds[1][0]) == uniform_indices(7, 32)


# ---------------------------------------------------------------- loaders, splits
def test_dataloader_batches_with_workers_and_seeding(dfew_root):
    ds = DFEW(dfew_root, fold=1, split="train", num_frames=4, size=6, seed=0)
    batches = [torch.cat([x for x, _ in DataLoader(ds, batch_size=2, num_workers=w)]) for w in (0, 2)]
    assert batches[0].shape == (3, 3, 4, 6, 6)
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)  # per-item seeds: worker-independent


def test_train_val_split_keeps_classes_and_switches_val_to_test_mode(dfew_root, tmp_path):
    split = tmp_path / "set.csv"
    split.write_text("video_name,label\n1,1\n2,1\n3,2\n4,2\n6,2\n")
    ds = DFEW(dfew_root, split_file=split, num_frames=4, size=6)
    train, val = train_val_split(ds, 0.5, seed=0)
    assert sorted(train.labels) == [0, 1] and sorted(val.labels) == [0, 1, 1]
    assert isinstance(train, DFEW) and isinstance(val, DFEW)
    assert train.train is True and val.train is False
    assert sorted(map(str, train.samples + val.samples)) == sorted(map(str, ds.samples))
    assert train.class_names == val.class_names == DFEW_CLASSES
    assert val[0][0].shape == (3, 4, 6, 6)
    v1, v2 = val[0][0], val[0][0]
    torch.testing.assert_close(v1, v2, rtol=0, atol=0)


def test_check_num_classes(mafw_root):
    ds = MAFW(mafw_root, fold=1, split="train")
    check_num_classes(ds, 11)
    with pytest.raises(ValueError, match="num_classes=7 does not match MAFW, which has 11 classes"):
        check_num_classes(ds, 7)


# ---------------------------------------------------------------- bad inputs
def test_missing_root(tmp_path):
    for cls in (DFEW, FERV39k, MAFW):
        with pytest.raises(FileNotFoundError, match=f"{cls.__name__} root .*nowhere"):
            cls(tmp_path / "nowhere")


def test_missing_split_file_lists_the_paths_tried(dfew_root, ferv_root, mafw_root):
    with pytest.raises(FileNotFoundError, match=r"fold 3[\s\S]*train\(single-labeled\)/set_3.csv"):
        DFEW(dfew_root, fold=3)
    with pytest.raises(FileNotFoundError, match="set_2/test.txt"):
        MAFW(mafw_root, fold=2, split="test")
    with pytest.raises(FileNotFoundError, match="FERV39k .*setup"):
        FERV39k(ferv_root, setup="nope")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        DFEW(dfew_root, split_file=dfew_root / "missing.csv")


def test_missing_frames_folder(tmp_path, dfew_root):
    with pytest.raises(FileNotFoundError, match="frame folder 'clip_999'"):
        DFEW(dfew_root, frames_dir="clip_999")


def test_row_naming_a_missing_clip_folder(tmp_path, dfew_root, ferv_root, mafw_root):
    bad = tmp_path / "bad.csv"
    bad.write_text("video_name,label\n1,1\n777,2\n")
    with pytest.raises(FileNotFoundError, match=r"bad.csv:3: clip '00777' has no frame folder"):
        DFEW(dfew_root, split_file=bad)
    bad.write_text("Action/Sad/0010 Sad\nAction/Sad/9999 Sad\n")
    with pytest.raises(FileNotFoundError, match=r"bad.csv:2: clip 'Action/Sad/9999'"):
        FERV39k(ferv_root, split_file=bad)
    bad.write_text("00025.mp4 anger\n\n04242.mp4 fear\n")
    with pytest.raises(FileNotFoundError, match=r"bad.csv:3: clip '04242'"):
        MAFW(mafw_root, split_file=bad)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("video_name,label\n1,1\n2,8\n", r":3: label 8 outside 1..7"),
        ("video_name,label\n1,-1\n", r":2: label -1 outside"),
        ("video_name,label\n1\n", r":2: expected 'video_name,label'"),
        ("video_name,label\n1,1\nabc,2\n", r":3: expected an integer"),
        ("video_name,label\n", " lists no labelled clips"),
    ],
)
def test_dfew_bad_rows_name_file_and_line(tmp_path, dfew_root, content, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(ValueError, match="bad.csv" + match):
        DFEW(dfew_root, split_file=bad)


@pytest.mark.parametrize(
    ("cls", "content", "match"),
    [
        (FERV39k, "Action/Sad/0010 Sad\nAction/Sad/0010 Contempt\n", r":2: unknown emotion 'Contempt'; FERV39k has 7"),
        (FERV39k, "Action/Sad/0010\n", r":1: expected"),
        (MAFW, "00025.mp4 anger\n00026.mp4 joy\n", r":2: unknown emotion 'joy'; MAFW has 11"),
        (MAFW, "00025.mp4 anger extra\n", r":1: expected"),
        (MAFW, "\n\n", " lists no clips"),
    ],
)
def test_named_label_files_bad_rows(tmp_path, ferv_root, mafw_root, cls, content, match):
    bad = tmp_path / "bad.txt"
    bad.write_text(content)
    root = ferv_root if cls is FERV39k else mafw_root
    with pytest.raises(ValueError, match="bad.txt" + match):
        cls(root, split_file=bad)


def test_bad_settings(dfew_root, ferv_root):
    with pytest.raises(ValueError, match="fold"):
        DFEW(dfew_root, fold=6)
    with pytest.raises(ValueError, match="split"):
        DFEW(dfew_root, split="val")
    with pytest.raises(ValueError, match="class_order"):
        FERV39k(ferv_root, class_order="random")
    with pytest.raises(ValueError, match="on_corrupt"):
        DFEW(dfew_root, on_corrupt="ignore")
    with pytest.raises(ValueError, match="num_frames"):
        DFEW(dfew_root, num_frames=0)


def test_generic_dataset_label_out_of_range_names_the_clip():
    with pytest.raises(ValueError, match=r"labels\[1\] \(b\): expected a class index in \[0, 2\), got 2"):
        ClipDataset(["a", "b"], [0, 2], ["x", "y"])
    with pytest.raises(ValueError, match="equal lengths"):
        ClipDataset(["a"], [0, 1], ["x", "y"])


def test_corrupt_frame_raises_naming_the_file(tmp_path):
    root = make_dfew(tmp_path / "DFEW", clips={1: (6, 1), 2: (6, 2)}, folds=(1,))
    bad = root / "Clip" / "clip_224x224" / "00002" / "00002_00003.jpg"
    bad.write_bytes(b"\xff\xd8garbage")
    ds = DFEW(root, fold=1, split="train", num_frames=6, size=4)
    with pytest.raises(CorruptFrameError, match="00002_00003.jpg"):
        ds[0]


def test_corrupt_frame_skip_substitutes_counts_and_warns(tmp_path, caplog):
    root = make_dfew(tmp_path / "DFEW", clips={1: (6, 1), 2: (6, 2)}, folds=(1,))
    (root / "Clip" / "clip_224x224" / "00002" / "00002_00003.jpg").write_bytes(b"")
    ds = DFEW(root, fold=1, split="train", num_frames=6, on_corrupt="skip", transform=identity, train=False)
    with caplog.at_level(logging.WARNING):
        clip, label = ds[0]
    assert label == 1, "the label is never changed"
    assert sampled_frames(clip) == [0, 1, 1, 3, 4, 5]
    assert ds.num_skipped_frames == 1
    assert any("00002" in r.getMessage() and "replaced" in r.getMessage() for r in caplog.records)
    ds[0]
    assert ds.num_skipped_frames == 2


def test_clip_with_no_readable_frame_raises_even_when_skipping(tmp_path):
    root = make_dfew(tmp_path / "DFEW", clips={1: (3, 1), 2: (3, 2)}, folds=(1,))
    for f in (root / "Clip" / "clip_224x224" / "00002").iterdir():
        f.write_bytes(b"bad")
    ds = DFEW(root, fold=1, split="train", num_frames=4, on_corrupt="skip")
    with pytest.raises(CorruptFrameError, match="00002: none of its 3 frames"):
        ds[0]


def test_empty_clip_folder_raises_naming_it(tmp_path):
    root = make_dfew(tmp_path / "DFEW", clips={1: (3, 1), 2: (3, 2)}, folds=(1,))
    for f in (root / "Clip" / "clip_224x224" / "00002").iterdir():
        f.unlink()
    ds = DFEW(root, fold=1, split="train")
    with pytest.raises(ValueError, match="00002 contains no frames"):
        ds[0]


# ---------------------------------------------------------------- split files: headers, repeats, leaks, separators
@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("video_name,label", "{c},{y}"),
        ("label,video_name", "{y},{c}"),
        ("Label , Video_Name", "{y},{c}"),
        ("video,emotion", "{c},{y}"),
        ("votes,label,video_name", "7,{y},{c}"),
    ],
)
def test_dfew_header_is_read_by_name(tmp_path, header, row):
    path = tmp_path / "set_1.csv"
    path.write_text("\n".join([header] + [row.format(c=c, y=y) for c, y in ((1, 5), (12, 3))]) + "\n")
    rows = read_dfew_split(path)
    assert [(r.clip, r.label, r.line) for r in rows] == [("00001", 4, 2), ("00012", 2, 3)]


def test_dfew_file_without_header_keeps_its_first_row(tmp_path):
    path = tmp_path / "set_1.csv"
    path.write_text("1,5\n12,3\n")
    assert [(r.clip, r.label, r.line) for r in read_dfew_split(path)] == [("00001", 4, 1), ("00012", 2, 2)]


@pytest.mark.parametrize("first", ["clip_id,emotion_code", "1,Happy", "name;label"])
def test_dfew_unknown_header_is_refused_naming_file_and_line(tmp_path, first):
    path = tmp_path / "set_1.csv"
    path.write_text(f"{first}\n1,5\n")
    with pytest.raises(ValueError, match=r"set_1.csv:1: expected a header naming the columns video_name and label"):
        read_dfew_split(path)


def test_clip_with_two_labels_is_an_error_naming_file_lines_and_clip(tmp_path):
    cases = [
        (
            read_dfew_split,
            "video_name,label\n1,5\n2,3\n1,4\n",
            r"set.txt:4: clip '00001' has two labels: Surprise at line 2 and Angry at line 4",
        ),
        (read_ferv39k_split, "A/Sad/0001 Sad\nA/Sad/0001 Happy\n", r"set.txt:2: clip 'A/Sad/0001' has two labels"),
        (
            read_mafw_split,
            "00025.mp4 anger\n\n00025.mp4 fear\n",
            r"set.txt:3: clip '00025' has two labels: anger at line 1 and fear at line 3",
        ),
    ]
    for read, content, match in cases:
        path = tmp_path / "set.txt"
        path.write_text(content)
        with pytest.raises(ValueError, match=match):
            read(path)


def test_exact_duplicate_row_is_counted_once_with_a_warning(tmp_path, caplog):
    path = tmp_path / "set_1.csv"
    path.write_text("video_name,label\n1,5\n2,3\n1,5\n")
    with caplog.at_level(logging.WARNING):
        rows = read_dfew_split(path)
    assert [(r.clip, r.line) for r in rows] == [("00001", 2), ("00002", 3)]
    assert "set_1.csv:4: clip '00001' is listed again (first at line 2" in caplog.text


def test_exact_duplicate_does_not_reach_both_train_and_validation(tmp_path):
    root = make_dfew(tmp_path / "DFEW", clips={i: (4, 1 + i % 2) for i in range(1, 11)}, folds=(1,))
    split = tmp_path / "dup.csv"
    split.write_text("video_name,label\n" + "".join(f"{i},{1 + i % 2}\n" for i in range(1, 11)) + "3,2\n")
    train, val = train_val_split(DFEW(root, split_file=split), 0.5, seed=0)
    assert len(train) + len(val) == 10 and not set(train.samples) & set(val.samples)


def test_clip_in_train_and_test_file_of_a_fold_is_a_logged_leak(tmp_path, caplog):
    root = make_dfew(tmp_path / "DFEW", folds=(1,))
    test_file = root / "EmoLabel_DataSplit" / "test(single-labeled)" / "set_1.csv"
    test_file.write_text(test_file.read_text() + "3,7\n")  # clip 3 is in the training file of fold 1
    with caplog.at_level(logging.WARNING):
        DFEW(root, fold=1, split="test")
    assert "1 clip(s) of the test file" in caplog.text and "a train/test leak" in caplog.text
    assert "'00003' (set_1.csv:3, set_1.csv:4)" in caplog.text


def test_comma_and_space_separate_clip_and_emotion(tmp_path, ferv_root, mafw_root):
    path = tmp_path / "list.txt"
    path.write_text("Action/Sad/0010, Sad\nDaily/Fear/0104 ,Fear\n")
    ds = FERV39k(ferv_root, split_file=path)
    assert ds.labels == [1, 6] and ds.samples[0] == ferv_root / "2_ClipsforFaceCrop" / "Action" / "Sad" / "0010"
    path.write_text("00025.mp4, anger\n00100.mp4,contempt\n")
    assert MAFW(mafw_root, split_file=path).labels == [0, 7]


def test_dfew_frame_set_is_detected_when_only_the_16f_folder_exists(tmp_path, caplog):
    root = make_dfew(tmp_path / "DFEW", folds=(1,), sixteen=True)
    with_both = DFEW(root, fold=1, split="test")
    assert with_both.frames_root == root / "Clip" / "clip_224x224", "all frames preferred: the paper's protocol"
    shutil.rmtree(root / "Clip" / "clip_224x224")
    with caplog.at_level(logging.DEBUG, logger="lifting_dfer"):
        ds = DFEW(root, fold=1, split="test", num_frames=16, transform=identity)
    assert ds.frames_root == root / "Clip" / "clip_224x224_16f"
    assert "clip_224x224_16f (auto-detected; the only DFEW frame set present)" in caplog.text
    assert sampled_frames(ds[0][0]) == list(range(16))
    shutil.rmtree(root / "Clip" / "clip_224x224_16f")
    with pytest.raises(FileNotFoundError, match=r"DFEW frame folder not found; looked for:[\s\S]*clip_224x224_16f"):
        DFEW(root, fold=1, split="test")


# ---------------------------------------------------------------- MAFW edges: official split variants, class orders
CAPTION_ZH = "一个男人对着面前的人激动地说话。眉头紧蹙。".encode("gbk")  # what the with_caption files hold


def test_mafw_with_caption_split_files_are_read_ignoring_the_gbk_captions(tmp_path, mafw_root):
    """Before: "error: 'utf-8' codec can't decode byte 0xb8 in position 2: invalid start byte", naming no file."""
    with pytest.raises(UnicodeDecodeError):
        CAPTION_ZH.decode("utf-8")  # the fixture is what broke the reader
    folder = tmp_path / "with_caption" / "set_1"
    folder.mkdir(parents=True)
    rows = [
        b"00025.mp4\tanger\t" + CAPTION_ZH + b"\tA man speaks excitedly, with a deep frown.",
        b"00100.mp4\tcontempt\t" + CAPTION_ZH + b"\tA curl of the lips.",
    ]
    (folder / "train.txt").write_bytes(b"\r\n".join(rows) + b"\r\n")  # tab-separated, GBK, CRLF
    (folder / "test.txt").write_bytes(b"01000.mp4\tfear\t" + CAPTION_ZH + b"\tA girl gasps in the dark.\r\n")
    ds = MAFW(mafw_root, split_dir=tmp_path / "with_caption")
    assert [p.name for p in ds.samples] == ["00025", "00100"] and ds.labels == [0, 7]
    assert [r.line for r in read_mafw_split(folder / "train.txt")] == [1, 2]
    assert MAFW(mafw_root, split_dir=tmp_path / "with_caption", split="test").labels == [2]


def test_split_rows_that_are_not_text_are_refused_naming_file_and_line(tmp_path, ferv_root):
    mafw = tmp_path / "mafw.txt"
    mafw.write_bytes(b"00025.mp4 anger\r\n" + CAPTION_ZH + b" anger\r\n")
    with pytest.raises(ValueError, match=r"mafw.txt:2: expected '<clip>.mp4 <emotion>' \(text\), got"):
        read_mafw_split(mafw)
    ferv = tmp_path / "ferv.csv"
    ferv.write_bytes(b"Action/Sad/0010 Sad\n" + CAPTION_ZH + b" Sad\n")
    with pytest.raises(ValueError, match=r"ferv.csv:2: not UTF-8 text \(byte 0xb8 at column 3\)"):
        FERV39k(ferv_root, split_file=ferv)


DOUBLED = {"dfew": "Clip/clip_224x224", "ferv39k": "2_ClipsforFaceCrop", "mafw": "data/frames"}


def double(frames):
    """What some unzip tools do: ``frames/...`` becomes ``frames/<frames.name>/...``."""
    moved = frames.with_name(frames.name + ".tmp")
    frames.rename(moved)
    frames.mkdir()
    moved.rename(frames / frames.name)


@pytest.mark.parametrize("dataset", ["dfew", "ferv39k", "mafw"])
def test_a_doubled_frame_folder_is_detected_and_the_frames_dir_that_works_is_suggested(tmp_path, dataset):
    """Before: 'clip ... has no frame folder' for the first clip (check-data: every clip missing), no hint."""
    make, cls = {"dfew": (make_dfew, DFEW), "ferv39k": (make_ferv, FERV39k), "mafw": (make_mafw, MAFW)}[dataset]
    root = make(tmp_path / dataset)
    double(root / DOUBLED[dataset])
    deeper = f"{DOUBLED[dataset]}/{DOUBLED[dataset].split('/')[-1]}"
    with pytest.raises(FileNotFoundError, match=rf"one level deeper.*: pass frames_dir='{deeper}'"):
        cls(root)
    assert len(cls(root, frames_dir=deeper)) > 0  # the suggestion works
    kinds = [issue.kind for issue in check_dataset(dataset, root).problems]  # missing split files: the fixtures'
    hint = check_dataset(dataset, root).problems[kinds.index("nested frames")].message
    assert f"--data-arg frames_dir={deeper}" in hint and kinds.count("nested frames") == 1
    assert kinds.index("nested frames") < kinds.index("missing clip")  # the hint comes before the list


@pytest.mark.parametrize(
    ("class_order", "labels"),
    [("file", [0, 10, 7]), ("dfew", [3, 10, 7]), ("alphabetical", [0, 3, 2])],
)
def test_mafw_class_order(mafw_root, class_order, labels):
    """Before: class_order was refused (MAFW took no such option)."""
    ds = MAFW(mafw_root, class_order=class_order)
    assert ds.labels == labels and ds.class_names == MAFW_CLASS_ORDERS[class_order]
    assert [ds.class_names[y] for y in ds.labels] == ["anger", "disappointment", "contempt"]  # the same clips


def test_mafw_class_orders_are_the_public_ones():
    assert MAFW_CLASS_ORDERS["file"] == MAFW_CLASSES == (
        "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "contempt", "anxiety",
        "helplessness", "disappointment",
    )  # fmt: skip
    assert MAFW_CLASS_ORDERS["dfew"] == (
        "happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear", "contempt", "anxiety",
        "helplessness", "disappointment",
    )  # fmt: skip
    assert list(MAFW_CLASS_ORDERS["alphabetical"]) == sorted(MAFW_CLASSES)
    with pytest.raises(ValueError, match="class_order: expected one of file, dfew, alphabetical, got 'happy'"):
        mafw_class_names("happy")


def write_compound_splits(root, train, test):
    folder = root / "Train & Test Set" / "compound" / "no_caption" / "set_1"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("".join(f"{clip}.mp4 {label}\r\n" for clip, label in train))
    (folder / "test.txt").write_text("".join(f"{clip}.mp4 {label}\r\n" for clip, label in test))
    return folder.parent


def test_mafw_compound_protocol_reads_43_labels(tmp_path):
    """Before: refused label by label ("unknown emotion 'anger_disgust'; MAFW has 11 single-label classes")."""
    root = make_mafw(tmp_path / "MAFW")
    train = [("00025", "anger_disgust"), ("00026", "fear_sadness_anxiety"), ("00100", "contempt")]
    split_dir = write_compound_splits(root, train, [("01000", "disgust_anger")])  # emotions in another order
    ds = MAFW(root, label_set="compound")
    assert len(ds.class_names) == 43 and ds.class_names[:11] == MAFW_CLASSES
    assert [ds.class_names[y] for y in ds.labels] == ["anger_disgust", "fear_sadness_anxiety", "contempt"]
    test = MAFW(root, label_set="compound", split="test")
    assert test.labels == [11] and test.class_names[11] == "anger_disgust"
    with pytest.raises(ValueError, match=r"unknown emotion 'anger_disgust'; it is one of MAFW's 32 compound labels: "
                                         r"pass label_set='compound'"):  # fmt: skip
        MAFW(root, split_dir=split_dir)
    report = check_dataset("mafw", root, label_set="compound", class_order="dfew")
    assert {issue.kind for issue in report.problems} == {"missing split file"}  # folds 2-5: not in the fixture
    assert len(report.splits[0].classes) == 43 and report.splits[0].classes["anger_disgust"] == 1
    assert tuple(report.splits[0].classes)[:11] == MAFW_CLASS_ORDERS["dfew"]  # class_order="dfew"


def test_mafw_unknown_compound_label_lists_the_43(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("00025.mp4 anger_happiness\n")
    with pytest.raises(ValueError, match=r":1: unknown emotion 'anger_happiness'; MAFW's compound protocol has 43 "
                                         r"labels: anger, disgust, .*, helplessness_disappointment$"):  # fmt: skip
        read_mafw_split(path, label_set="compound")


def test_mafw_compound_labels_name_two_or_three_emotions_in_the_papers_order():
    paper = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "contempt", "anxiety", "helplessness",
             "disappointment"]  # fmt: skip
    assert len(MAFW_COMPOUND_CLASSES) == 32 and len(set(MAFW_COMPOUND_CLASSES) | set(MAFW_CLASSES)) == 43
    for label in MAFW_COMPOUND_CLASSES:
        positions = [paper.index(emotion) for emotion in label.split("_")]
        assert 2 <= len(positions) <= 3 and positions == sorted(positions), label
    keys = [[paper.index(emotion) for emotion in label.split("_")] for label in MAFW_COMPOUND_CLASSES]
    assert keys == sorted(keys)  # listed in that order of their emotions
