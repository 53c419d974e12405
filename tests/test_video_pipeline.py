"""Streaming prediction (lifting_dfer.video): windows on a stream, the frame cache, per-frame feature reuse,
fast paths (BatchNorm folding, bf16), the backend interface and the training-matched frame rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

pytest.importorskip("av")
pytest.importorskip("cv2")

from lifting_dfer.data import uniform_indices
from lifting_dfer.models import create_model
from lifting_dfer.video import (
    FaceCropper,
    FrameCache,
    TorchBackend,
    WindowBackend,
    WindowSchedule,
    available_backends,
    checkpoint_sampling,
    choose_rate,
    frames_to_clip,
    load_backend,
    pipeline,
    predict_video,
    read_video,
    sliding_windows,
    training_sampling,
)
from lifting_dfer.video.fastpath import fold_batchnorm, native_bf16, resolve_precision

NAMES = list("abcdefg")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small convolutions: one thread is as fast, and on a busy machine OpenMP's spin-waits make two far slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_frames(n: int, height: int = 56, width: int = 72, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def trained_like(model: nn.Module) -> nn.Module:
    """Move every BatchNorm off its initial statistics (so folding them is not a no-op), eval mode."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0, 0.2, generator=gen)
    return model.eval()


@pytest.fixture(scope="module")
def ifdd():
    torch.manual_seed(0)
    return trained_like(create_model("ifdd_2dcnn", num_frames=8, image_size=64, dim=32))


def reference(model, path, spans, size=64):
    """The plain model (no fast path, no reuse) on each window of the centre-cropped frames."""
    frames = read_video(path, transform=FaceCropper(size, detect=False)).frames
    with torch.no_grad():
        clips = torch.stack([frames_to_clip(frames[s:e]) for s, e in spans])
        return model(clips).softmax(-1)


def probabilities(result):
    return torch.tensor([[w["probabilities"][n] for n in result["class_names"]] for w in result["windows"]])


# --- windows on a stream ---------------------------------------------------------------------------------


@given(
    n=st.integers(1, 60), window=st.integers(1, 12), stride=st.integers(1, 9),
    chunks=st.lists(st.integers(1, 7), min_size=1, max_size=20),
)  # fmt: skip
def test_streamed_windows_are_the_sliding_windows(n, window, stride, chunks):
    schedule, seen, released = WindowSchedule(window, stride), 0, []
    for size in chunks * (n // sum(chunks) + 1):
        seen = min(n, seen + size)
        released += schedule.ready(seen)
        assert all(e <= seen for _, e in released)  # never released before its frames arrived
        assert all(s >= schedule.needed_from(seen) for s, _ in sliding_windows(n, window, stride)
                   if (s, s + window) not in released) if n >= window else True  # fmt: skip
        if seen == n:
            break
    if n < window:
        with pytest.raises(ValueError, match="fewer than one window"):
            schedule.finish(n)
    else:
        assert released + schedule.finish(n) == sliding_windows(n, window, stride)


def test_frame_cache_stacks_windows_and_forgets_old_frames():
    cache = FrameCache()
    frames = torch.arange(10.0).view(10, 1, 1, 1)
    cache.extend([frames, 2 * frames])
    cache.drop_before(4)
    assert (len(cache), cache.first, cache.end) == (6, 4, 10)
    pixels, doubled = cache.windows([(4, 7), (6, 9)])
    assert pixels.shape == (2, 1, 3, 1, 1)  # (b, c, t, h, w)
    assert pixels.flatten(1).tolist() == [[4, 5, 6], [6, 7, 8]] and torch.equal(doubled, 2 * pixels)
    with pytest.raises(ValueError, match=r"not in the cache, which holds \[4, 10\)"):
        cache.windows([(2, 5)])
    with pytest.raises(ValueError, match="same number of frames"):
        cache.extend([frames, frames[:3]])


# --- per-frame feature reuse -----------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["ifdd_2dcnn", "baseline_2dcnn"])
def test_feature_reuse_equals_the_model_on_each_window(tmp_path, encode_video, arch):
    """Windows at odd starts (stride 3) pair other frames than the global even/odd pairs; the last window is the
    extra one ending on the last frame. The fast paths (folded BatchNorm, channels-last) are on."""
    torch.manual_seed(0)
    model = trained_like(create_model(arch, num_frames=8, image_size=64, **({"dim": 32} if "ifdd" in arch else {})))
    path = encode_video(tmp_path / "v.mkv", random_frames(24))
    backend = TorchBackend(model, class_names=NAMES, num_frames=8, input_size=64, precision="fp32")
    assert backend.reuses_frames and backend.folded > 30
    result = predict_video(backend, path, stride=3, face_detect=False, batch_size=4)
    spans = [(w["start_frame"], w["end_frame"]) for w in result["windows"]]
    assert spans == sliding_windows(24, 8, 3) and spans[-1] == (16, 24)
    torch.testing.assert_close(probabilities(result), reference(model, path, spans), atol=1e-5, rtol=0)
    assert set(result["timing"]) == {"decode", "crop", "backbone", "head"}
    assert result["timing"]["backbone"]["items"] == 24 and result["timing"]["head"]["items"] == len(spans)


def test_per_window_path_for_models_without_frame_features(tmp_path, encode_video, ifdd):
    """A 3D backbone (here: reuse switched off) runs the whole model on each window; same probabilities."""
    path = encode_video(tmp_path / "v.mkv", random_frames(20))
    backend = TorchBackend(ifdd, class_names=NAMES, num_frames=8, input_size=64, reuse_frames=False)
    assert not backend.reuses_frames
    result = predict_video(backend, path, face_detect=False)
    spans = [(w["start_frame"], w["end_frame"]) for w in result["windows"]]
    torch.testing.assert_close(probabilities(result), reference(ifdd, path, spans), atol=1e-5, rtol=0)
    assert "model" in result["timing"] and "backbone" not in result["timing"]


def test_memory_holds_a_bounded_number_of_frames_whatever_the_length(tmp_path, encode_video, monkeypatch):
    """The cache never holds more than batch_size * stride + t0 + FRAME_BATCH frames (here 24, for 150 frames)."""
    sizes = []
    extend = FrameCache.extend

    def record(self, stages):
        extend(self, stages)
        sizes.append(len(self))

    monkeypatch.setattr(FrameCache, "extend", record)
    model = create_model("ifdd_2dcnn", num_frames=4, image_size=32, dim=16).eval()
    path = encode_video(tmp_path / "long.mkv", random_frames(150, 32, 32))
    result = predict_video(model, path, num_frames=4, input_size=32, class_names=NAMES, stride=2, batch_size=2,
                           face_detect=False)  # fmt: skip
    assert result["num_frames"] == 150 and len(result["windows"]) == 74
    assert max(sizes) <= 2 * 2 + 4 + pipeline.FRAME_BATCH


@pytest.mark.skipif(not native_bf16("cpu"), reason="this CPU has no native bfloat16 (AVX-512 BF16 / AMX)")
def test_bf16_probabilities_stay_within_0_02_of_fp32(tmp_path, encode_video, ifdd):
    path = encode_video(tmp_path / "v.mkv", random_frames(24))
    runs = {
        p: probabilities(predict_video(ifdd, path, num_frames=8, input_size=64, class_names=NAMES, precision=p,
                                       face_detect=False))
        for p in ("fp32", "bf16")
    }  # fmt: skip
    gap = (runs["bf16"] - runs["fp32"]).abs().max().item()
    assert 0 < gap <= 0.02  # bf16 did run (not equal) and stays close
    assert resolve_precision("auto", "cpu") == "bf16"


def test_precision_is_checked():
    with pytest.raises(ValueError, match="precision: expected fp32, bf16 or auto"):
        resolve_precision("fp16", "cpu")
    assert resolve_precision("auto", "meta") == "fp32"
    with pytest.raises(ValueError, match="lacks"):
        resolve_precision("bf16", "meta")


def test_emulated_bf16_is_not_native(monkeypatch):
    """AVX-512 without its BF16 extension (Skylake, Cascade Lake) emulates bf16, slower than fp32: auto keeps fp32."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not native_bf16("cpu") and resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert native_bf16("cpu") == torch.backends.mkldnn.is_available()


def test_frames_and_stage_features_are_checked():
    from lifting_dfer.video import normalize_frames

    with pytest.raises(TypeError, match="frames: expected uint8 RGB in \\[0, 255\\], got float32"):
        normalize_frames(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="mean, std: expected one value per RGB channel"):
        normalize_frames(np.zeros((2, 8, 8, 3), np.uint8), mean=(0.5,), std=(0.2,))
    backbone = create_model("ifdd_2dcnn", num_frames=8, image_size=64, dim=32).backbone
    stages = [torch.zeros(1, 16, 7, 8, 8)]  # 7 frames: not a multiple of the temporal stride 2
    expected = r"stages\[0\]: expected \(b, c, t0, h, w\) with t0 a multiple of frame_stride=2"
    with pytest.raises(ValueError, match=expected):
        backbone.temporal_pool(stages)


# --- BatchNorm folding -----------------------------------------------------------------------------------


def test_folding_replaces_conv_batchnorm_pairs_and_keeps_the_outputs():
    net = trained_like(nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                     nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))).eval()  # fmt: skip
    x = torch.randn(2, 3, 9, 9)
    folded, pairs = fold_batchnorm(net, x)
    assert pairs == 2 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    w, bn = net[0].weight, net[1]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # the folding formula, written out
    torch.testing.assert_close(folded[0].weight, w * scale.view(-1, 1, 1, 1))
    torch.testing.assert_close(folded[0].bias, bn.bias - bn.running_mean * scale)
    torch.testing.assert_close(folded(x), net(x), atol=1e-5, rtol=1e-5)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is untouched


class ConvUsedTwice(nn.Module):
    """The conv's output feeds the BatchNorm and a residual: folding would change the residual."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.conv(x)
        return self.norm(y) + y


def test_folding_that_would_change_the_outputs_is_not_applied():
    net = trained_like(ConvUsedTwice())
    x = torch.randn(1, 3, 4, 4)
    folded, pairs = fold_batchnorm(net, x)
    assert pairs == 0 and isinstance(folded.norm, nn.BatchNorm2d)
    torch.testing.assert_close(folded(x), net(x))


# --- backends ----------------------------------------------------------------------------------------------


class Constant(WindowBackend):
    """A backend that is not PyTorch-model based: the interface is all predict needs."""

    def __init__(self) -> None:
        from lifting_dfer.video import BackendInfo

        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        self.info = BackendInfo("constant", ("x", "y"), 4, 16, mean, std, None, "fp32", "cpu")
        self.calls = []

    def predict(self, windows):
        self.calls.append((tuple(windows.shape), 0 <= windows.min().item() <= windows.max().item() <= 1))
        return torch.tensor([[0.25, 0.75]]).expand(windows.shape[0], 2)


def test_any_window_backend_plugs_into_predict(tmp_path, encode_video):
    backend = Constant()
    result = predict_video(backend, encode_video(tmp_path / "v.mkv", random_frames(10, 16, 16)), face_detect=False)
    assert backend.calls == [((4, 3, 4, 16, 16), True)]  # (0, 4) (2, 6) (4, 8) (6, 10) in one batch, x / 255
    assert [w["top"] for w in result["windows"]] == ["y"] * 4 and result["backend"] == "constant"
    assert "pytorch" in available_backends()
    with pytest.raises(ValueError, match="backend: expected one of"):
        load_backend("tensorflow", tmp_path / "m.pt")


# --- training-matched frame rate -------------------------------------------------------------------------


def test_training_rate_spreads_t0_frames_over_a_mean_clip():
    dfew = training_sampling("dfew", 16)
    assert dfew.clip_seconds == pytest.approx(77 / 25) and dfew.fps == pytest.approx(16 / (77 / 25))
    assert training_sampling("mafw", 32).fps == pytest.approx(32 / (110 / 25))
    assert checkpoint_sampling({"sampling": dfew.to_dict()}) == dfew
    assert checkpoint_sampling({}) is None  # checkpoints from before the field
    with pytest.raises(ValueError, match="malformed 'sampling'"):
        checkpoint_sampling({"sampling": {"fps": 3}})
    with pytest.raises(ValueError, match="dataset"):
        training_sampling("kinetics", 16)


@pytest.mark.parametrize(
    ("requested", "sampling_fps", "expected"),
    [
        (None, 5.0, (5.0, "training")),
        (None, None, (30.0, "native")),
        (12.0, 5.0, (12.0, "requested")),
        ("native", 5.0, (30.0, "native")),
        (240.0, 5.0, (30.0, "requested")),  # capped at the source rate
        (None, 50.0, (30.0, "training")),
    ],
)
def test_rate_choice(requested, sampling_fps, expected):
    sampling = None if sampling_fps is None else training_sampling("dfew", 16)._replace(fps=sampling_fps)
    choice = choose_rate(requested, sampling, 30.0)
    assert (choice.fps, choice.origin) == expected
    assert (choice.note is not None) == ((expected[0] == 30.0 and requested not in (None, "native")) or
                                         sampling_fps == 50.0)  # fmt: skip


def test_predict_samples_at_the_training_rate_by_default(tmp_path, encode_video):
    backend = Constant()
    backend.info = backend.info._replace(sampling=training_sampling("dfew", 4)._replace(fps=5.0))
    result = predict_video(backend, encode_video(tmp_path / "v.mkv", random_frames(50, 16, 16)), face_detect=False)
    assert result["fps"] == 5.0 and result["num_frames"] == 10  # 2 s at 25 fps -> 10 frames at 5 fps
    assert result["sampling"]["origin"] == "training" and result["sampling"]["source_fps"] == 25
    native = predict_video(backend, tmp_path / "v.mkv", fps="native", face_detect=False)
    assert native["fps"] == 25 and native["num_frames"] == 50


# --- files that end early ---------------------------------------------------------------------------------


class Recorder(WindowBackend):
    """Keeps the windows it classifies; frames in [0, 1] (mean 0, std 1), a DFEW-like training rate of 8 frames."""

    def __init__(self) -> None:
        from lifting_dfer.video import BackendInfo

        sampling = training_sampling("dfew", 8)  # 8 frames over 3.08 s: 2.60 fps
        self.info = BackendInfo("recorder", ("x", "y"), 8, 16, (0.0,) * 3, (1.0,) * 3, sampling, "fp32", "cpu")
        self.windows = []

    def predict(self, windows):
        self.windows.append(windows)
        return torch.tensor([[0.25, 0.75]]).expand(windows.shape[0], 2)


def cut(path, fraction):
    """``path`` with its tail cut off: the header still declares the whole length."""
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])
    return path


def decoded_frames(path) -> np.ndarray:
    with pytest.warns(UserWarning, match="the file ended early"):
        return read_video(path).frames


@pytest.mark.parametrize(
    ("fraction", "fps"),
    [
        (0.42, None),  # about 33 of 80 frames: 1.3 s, 3 or 4 frames at the training rate (2.60 fps)
        (0.08, "native"),  # about 5 frames: fewer than one window even at the video's own 25 fps
    ],
)
def test_a_truncated_file_shorter_than_one_window_gets_one_window_of_what_decoded(
    tmp_path, encode_video, fraction, fps
):
    """Before: ValueError 'the video has 4 frames, fewer than one window of 8 frames at 2.60 fps'. The window is
    sampled over the decoded frames as training samples a clip (spread over it, repeated when fewer than t0)."""
    path = cut(encode_video(tmp_path / "v.mkv", random_frames(80, 16, 16)), fraction)  # declares 80 frames, 3.2 s
    frames = decoded_frames(path)
    n = len(frames)
    backend = Recorder()
    with pytest.warns(UserWarning) as caught:
        result = predict_video(backend, path, fps=fps, face_detect=False)
    messages = [str(w.message) for w in caught]
    assert any(f"the file ended early: decoded {n} of the 80 frames it declares" in m for m in messages)
    assert any(f"fewer than one window of 8 frames: the window is sampled over the {n} frames that decoded" in m
               for m in messages)  # fmt: skip
    assert [(w["start_frame"], w["end_frame"]) for w in result["windows"]] == [(0, 8)]
    assert result["num_frames"] == 8 and result["fps"] == pytest.approx(8 / (n / 25))
    assert result["windows"][0]["end_time"] == pytest.approx(n / 25)  # the window spans what decoded
    expected = torch.from_numpy(frames[uniform_indices(n, 8)]).permute(3, 0, 1, 2).float() / 255
    assert len(backend.windows) == 1
    torch.testing.assert_close(backend.windows[0][0], expected)


def test_a_whole_file_shorter_than_one_window_is_still_refused(tmp_path, encode_video):
    """Only a file that ended early is sampled into one window; a short whole file keeps the clear error."""
    path = encode_video(tmp_path / "v.mkv", random_frames(5, 16, 16))
    with pytest.raises(ValueError, match="the video has 5 frames, fewer than one window of 8 frames"):
        predict_video(Recorder(), path, fps="native", face_detect=False)
