"""Video decoding, resampling, face cropping, windows and per-window prediction (lifting_dfer.video)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from torch import nn

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from conftest import _encode_video  # noqa: E402

from lifting_dfer.video import (  # noqa: E402
    FaceCropper,
    clip_to_frames,
    frames_to_clip,
    predict_video,
    read_video,
    sliding_windows,
)

HAAR = hasattr(cv2, "CascadeClassifier")
needs_haar = pytest.mark.skipif(not HAAR, reason="this OpenCV has no Haar cascades (OpenCV 5); needs opencv<5")


def encode(path, frames: np.ndarray, *, fps: int = 25, codec: str = "mpeg4", pix_fmt: str = "yuv420p") -> None:
    """Write uint8 RGB frames (n, h, w, 3) as a video file with PyAV (mpeg4 unless told otherwise)."""
    _encode_video(path, frames, fps=fps, codec=codec, pix_fmt=pix_fmt)


def draw_face(height: int, width: int, cx: int, cy: int, s: int) -> np.ndarray:
    """A cartoon frontal face (skin ellipse, eyes, brows, nose, mouth) that the Haar cascade detects."""
    img = np.full((height, width, 3), 90, np.uint8)
    cv2.ellipse(img, (cx, cy), (int(s * 0.42), int(s * 0.55)), 0, 0, 360, (200, 200, 200), -1)
    for side in (-1, 1):
        eye = (cx + int(side * s * 0.17), cy - int(s * 0.12))
        cv2.ellipse(img, eye, (int(s * 0.09), int(s * 0.045)), 0, 0, 360, (30, 30, 30), -1)
        brow = ((cx + int(side * s * 0.08), cy - int(s * 0.23)), (cx + int(side * s * 0.27), cy - int(s * 0.24)))
        cv2.line(img, *brow, (40, 40, 40), max(1, int(s * 0.03)))
    cv2.line(img, (cx, cy - int(s * 0.05)), (cx, cy + int(s * 0.12)), (120, 120, 120), max(1, int(s * 0.03)))
    cv2.ellipse(img, (cx, cy + int(s * 0.25)), (int(s * 0.15), int(s * 0.05)), 0, 0, 360, (60, 40, 40), -1)
    return img


def index_frames(n: int, size: int = 16) -> np.ndarray:
    """Frames whose flat grey level encodes their index (5 * i), to trace which source frame was kept."""
    return np.repeat((5 * np.arange(n, dtype=np.uint8))[:, None, None, None], size * size * 3).reshape(n, size, size, 3)


# --- sliding windows -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "window", "stride"), [(16, 16, 8), (40, 16, 8), (41, 16, 8), (30, 4, 3), (9, 2, 1)])
def test_sliding_windows_cover_every_frame(n, window, stride):
    windows = sliding_windows(n, window, stride)
    expected = (n - window) // stride + 1 + int((n - window) % stride != 0)
    assert len(windows) == expected
    assert all(end - start == window for start, end in windows)
    assert windows[0][0] == 0 and windows[-1][1] == n
    assert [s for s, _ in windows[: (n - window) // stride + 1]] == list(range(0, n - window + 1, stride))
    covered = set().union(*(range(s, e) for s, e in windows))
    assert covered == set(range(n))


@pytest.mark.parametrize(("n", "window", "stride"), [(15, 16, 8), (0, 16, 8), (20, 0, 8), (20, 16, 0)])
def test_sliding_windows_reject_short_videos_and_bad_sizes(n, window, stride):
    with pytest.raises(ValueError, match="window"):
        sliding_windows(n, window, stride)


# --- decoding ------------------------------------------------------------------------------------------------


def test_read_video_is_lossless_on_a_lossless_codec(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (6, 24, 32, 3), dtype=np.uint8)
    encode(tmp_path / "v.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    video = read_video(tmp_path / "v.mkv")
    assert video.fps == video.source_fps == 25
    np.testing.assert_array_equal(video.frames, frames)


@pytest.mark.parametrize(("suffix", "codec"), [("mp4", "mpeg4"), ("avi", "mpeg4"), ("mov", "libx264")])
def test_read_video_decodes_common_containers(tmp_path, suffix, codec):
    frames = np.stack([draw_face(48, 64, 32, 24, 30)] * 5)
    encode(tmp_path / f"v.{suffix}", frames, codec=codec)
    video = read_video(tmp_path / f"v.{suffix}")
    assert video.frames.shape == frames.shape and video.frames.dtype == np.uint8
    assert np.abs(video.frames.astype(int) - frames).mean() < 8  # lossy codecs: close, not equal


@pytest.mark.parametrize("fps", [10.0, 25.0, 7.0, 24.9])
def test_read_video_resamples_by_sample_and_hold(tmp_path, fps):
    n, source_fps = 20, 25
    encode(tmp_path / "v.mkv", index_frames(n), fps=source_fps, codec="ffv1", pix_fmt="bgr0")
    video = read_video(tmp_path / "v.mkv", fps=fps)
    # output slot k (time k / fps) shows the last source frame i with i / 25 <= k / fps; the clip lasts n / 25 s
    expected = [math.floor(k * source_fps / fps + 1e-9) for k in range(math.ceil(n * fps / source_fps - 1e-9))]
    assert video.fps == fps and video.source_fps == source_fps
    assert (video.frames[:, 0, 0, 0] // 5).tolist() == expected


@pytest.mark.parametrize("fps", [50.0, 1e9, None])
def test_rates_at_or_above_the_source_keep_every_frame_once(tmp_path, fps):
    """Resampling above the source rate would only repeat frames (and --fps 1e9 would never end): it is capped."""
    encode(tmp_path / "v.mkv", index_frames(20), fps=25, codec="ffv1", pix_fmt="bgr0")
    video = read_video(tmp_path / "v.mkv", fps=fps)
    assert video.fps == 25 and (video.frames[:, 0, 0, 0] // 5).tolist() == list(range(20))


@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 0, -3.0])
def test_non_finite_or_non_positive_rates_are_refused(tmp_path, fps):
    encode(tmp_path / "v.mkv", index_frames(3), codec="ffv1", pix_fmt="bgr0")
    with pytest.raises(ValueError, match="fps: expected a positive, finite frame rate"):
        read_video(tmp_path / "v.mkv", fps=fps)


def test_read_video_applies_transform_to_kept_frames_only(tmp_path):
    encode(tmp_path / "v.mkv", index_frames(20), codec="ffv1", pix_fmt="bgr0")
    seen = []
    video = read_video(tmp_path / "v.mkv", fps=5, transform=lambda f: seen.append(f[0, 0, 0]) or f[:4, :4])
    assert video.frames.shape == (4, 4, 4, 3)
    assert [v // 5 for v in seen] == [0, 5, 10, 15]


def test_read_video_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    with pytest.raises(ValueError, match="cannot read video"):
        read_video(tmp_path / "text.mp4")
    with pytest.raises(ValueError, match="directory"):
        read_video(tmp_path)
    encode(tmp_path / "v.mkv", index_frames(3), codec="ffv1", pix_fmt="bgr0")
    with pytest.raises(ValueError, match="fps"):
        read_video(tmp_path / "v.mkv", fps=0)


def test_a_file_that_ends_early_is_reported_with_how_far_it_got(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (60, 32, 32, 3), dtype=np.uint8)
    faststart = {"movflags": "faststart"}  # the index first, so that the cut file still opens
    path = _encode_video(tmp_path / "v.mp4", frames, codec="mpeg4", pix_fmt="yuv420p", options=faststart)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the whole file: no warning
        assert len(read_video(path).frames) == 60
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match=r"v.mp4: the file ended early: decoded \d+ of the 60 frames it declares"):
        video = read_video(path)
    assert 0 < len(video.frames) < 60


# --- normalisation -------------------------------------------------------------------------------------------


def test_frames_to_clip_normalises_with_imagenet_statistics():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    frames = np.random.default_rng(1).integers(0, 256, (3, 5, 4, 3), dtype=np.uint8)
    clip = frames_to_clip(frames)
    for c in range(3):
        for t in range(3):
            reference = (frames[t, :, :, c] / 255.0 - mean[c]) / std[c]
            np.testing.assert_allclose(clip[c, t].numpy(), reference, atol=1e-5)
    np.testing.assert_array_equal(clip_to_frames(clip), frames)
    with pytest.raises(ValueError, match="frames"):
        frames_to_clip(frames[..., :2])


# --- face cropping -------------------------------------------------------------------------------------------


def test_centre_crop_without_detection():
    frame = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    cropper = FaceCropper(20, detect=False)
    crop = cropper(frame)
    np.testing.assert_array_equal(crop, cv2.resize(frame[:, 10:50], (20, 20), interpolation=cv2.INTER_AREA))
    assert (cropper.frames_with_face, cropper.fallback_frames) == (0, 1)


def test_square_is_enlarged_and_kept_inside_the_frame():
    from lifting_dfer.video.faces import _Box  # boxes are (x, y, w, h)

    cropper = FaceCropper(32, margin=0.5, detect=False)
    assert cropper.square(_Box(40, 30, 20, 10), 100, 200) == (30, 15, 40)  # side (1 + 2*0.5) * 20, centred
    assert cropper.square(_Box(0, 0, 20, 20), 100, 200) == (0, 0, 40)  # moved inside at the top-left corner
    assert cropper.square(_Box(180, 90, 20, 20), 100, 200) == (160, 60, 40)  # and at the bottom-right corner
    assert cropper.square(_Box(0, 0, 90, 90), 100, 200) == (0, 0, 100)  # never larger than the frame
    assert cropper.square(None, 100, 200) == (50, 0, 100)  # centre crop


@needs_haar
def test_detects_a_face_and_centres_the_crop_on_it():
    frame = draw_face(120, 160, 110, 50, 60)
    cropper = FaceCropper(48, margin=0.2)
    box = cropper.detect_face(frame)
    assert box is not None
    assert abs(box.x + box.w / 2 - 110) <= 4 and abs(box.y + box.h / 2 - 50) <= 6
    crop = cropper(frame)
    assert crop.shape == (48, 48, 3)
    x0, y0, side = cropper.square(box, 120, 160)
    assert side > 48  # shrinking: area interpolation
    reference = cv2.resize(frame[y0 : y0 + side, x0 : x0 + side], (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crop, reference)
    assert (cropper.frames_with_face, cropper.fallback_frames) == (1, 0)


@needs_haar
def test_box_is_held_for_a_few_frames_then_centre_crop():
    face, blank = draw_face(96, 96, 48, 48, 56), np.full((96, 96, 3), 90, np.uint8)
    cropper = FaceCropper(32, hold=2)
    for frame in [face, blank, blank, blank, blank, face]:
        cropper(frame)
    # frame 0 detected, frames 1-2 hold its box, frames 3-4 fall back, frame 5 detected again
    assert (cropper.frames_with_face, cropper.fallback_frames) == (4, 2)


@needs_haar
def test_a_missed_sparse_detection_holds_the_box_for_hold_more_frames():
    face, blank = draw_face(96, 96, 48, 48, 56), np.full((96, 96, 3), 90, np.uint8)
    cropper = FaceCropper(32, detect_every=4, hold=2)  # detection every 4th frame, longer than the hold
    for frame in [face] + [blank] * 9:
        cropper(frame)
    # frame 0 detected, 1-3 between detections, frame 4's detection misses: 4-5 held, 6-9 fall back (8 misses too)
    assert (cropper.frames_with_face, cropper.fallback_frames) == (6, 4)


@needs_haar
def test_detector_runs_on_every_kth_frame_and_its_box_is_held_in_between(monkeypatch):
    face = draw_face(96, 128, 40, 48, 56)  # off centre, so that the face crop and the centre crop differ
    ramp = np.repeat(np.repeat(np.linspace(0, 255, 128).astype(np.uint8)[None, :, None], 96, 0), 3, 2)  # no face
    cropper = FaceCropper(32, detect_every=3, hold=0)
    calls = []
    detect = cropper.detect_face
    monkeypatch.setattr(cropper, "detect_face", lambda frame: calls.append(frame is face) or detect(frame))
    crops = [cropper(frame) for frame in [face, ramp, ramp, ramp, ramp, ramp]]
    assert calls == [True, False]  # the detector ran on frames 0 and 3 only
    # frames 1-2 keep frame 0's box; frame 3's detection finds nothing, so frames 3-5 get centre crops
    assert (cropper.frames_with_face, cropper.fallback_frames) == (3, 3)
    x0, y0, side = cropper.square(detect(face), 96, 128)
    held = cv2.resize(ramp[y0 : y0 + side, x0 : x0 + side], (32, 32), interpolation=cv2.INTER_AREA)
    centre = cv2.resize(ramp[:, 16:112], (32, 32), interpolation=cv2.INTER_AREA)
    assert not np.array_equal(held, centre)
    np.testing.assert_array_equal(crops[1], held)
    np.testing.assert_array_equal(crops[2], held)
    np.testing.assert_array_equal(crops[3], centre)


def test_without_haar_cascades_every_frame_is_centre_cropped(monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)  # as in OpenCV 5's main wheels
    with pytest.warns(UserWarning, match="no Haar face cascade"):
        cropper = FaceCropper(16)
    assert not cropper.detects
    frame = draw_face(32, 48, 24, 16, 28)
    np.testing.assert_array_equal(cropper(frame), FaceCropper(16, detect=False)(frame))
    assert (cropper.frames_with_face, cropper.fallback_frames) == (0, 1)


def test_missing_optional_dependency_names_the_extra():
    from lifting_dfer._optional import optional_import

    with pytest.raises(ImportError, match=r"pip install 'lifting_dfer\[video\]'"):
        optional_import("lifting_dfer_no_such_module", extra="video")


def test_face_cropper_rejects_bad_settings_and_frames():
    with pytest.raises(ValueError, match="size"):
        FaceCropper(0)
    with pytest.raises(ValueError, match="detect_every"):
        FaceCropper(8, detect_every=0)
    with pytest.raises(ValueError, match="frame"):
        FaceCropper(8, detect=False)(np.zeros((8, 8), np.uint8))


# --- per-window prediction -----------------------------------------------------------------------------------


class ChannelMeans(nn.Module):
    """Stand-in model: logits = mean of each colour channel of the clip (so probabilities can be recomputed)."""

    def forward(self, x):
        return x.mean(dim=(2, 3, 4))


def test_predict_video_gives_softmax_of_each_window(tmp_path):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (13, 16, 16, 3), dtype=np.uint8)
    encode(tmp_path / "v.mkv", frames, fps=10, codec="ffv1", pix_fmt="bgr0")
    names = ["red", "green", "blue"]
    result = predict_video(
        ChannelMeans(), tmp_path / "v.mkv", num_frames=4, input_size=16, class_names=names, face_detect=False
    )
    assert result["fps"] == 10 and result["num_frames"] == 13 and result["window"] == 4 and result["stride"] == 2
    assert result["class_names"] == names
    assert result["face_detection"] == {"frames_with_face": 0, "fallback_frames": 13}
    windows = sliding_windows(13, 4, 2)
    assert [(w["start_frame"], w["end_frame"]) for w in result["windows"]] == windows
    for w, (start, end) in zip(result["windows"], windows):
        reference = frames_to_clip(frames[start:end]).mean(dim=(1, 2, 3)).softmax(0).tolist()
        assert list(w["probabilities"].values()) == pytest.approx(reference, abs=1e-5)
        assert w["top"] == names[int(np.argmax(reference))]
        assert (w["start_time"], w["end_time"]) == pytest.approx((start / 10, end / 10))


def test_predict_video_errors(tmp_path):
    encode(tmp_path / "short.mkv", index_frames(3), codec="ffv1", pix_fmt="bgr0")
    with pytest.raises(ValueError, match="fewer than one window"):
        predict_video(
            ChannelMeans(), tmp_path / "short.mkv", num_frames=4, input_size=8, class_names=list("abc"),
            face_detect=False,
        )  # fmt: skip
    encode(tmp_path / "v.mkv", index_frames(8), codec="ffv1", pix_fmt="bgr0")
    with pytest.raises(ValueError, match="3 classes but 2 class names"):
        predict_video(
            ChannelMeans(), tmp_path / "v.mkv", num_frames=4, input_size=8, class_names=["a", "b"], face_detect=False
        )


def test_predict_video_warns_when_no_face_is_found(tmp_path):
    encode(tmp_path / "v.mkv", index_frames(4), codec="ffv1", pix_fmt="bgr0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = predict_video(ChannelMeans(), tmp_path / "v.mkv", num_frames=4, input_size=8, class_names=list("abc"))
    assert result["face_detection"] == {"frames_with_face": 0, "fallback_frames": 4}
    messages = " ".join(str(w.message) for w in caught)
    assert ("no face found on 4 of 4 frames" in messages) if HAAR else ("Haar" in messages)
