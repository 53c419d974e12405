"""``lifting-dfer prepare``: labelled videos -> face-crop frame folders and a manifest (lifting_dfer.data.prepare).

The videos are drawn faces whose expression changes (lifting_dfer.data.synthetic_videos), which OpenCV's Haar
cascade finds on every frame, plus a landscape in which it finds none.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("av")
if not hasattr(cv2, "CascadeClassifier"):
    pytest.skip(
        "this OpenCV has no Haar cascades (OpenCV 5); prepare's face detection needs opencv<5", allow_module_level=True
    )

from lifting_dfer.data import make_face_videos, prepare_videos  # noqa: E402
from lifting_dfer.data import prepare as prep  # noqa: E402
from lifting_dfer.data import sources as srcs  # noqa: E402
from lifting_dfer.data.folder import read_manifest  # noqa: E402
from lifting_dfer.data.synthetic_videos import face_frames, write_video  # noqa: E402
from lifting_dfer.video import FaceCropper, VideoStream  # noqa: E402

LABELS = ("smile", "frown", "surprise")
FRAMES = 12  # 0.48 s at 25 fps


def make_videos(root: Path, *, labels=LABELS, per_label: int = 4, faceless: int = 1, seed: int = 1) -> Path:
    make_face_videos(root, labels=labels, videos_per_label=per_label, seconds=FRAMES / 25, height=96, width=128,
                     faceless=faceless, seed=seed)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_videos(tmp_path_factory.mktemp("videos") / "src")


@pytest.fixture(scope="module")
def prepared(source, tmp_path_factory):
    dst = tmp_path_factory.mktemp("prepared") / "dst"
    return prepare_videos(source, dst, workers=1), dst


def jpegs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"))


def test_every_video_with_a_face_becomes_a_frame_folder_listed_in_the_manifest(prepared, source):
    report, dst = prepared
    rows = read_manifest(dst)
    assert rows == report.rows and len(rows) == 3 * 4
    assert [r.clip for r in rows] == sorted(f"{y}/{y}_{k:02d}" for y in LABELS for k in range(4))
    for row in rows:
        assert row.label == row.clip.split("/")[0] and row.source == f"{row.label}/{Path(row.clip).name}.mp4"
        assert (row.frames, row.fps, row.source_fps, row.face_share) == (FRAMES, 25.0, 25.0, 1.0)
        frames = jpegs(dst / "clips" / row.clip)
        assert [f.name for f in frames] == [f"{i:06d}.jpg" for i in range(1, FRAMES + 1)]
        assert cv2.imread(str(frames[0])).shape == (224, 224, 3)
        assert json.loads((dst / "clips" / row.clip / "clip.json").read_text()) == row.to_dict()
    assert json.loads((dst / "prepare.json").read_text())["size"] == 224


def test_the_video_without_a_face_is_named_and_left_out(prepared, source, tmp_path):
    report, _dst = prepared
    assert report.no_face == [(str(source / "smile" / "landscape_00.mp4"), FRAMES)]
    assert not any("landscape" in r.clip for r in report.rows)
    kept = prepare_videos(source, tmp_path / "dst", workers=1, keep_no_face=True)
    landscape = [r for r in kept.rows if "landscape" in r.clip]
    assert kept.no_face == [] and [(r.label, r.face_share) for r in landscape] == [("smile", 0.0)]


def test_crops_are_those_of_the_predict_cropper(prepared, source):
    """Same FaceCropper, same smoothing, about 3 detections per second: frame k of a clip is predict's crop k."""
    _, dst = prepared
    video = source / "frown" / "frown_02.mp4"
    face, centre = FaceCropper(224, detect_every=round(25 / 3)), FaceCropper(224, detect=False)
    with VideoStream(video) as stream:
        frames = list(stream)
    written = [cv2.imread(str(f))[:, :, ::-1].astype(float) for f in jpegs(dst / "clips" / "frown" / "frown_02")]
    face_error = np.mean([np.abs(w - face(f)).mean() for w, f in zip(written, frames)])
    centre_error = np.mean([np.abs(w - centre(f)).mean() for w, f in zip(written, frames)])
    assert face_error < 1.5  # JPEG at quality 95
    assert centre_error > 10 * face_error  # the face is off centre: another crop would not pass


def test_splits_are_stratified_by_label_and_seeded(prepared, source):
    _, dst = prepared
    rows = read_manifest(dst)
    for label in ("frown", "surprise"):  # 4 videos: round(0.6) = 1 test, then round(3 * 0.15 / 0.85) = 1 val, 2 train
        assert sorted(r.split for r in rows if r.label == label) == ["test", "train", "train", "val"]
    # the split is drawn over the videos before faces are searched (smile's 5 include the landscape left out)
    drawn = srcs.assign_splits(srcs.list_sources(source), val_fraction=0.15, test_fraction=0.15, seed=0)
    assert {r.source: r.split for r in rows} == {k: v for k, v in drawn.items() if "landscape" not in k}
    sources = [srcs.Source(Path(f"{i}.mp4"), y, None, f"{y}/{i}", str(i), "") for y in "ab" for i in range(20)]
    first = srcs.assign_splits(sources, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert first == srcs.assign_splits(sources, val_fraction=0.2, test_fraction=0.2, seed=0)
    other = srcs.assign_splits(sources, val_fraction=0.2, test_fraction=0.2, seed=1)
    assert first != other and sorted(first.values()) == sorted(other.values())
    assert [list(first.values()).count(s) for s in ("train", "val", "test")] == [24, 8, 8]


def test_a_rerun_redoes_nothing_finished_and_keeps_the_recorded_splits(prepared, source, tmp_path, monkeypatch):
    _, dst = prepared
    src, out = tmp_path / "src", tmp_path / "dst"
    shutil.copytree(source, src)
    shutil.copytree(dst, out)
    before = read_manifest(out)
    write_video(src / "smile" / "new.mp4", face_frames("smile", FRAMES, 96, 128, rng=np.random.default_rng(5)))
    calls = []
    real = prep.prepare_clip
    monkeypatch.setattr(prep, "prepare_clip", lambda task: calls.append(task.source) or real(task))
    report = prepare_videos(src, out, workers=1, seed=123)  # another seed: recorded splits stay
    assert sorted(calls) == ["smile/landscape_00.mp4", "smile/new.mp4"]  # a video without a face is tried again
    assert report.reused == 12 and [r.clip for r in report.prepared] == ["smile/new"]
    after = {r.clip: r for r in read_manifest(out)}
    assert all(after[r.clip] == r for r in before) and len(after) == 13


def test_a_csv_gives_labels_and_splits(source, tmp_path):
    """Paths are relative to the CSV's folder; clip folders are named after them."""
    rows = ["label,video,split", "happy,src/smile/smile_00.mp4,test", "happy,src/smile/smile_01.mp4,train",
            "sad,src/frown/frown_00.mp4,train", f"sad,{source / 'frown' / 'frown_01.mp4'},"]  # fmt: skip
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    shutil.copytree(source, tmp_path / "src")
    report = prepare_videos(tmp_path / "list.csv", tmp_path / "dst", workers=1, test_fraction=0, val_fraction=0)
    got = [(r.clip, r.label, r.split, r.source) for r in report.rows]
    assert got == [
        ("happy/src__smile__smile_00", "happy", "test", "src/smile/smile_00.mp4"),
        ("happy/src__smile__smile_01", "happy", "train", "src/smile/smile_01.mp4"),
        ("sad/frown_01", "sad", "train", str(source / "frown" / "frown_01.mp4")),  # absolute: the file name
        ("sad/src__frown__frown_00", "sad", "train", "src/frown/frown_00.mp4"),
    ]


def test_videos_deeper_in_a_label_folder_are_found_and_other_files_ignored(source, tmp_path):
    src = tmp_path / "src"
    for label, name in (("smile", "session 2/a.mp4"), ("smile", "a.MOV"), ("frown", "b.mkv")):
        (src / label / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / label / f"{label}_00.mp4", src / label / name)
    (src / "smile" / "notes.txt").write_text("x")
    (src / "smile" / ".hidden").mkdir()
    shutil.copy(source / "smile" / "smile_01.mp4", src / "smile" / ".hidden" / "c.mp4")
    shutil.copy(source / "frown" / "frown_01.mp4", src / "loose.mp4")
    notes = []
    got = [(s.label, s.key, s.name) for s in srcs.list_sources(src, notes)]
    assert got == [
        ("frown", "frown/b.mkv", "b"),
        ("smile", "smile/a.MOV", "a"),
        ("smile", "smile/session 2/a.mp4", "session 2__a"),
    ]
    assert any("ignored 1 video(s) directly in" in n and "loose.mp4" in n for n in notes)
    assert any("ignored 1 file(s) that are not videos" in n for n in notes)


def test_two_workers_write_the_same_clips_as_one(prepared, source, tmp_path):
    _, dst = prepared
    report = prepare_videos(source, tmp_path / "dst", workers=2)
    assert report.workers == 2 and read_manifest(tmp_path / "dst") == read_manifest(dst)
    for clip in ("smile/smile_01", "surprise/surprise_03"):
        for a, b in zip(jpegs(dst / "clips" / clip), jpegs(tmp_path / "dst" / "clips" / clip)):
            assert a.read_bytes() == b.read_bytes()


def _bad_sources(root: Path, case: str, videos: Path) -> tuple[Path, Path]:
    """SRC and DST of one bad-input case, from the prepared test videos."""
    src = root / "src"
    for label in ("smile", "frown"):
        (src / label).mkdir(parents=True)
        shutil.copy(videos / label / f"{label}_00.mp4", src / label / "a.mp4")
    dst = root / "dst"
    if case == "empty label folder":
        (src / "angry").mkdir()
    elif case == "label folder without videos":
        (src / "angry").mkdir()
        (src / "angry" / "notes.txt").write_text("to do\n")
    elif case == "single label":
        shutil.rmtree(src / "frown")
    elif case == "same video under two labels":
        shutil.copy(src / "smile" / "a.mp4", src / "frown" / "b.mp4")
    elif case == "DST inside SRC":
        dst = src / "prepared"
    elif case == "same video under two labels in a CSV":
        (root / "list.csv").write_text("src/smile/a.mp4,smile\nsrc/frown/a.mp4,frown\nsrc/smile/a.mp4,frown\n")
        src = root / "list.csv"
    return src, dst


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty label folder", "angry is empty"),
        ("label folder without videos", "holds no videos (1 other file(s): notes.txt"),
        ("single label", "has a single label, 'smile': a classifier needs at least 2"),
        ("same video under two labels", "the same video is under two labels"),
        ("DST inside SRC", "is inside SRC"),
        ("same video under two labels in a CSV", "says 'smile', "),
    ],
)
def test_bad_input_gets_one_line_and_nothing_is_written(case, message, source, tmp_path, capsys):
    src, dst = _bad_sources(tmp_path, case, source)
    assert prep.main([str(src), str(dst), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lifting-dfer prepare: error: ") and message in err
    assert not dst.exists()


def test_an_unreadable_file_is_reported_and_skipped(source, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(source, src)
    (src / "frown" / "broken.mp4").write_bytes(b"not a video" * 100)
    assert prep.main([str(src), str(tmp_path / "dst"), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert f"lifting-dfer prepare: skipped {src / 'frown' / 'broken.mp4'}: cannot read video" in captured.err
    assert f"left out, no face found on its {FRAMES} frames: {src / 'smile' / 'landscape_00.mp4'}" in captured.out
    assert len(read_manifest(tmp_path / "dst")) == 12


def test_a_run_that_finds_no_face_at_all_ends_with_an_error(tmp_path, capsys):
    from lifting_dfer.data.synthetic_videos import landscape_frames

    for k, label in enumerate(("calm", "tense")):
        write_video(tmp_path / "src" / label / "view.mp4", landscape_frames(6, 96, 128, rng=np.random.default_rng(k)))
    assert prep.main([str(tmp_path / "src"), str(tmp_path / "dst"), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("left out, no face found on its 6 frames") == 2
    assert (
        captured.err.strip()
        == f"lifting-dfer prepare: error: {tmp_path / 'dst'} holds no clip: every video was left out or unreadable"
    )


def test_a_full_disk_leaves_no_half_written_clip_and_a_rerun_finishes(source, tmp_path, monkeypatch, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    shutil.copytree(source, src)
    (src / "smile" / "landscape_00.mp4").unlink()
    real, written = prep.write_frame, []

    def full_disk(path, crop, quality):
        if len(written) == 2 * FRAMES + 5:  # the 6th frame of the 3rd clip
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        real(path, crop, quality)

    monkeypatch.setattr(prep, "write_frame", full_disk)
    assert prep.main([str(src), str(dst), "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "the 2 finished clips are kept" in err[0]
    assert [r.clip for r in read_manifest(dst)] == ["frown/frown_00", "frown/frown_01"]
    assert sorted(p.relative_to(dst / "clips").as_posix() for p in (dst / "clips").glob("*/*")) == [
        "frown/frown_00",
        "frown/frown_01",
    ]  # no partial folder of the third clip
    monkeypatch.setattr(prep, "write_frame", real)
    calls = []
    monkeypatch.setattr(prep, "prepare_clip", lambda task, run=prep.prepare_clip: calls.append(task.clip) or run(task))
    assert prep.main([str(src), str(dst), "--workers", "1"]) == 0
    assert len(read_manifest(dst)) == 12 and len(calls) == 10


def test_a_write_error_in_a_worker_process_stops_the_run_and_lists_every_finished_clip(source, tmp_path, monkeypatch):
    real = prep.write_frame

    def full_disk_for_one_clip(path, crop, quality):  # the workers are forked: they run this too
        if "frown_02" in str(path) and path.name == "000004.jpg":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, crop, quality)

    monkeypatch.setattr(prep, "write_frame", full_disk_for_one_clip)
    report = prepare_videos(source, tmp_path / "dst", workers=2)
    assert report.error.endswith("frown_02: No space left on device")
    folders = sorted(
        p.relative_to(tmp_path / "dst" / "clips").as_posix() for p in (tmp_path / "dst" / "clips").glob("*/*")
    )
    assert [r.clip for r in read_manifest(tmp_path / "dst")] == folders  # every finished clip, and no partial folder
    assert "frown/frown_02" not in folders and len(folders) < 12
    monkeypatch.setattr(prep, "write_frame", real)
    again = prepare_videos(source, tmp_path / "dst", workers=2)
    assert again.error is None and len(again.rows) == 12 and again.reused == len(folders)


def test_a_copy_under_the_same_label_is_left_out(source, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(source, src)
    shutil.copy(src / "smile" / "smile_00.mp4", src / "smile" / "zz_again.mp4")
    report = prepare_videos(src, tmp_path / "dst", workers=1)
    assert report.duplicates == [(str(src / "smile" / "zz_again.mp4"), str(src / "smile" / "smile_00.mp4"))]
    assert "smile/zz_again" not in [r.clip for r in report.rows] and "smile/smile_00" in [r.clip for r in report.rows]


def test_a_rerun_with_other_crop_settings_is_refused(prepared, source, tmp_path):
    _, dst = prepared
    with pytest.raises(ValueError, match=r"prepared with size 224, this run asks for 112: rerun with the same --size"):
        prepare_videos(source, dst, size=112)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty and was not written by lifting-dfer prepare"):
        prepare_videos(source, tmp_path / "other")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers: expected an integer >= 1"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "a sum below 1"),
        ({"fps": -1.0}, "fps: expected a positive, finite frame rate"),
        ({"detect_every": 0}, "detect_every: expected a positive integer"),
    ],
)
def test_settings_are_checked(kwargs, message, source, tmp_path):
    with pytest.raises(ValueError, match=message):
        prepare_videos(source, tmp_path / "dst", **kwargs)


def test_the_synthetic_videos_are_seeded_and_differ_only_by_the_change_of_expression():
    """Same seed, same face, same noise: every label starts on the same frame; only the end differs."""
    clips = {label: face_frames(label, 6, 96, 128, rng=np.random.default_rng(3)) for label in ("smile", "neutral")}
    assert np.array_equal(clips["smile"], face_frames("smile", 6, 96, 128, rng=np.random.default_rng(3)))
    assert np.array_equal(clips["smile"][0], clips["neutral"][0])
    changed = np.any(clips["smile"][-1] != clips["neutral"][-1], axis=-1)
    rows, _cols = np.nonzero(changed)
    assert 20 < changed.sum() < 0.1 * changed.size  # the mouth, not the whole frame
    assert rows.min() > 96 // 2  # in the lower half of the frame, where the mouth is
    with pytest.raises(ValueError, match="label: expected one of"):
        face_frames("angry", 2, 96, 128, rng=np.random.default_rng(0))
