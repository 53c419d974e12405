"""The lifting-dfer command: predict on a video the test encodes (untrained IFDD-2DCNN), summary, errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from lifting_dfer.checkpoint import save_checkpoint  # noqa: E402
from lifting_dfer.cli import checkpoint_geometry, main  # noqa: E402
from lifting_dfer.flops import count_params  # noqa: E402
from lifting_dfer.models import create_model  # noqa: E402
from lifting_dfer.video import training_sampling  # noqa: E402

NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]
ARCH_KWARGS = {"num_classes": 7, "num_frames": 8, "image_size": 64}  # the smallest IFDD-2DCNN worth running
HAAR = hasattr(cv2, "CascadeClassifier")


def encode(path, frames: np.ndarray, fps: int = 25) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def face_frames(n: int, size: int = 64) -> np.ndarray:
    """A cartoon face (drifting by a pixel or two) on grey: what the Haar cascade detects."""
    frames = []
    for i in range(n):
        img = np.full((size, size, 3), 90, np.uint8)
        cx, cy, s = size // 2 + (i % 5) - 2, size // 2, int(size * 0.62)
        cv2.ellipse(img, (cx, cy), (int(s * 0.42), int(s * 0.55)), 0, 0, 360, (200, 200, 200), -1)
        for side in (-1, 1):
            cv2.ellipse(img, (cx + int(side * s * 0.17), cy - int(s * 0.12)), (int(s * 0.09), int(s * 0.045)),
                        0, 0, 360, (30, 30, 30), -1)  # fmt: skip
            cv2.line(img, (cx + int(side * s * 0.08), cy - int(s * 0.23)),
                     (cx + int(side * s * 0.27), cy - int(s * 0.24)), (40, 40, 40), 1)  # fmt: skip
        cv2.ellipse(img, (cx, cy + int(s * 0.25)), (int(s * 0.15), int(s * 0.05)), 0, 0, 360, (60, 40, 40), -1)
        frames.append(img)
    return np.stack(frames)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    model = create_model("ifdd_2dcnn", **ARCH_KWARGS)
    save_checkpoint(root / "ifdd.pt", model, arch="ifdd_2dcnn", arch_kwargs=ARCH_KWARGS, class_names=NAMES)
    encode(root / "face.mp4", face_frames(40))
    return root


def run(*argv) -> int:
    return main([str(a) for a in argv])


def test_predict_writes_json_csv_and_timeline(files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ("predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", out, "--device", "cpu")
    assert run(*argv) == 0
    result = json.loads((out / "face.json").read_text())
    assert set(result) >= {"video", "fps", "num_frames", "window", "stride", "class_names", "windows", "face_detection"}
    assert (result["fps"], result["num_frames"], result["window"], result["stride"]) == (25, 40, 8, 4)
    assert result["class_names"] == NAMES and result["arch"] == "ifdd_2dcnn" and result["input_size"] == 64
    assert len(result["windows"]) == (40 - 8) // 4 + 1
    for k, window in enumerate(result["windows"]):
        assert (window["start_frame"], window["end_frame"]) == (4 * k, 4 * k + 8)
        assert (window["start_time"], window["end_time"]) == pytest.approx((4 * k / 25, (4 * k + 8) / 25))
        probabilities = window["probabilities"]
        assert list(probabilities) == NAMES and sum(probabilities.values()) == pytest.approx(1, abs=1e-5)
        assert window["top"] == max(probabilities, key=probabilities.get)
    faces = result["face_detection"]
    assert faces["frames_with_face"] + faces["fallback_frames"] == 40
    if HAAR:
        assert faces == {"frames_with_face": 40, "fallback_frames": 0}

    with (out / "face.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(result["windows"])
    assert list(rows[0]) == ["start_frame", "end_frame", "start_time", "end_time", "top", *NAMES]
    assert float(rows[2]["Sad"]) == pytest.approx(result["windows"][2]["probabilities"]["Sad"], abs=1e-6)

    image = np.asarray(Image.open(out / "face_timeline.png").convert("RGB"))
    assert image.std() > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 20
    assert "9 windows" in capsys.readouterr().out


def test_predict_matches_the_model_on_the_same_crops(files, tmp_path):
    """The probabilities are the checkpoint's model applied to the cropped, normalised frames of each window."""
    from lifting_dfer.checkpoint import model_from_checkpoint
    from lifting_dfer.video import FaceCropper, frames_to_clip, read_video

    out = tmp_path / "out"
    argv = ("predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", out, "--device", "cpu")
    assert run(*argv, "--stride", "16", "--format", "json", "--no-plot", "--no-face-detect", "--precision", "fp32") == 0
    assert sorted(p.name for p in out.iterdir()) == ["face.json"]
    result = json.loads((out / "face.json").read_text())
    assert [(w["start_frame"], w["end_frame"]) for w in result["windows"]] == [(0, 8), (16, 24), (32, 40)]
    assert result["face_detection"] == {"frames_with_face": 0, "fallback_frames": 40}
    model, _ = model_from_checkpoint(files / "ifdd.pt")
    frames = read_video(files / "face.mp4", transform=FaceCropper(64, detect=False)).frames
    with torch.no_grad():
        reference = model(torch.stack([frames_to_clip(frames[s : s + 8]) for s in (0, 16, 32)])).softmax(-1)
    got = torch.tensor([[w["probabilities"][n] for n in NAMES] for w in result["windows"]])
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=1e-4)


def test_predict_resamples_fps_and_writes_csv_only(files, tmp_path):
    out = tmp_path / "out"
    argv = ("predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", out)
    assert run(*argv, "--fps", "10", "--format", "csv", "--no-plot", "--device", "cpu", "--detect-every", "4") == 0
    with (out / "face.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # 40 frames at 25 fps = 1.6 s -> 16 frames at 10 fps -> windows at 0, 4, 8 (the last ends on frame 16)
    assert [(int(r["start_frame"]), int(r["end_frame"])) for r in rows] == [(0, 8), (4, 12), (8, 16)]
    assert float(rows[1]["start_time"]) == pytest.approx(0.4)


def test_a_video_of_one_window_is_counted_in_the_singular(files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ("predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", out, "--no-plot")
    assert run(*argv, "--fps", "5", "--format", "csv", "--device", "cpu") == 0  # 1.6 s at 5 fps: 8 frames
    assert "8 frames at 5.00 fps, 1 window of 8 frames;" in capsys.readouterr().out


def error_of(capsys, *argv) -> str:
    assert run(*argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_predict_errors_are_one_clear_line(files, tmp_path, capsys):
    ckpt = files / "ifdd.pt"
    out = ("--output-dir", tmp_path / "out", "--device", "cpu")
    assert "video not found" in error_of(capsys, "predict", tmp_path / "missing.mp4", "--checkpoint", ckpt, *out)

    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 50)
    message = error_of(capsys, "predict", tmp_path / "notes.mp4", "--checkpoint", ckpt, *out)
    assert "cannot read video" in message and "(not a video, or a damaged one)" in message and "Errno" not in message

    encode(tmp_path / "short.mp4", face_frames(5))
    err = error_of(capsys, "predict", tmp_path / "short.mp4", "--checkpoint", ckpt, *out)
    assert "5 frames, fewer than one window of 8 frames" in err

    video = files / "face.mp4"
    assert "checkpoint" in error_of(capsys, "predict", video, "--checkpoint", tmp_path / "missing.pt", *out)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--stride", "0", "expected a positive integer, got 0"),
        ("--batch-size", "0", "expected a positive integer, got 0"),
        ("--batch-size", "-1", "expected a positive integer, got -1"),
        ("--detect-every", "0", "expected a positive integer, got 0"),
        ("--fps", "inf", "expected a positive, finite frame rate (or native), got inf"),
        ("--fps", "nan", "expected a positive, finite frame rate (or native), got nan"),
        ("--fps", "0", "expected a positive, finite frame rate (or native), got 0"),
        ("--fps", "fast", "expected a frame rate (frames per second) or native, got 'fast'"),
    ],
)
def test_bad_numbers_are_refused_while_parsing_the_arguments(files, tmp_path, capsys, option, value, message):
    """Before: --batch-size 0 / -1 gave raw Python errors after decoding; --fps inf never returned."""
    argv = ["predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", tmp_path / "out"]
    with pytest.raises(SystemExit) as exit_info:
        run(*argv, option, value)
    assert exit_info.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_predict_rejects_checkpoints_of_another_model(files, tmp_path, capsys):
    video, out = files / "face.mp4", ("--output-dir", tmp_path / "out", "--device", "cpu")
    # weights of the MobileNetV2 baseline stored under the IFDD-2DCNN name
    baseline = create_model("baseline_2dcnn", **ARCH_KWARGS)
    save_checkpoint(tmp_path / "b.pt", baseline, arch="ifdd_2dcnn", arch_kwargs=ARCH_KWARGS, class_names=NAMES)
    err = error_of(capsys, "predict", video, "--checkpoint", tmp_path / "b.pt", *out)
    assert "does not fit" in err and "missing" in err
    # a bare state_dict of some other network
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "bare.pt")
    err = error_of(capsys, "predict", video, "--checkpoint", tmp_path / "bare.pt", *out)
    assert "not a lifting_dfer checkpoint" in err
    # a model this version does not know
    save_checkpoint(tmp_path / "u.pt", baseline, arch="ifdd_4dcnn", arch_kwargs=ARCH_KWARGS, class_names=NAMES)
    assert "ifdd_4dcnn" in error_of(capsys, "predict", video, "--checkpoint", tmp_path / "u.pt", *out)
    # not a PyTorch file at all
    (tmp_path / "text.pt").write_text("hello")
    err = error_of(capsys, "predict", video, "--checkpoint", tmp_path / "text.pt", *out)
    assert "not a readable PyTorch file" in err


def test_explain_writes_indices_and_gradcam(files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ("explain", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", out, "--device", "cpu")
    assert run(*argv, "--start", "12", "--target", "Sad") == 0
    assert "frames 12-19: Grad-CAM for Sad" in capsys.readouterr().out
    for name in ("face_00012_indices.png", "face_00012_gradcam.png"):
        image = np.asarray(Image.open(out / name).convert("RGB"))
        assert image.std() > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 20
    assert "--start" in error_of(capsys, *argv, "--start", "33")  # 40 frames: the last window starts at 32
    assert "--target" in error_of(capsys, *argv, "--target", "Bored")


def test_checkpoint_geometry():
    assert checkpoint_geometry({"arch_kwargs": {"num_frames": 32}}) == (32, 224)
    assert checkpoint_geometry({"arch_kwargs": {"image_size": [112, 112]}}) == (16, 112)
    assert checkpoint_geometry({"arch_kwargs": {"image_size": 112}, "input_size": 96}) == (16, 96)
    with pytest.raises(ValueError, match="square"):
        checkpoint_geometry({"arch_kwargs": {"image_size": (112, 96)}})


def test_summary_counts_the_real_models(capsys):
    assert run("summary", "--models", "ifdd_2dcnn", "baseline_2dcnn", "--frames", "8", "--size", "64", "--json") == 0
    table = json.loads(capsys.readouterr().out)
    assert table["input_shape"] == [1, 3, 8, 64, 64]
    assert [row["model"] for row in table["models"]] == ["ifdd_2dcnn", "baseline_2dcnn"]
    for row in table["models"]:
        params = count_params(create_model(row["model"], num_frames=8, image_size=64))
        assert row["params_m"] == pytest.approx(params / 1e6)
        assert 0 < row["layer_gflops"] <= row["gflops"]
    assert run("summary", "--models", "ifdd_2dcnn", "--frames", "8", "--size", "64") == 0
    assert "| ifdd_2dcnn |" in capsys.readouterr().out
    assert "unknown model" in error_of(capsys, "summary", "--models", "ifdd_4dcnn")


@pytest.mark.parametrize("module", ["lifting_dfer", "lifting_dfer.cli"])
def test_module_entry_point_reports_errors_without_traceback(tmp_path, module):
    result = subprocess.run(
        [sys.executable, "-m", module, "predict", str(tmp_path / "nope.mp4"), "--checkpoint", "x.pt"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"lifting-dfer predict: error: video not found: {tmp_path / 'nope.mp4'}"


def test_usage_errors_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "video.mp4"])  # --checkpoint is required
    assert exit_info.value.code == 2
    assert "--checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "function"), [("train", "main"), ("evaluate", "evaluate_main")])
def test_train_and_evaluate_hand_all_arguments_to_the_training_code(monkeypatch, command, function):
    import lifting_dfer.training as training

    calls = []
    monkeypatch.setattr(training, function, lambda argv: calls.append(argv) or 3)
    assert main([command, "--help", "--fold", "2", "best.pt"]) == 3
    assert calls == [["--help", "--fold", "2", "best.pt"]]


def test_output_dir_that_is_a_file_is_refused_before_any_work(files, tmp_path, capsys):
    """Before: a traceback once the model had run. Checked first: the missing checkpoint is not even looked at."""
    (tmp_path / "taken").write_text("not a folder")
    argv = ("predict", files / "face.mp4", "--checkpoint", tmp_path / "missing.pt", "--output-dir", tmp_path / "taken")
    err = error_of(capsys, *argv)
    assert err == f"lifting-dfer predict: error: --output-dir: {tmp_path / 'taken'} exists and is not a folder\n"


def test_more_bad_inputs_are_one_clear_line(files, tmp_path, capsys):
    ckpt, out = files / "ifdd.pt", ("--output-dir", tmp_path / "out", "--device", "cpu")
    (tmp_path / "empty.mp4").write_bytes(b"")
    message = error_of(capsys, "predict", tmp_path / "empty.mp4", "--checkpoint", ckpt, *out)
    assert "the file is empty (0 bytes)" in message
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("hello")
    err = error_of(capsys, "predict", tmp_path / "nothing", "--checkpoint", ckpt, *out)
    assert err.startswith(f"lifting-dfer predict: error: no video files in the folder {tmp_path / 'nothing'}")
    assert len(err.strip().splitlines()) == 1


def truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def test_truncated_video_is_reported_with_how_far_it_got(tmp_path, capsys, files):
    """Before: the first frames were decoded and the command exited 0 without a word."""
    video = tmp_path / "cut.mp4"
    with av.open(str(video), "w", options={"movflags": "faststart"}) as container:  # index first: still readable
        stream = container.add_stream("mpeg4", rate=25)
        stream.height = stream.width = 64
        stream.pix_fmt = "yuv420p"
        for frame in np.random.default_rng(0).integers(0, 256, (60, 64, 64, 3), dtype=np.uint8):  # even sizes
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    truncate(video)
    argv = ("predict", video, "--checkpoint", files / "ifdd.pt", "--output-dir", tmp_path / "out", "--no-plot")
    assert run(*argv, "--device", "cpu", "--no-face-detect") == 0
    err = capsys.readouterr().err
    assert f"warning: {video}: the file ended early: decoded " in err and "of the 60 frames it declares" in err


def test_folder_of_videos_gives_outputs_per_video_and_skips_unreadable_ones(files, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    encode(folder / "b_face.mp4", face_frames(24))
    (folder / "a_face.avi").write_bytes((files / "face.mp4").read_bytes())
    (folder / "broken.mp4").write_text("not a video\n" * 10)
    (folder / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    argv = ("predict", folder, "--checkpoint", files / "ifdd.pt", "--output-dir", out, "--format", "json")
    assert run(*argv, "--no-plot", "--device", "cpu") == 1  # some files skipped
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a_face.json", "b_face.json"]
    assert f"skipped {folder / 'broken.mp4'}: cannot read video" in captured.err
    table = captured.out.split("\n\n")[-1].splitlines()
    assert table[0].split()[:3] == ["video", "seconds", "frames"]
    rows = {line.split()[0]: line for line in table[2:]}
    assert list(rows) == ["a_face.avi", "b_face.mp4", "broken.mp4"]
    assert rows["a_face.avi"].split()[2] == "40" and rows["a_face.avi"].endswith("ok")
    assert "skipped: cannot read video" in rows["broken.mp4"]


def test_first_line_names_the_rate_training_rate_by_default(files, tmp_path, capsys):
    from lifting_dfer.video import training_sampling

    sampling = training_sampling("dfew", 8)._replace(fps=5.0).to_dict()
    model = create_model("ifdd_2dcnn", **ARCH_KWARGS)
    ckpt = save_checkpoint(tmp_path / "new.pt", model, arch="ifdd_2dcnn", arch_kwargs=ARCH_KWARGS, class_names=NAMES,
                           sampling=sampling)  # fmt: skip
    out = tmp_path / "out"
    argv = ("predict", files / "face.mp4", "--output-dir", out, "--format", "json", "--no-plot", "--device", "cpu")
    assert run(*argv, "--checkpoint", ckpt) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("sampling at 5.00 fps, the training rate of the checkpoint (DFEW: 8 frames over")
    result = json.loads((out / "face.json").read_text())
    assert result["fps"] == 5.0 and result["num_frames"] == 8  # 1.6 s at 25 fps
    assert result["sampling"]["origin"] == "training" and result["sampling"]["training"] == sampling
    assert run(*argv, "--checkpoint", ckpt, "--fps", "native") == 0
    assert capsys.readouterr().out.startswith("sampling at each video's own frame rate (--fps native)")
    assert run(*argv, "--checkpoint", files / "ifdd.pt") == 0  # an older checkpoint: today's behaviour, one note
    assert capsys.readouterr().out.startswith("note: the checkpoint does not record the frame rate")
    assert json.loads((out / "face.json").read_text())["fps"] == 25


def test_rates_above_the_videos_are_capped_with_a_warning(files, tmp_path, capsys):
    argv = ("predict", files / "face.mp4", "--checkpoint", files / "ifdd.pt", "--output-dir", tmp_path / "out")
    assert run(*argv, "--fps", "1e9", "--format", "json", "--no-plot", "--device", "cpu") == 0
    err = capsys.readouterr().err
    assert "1e+09 fps is above the video's 25.00 fps: using 25.00 fps" in err
    assert json.loads((tmp_path / "out" / "face.json").read_text())["num_frames"] == 40


def test_predict_and_explain_take_one_window_from_a_truncated_file_shorter_than_one(tmp_path, capsys):
    """Before: exit 2, 'the video has 4 frames, fewer than one window of 8 frames at 2.60 fps (a higher --fps, up
    to the video's 25.00, gives more)': the header promised 3.2 s, the file decodes about 1.3 s."""
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "dfew.pt", create_model("ifdd_2dcnn", **ARCH_KWARGS), arch="ifdd_2dcnn",
                           arch_kwargs=ARCH_KWARGS, class_names=NAMES,
                           sampling=training_sampling("dfew", 8).to_dict())  # fmt: skip
    video = tmp_path / "cut.mkv"
    with av.open(str(video), "w") as container:  # Matroska writes the duration in its header
        stream = container.add_stream("ffv1", rate=25)
        stream.height = stream.width = 64
        stream.pix_fmt = "bgr0"
        for frame in np.random.default_rng(0).integers(0, 256, (80, 64, 64, 3), dtype=np.uint8):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    truncate(video, 0.42)
    out, common = tmp_path / "out", ("--checkpoint", ckpt, "--output-dir", tmp_path / "out", "--device", "cpu")
    assert run("predict", video, *common, "--no-face-detect", "--no-plot") == 0
    err = capsys.readouterr().err
    assert "the file ended early: decoded" in err and "fewer than one window of 8 frames: the window is sampled" in err
    result = json.loads((out / "cut.json").read_text())
    assert [(w["start_frame"], w["end_frame"]) for w in result["windows"]] == [(0, 8)] and result["num_frames"] == 8
    assert run("explain", video, *common, "--no-face-detect") == 0
    assert "fewer than one window of 8 frames: the window is sampled" in capsys.readouterr().err
    assert (out / "cut_00000_gradcam.png").is_file()
