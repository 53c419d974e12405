"""Plots of lifting_dfer.viz: each writes a non-blank PNG; Grad-CAM and features match references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
from PIL import Image

from lifting_dfer import viz
from lifting_dfer.issm import ISSM
from lifting_dfer.ladm import LADM
from lifting_dfer.video import frames_to_clip

NAMES = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]


def load_png(path) -> np.ndarray:
    """The PNG as an RGB array, after checking it is not blank: pixel spread and several distinct colours."""
    assert path.is_file() and path.stat().st_size > 2000
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 10
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20
    return image


def has_colour(image: np.ndarray, hex_colour: str, tol: int = 12) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(image.astype(int) - rgb).max(axis=-1) <= tol).any())


class TinyIFDD(nn.Module):
    """Stand-in with IFDD's order of modules: stem (time stride 2) -> ISSM -> LADM -> pooled Y_D -> Linear."""

    def __init__(self, num_classes: int = 3, dim: int = 8, *, split: str = "adaptive") -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, dim, kernel_size=(2, 8, 8), stride=(2, 8, 8))  # (8, 32, 32) -> (4, 4, 4)
        self.issm = ISSM(dim, 4, 4, 4, token_dim=8, offset_range=1.0, split=split)
        self.ladm = LADM(dim, heads=2)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, clip):
        x_s, x_d = self.issm(self.stem(clip))
        _, y_d = self.ladm(x_s, x_d)
        return self.classifier(y_d.mean(dim=(2, 3, 4)))


@pytest.fixture(scope="module", autouse=True)
def _one_openmp_thread():
    """scikit-learn's t-SNE and torch bring two OpenMP runtimes; on a busy 2-core machine their thread pools
    slow each other down tenfold. One thread each keeps these tiny inputs fast and the timing stable."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)


def test_feature_to_frame_positions_centre_the_stride():
    assert viz.feature_to_frame_positions([0, 1, 2.5], frame_stride=2).tolist() == [0.5, 2.5, 5.5]
    assert viz.feature_to_frame_positions(torch.tensor([[0.0, 3.0]]), frame_stride=1).tolist() == [0.0, 3.0]
    with pytest.raises(ValueError, match="index"):
        viz.feature_to_frame_positions(torch.zeros(2, 3))


def test_plot_split_indices_marks_both_groups(tmp_path, frames):
    path = viz.plot_split_indices(frames, [0.3, 2.0, 3.6, 6.0], [1.0, 2.5, 5.0, 7.0], tmp_path / "a.png")
    image = load_png(path)
    assert has_colour(image, viz.STATIC_COLOR) and has_colour(image, viz.DYNAMIC_COLOR)
    # the markers move with the indices, and a normalised clip gives the same picture as its uint8 frames
    other = load_png(viz.plot_split_indices(frames, [0, 2, 4, 6], [1, 3, 5, 7], tmp_path / "b.png"))
    assert image.shape != other.shape or (image != other).any()
    same = load_png(viz.plot_split_indices(frames_to_clip(frames), [0, 2, 4, 6], [1, 3, 5, 7], tmp_path / "c.png"))
    np.testing.assert_array_equal(other, same)


def reference_cam(activation, gradient, size):
    """Grad-CAM written out: alpha_c = mean gradient of channel c; ReLU(sum_c alpha_c A_c) per frame; max 1."""
    c, z = activation.shape[:2]
    alpha = [gradient[k].mean() for k in range(c)]
    maps = torch.stack([F.relu(sum(alpha[k] * activation[k, j] for k in range(c))) for j in range(z)])
    maps = F.interpolate(maps[None], size=size, mode="bilinear", align_corners=False)[0].clamp_min(0)
    return maps / maps.max() if maps.max() > 0 else maps


def test_gradcam_matches_reference_and_restores_mode(frames):
    model = TinyIFDD().train()
    with torch.no_grad():  # non-zero offsets, so that the indices are not the even/odd split
        model.issm.to_static.bias.fill_(0.5)
    clip = frames_to_clip(frames)
    result = viz.gradcam(model, clip)
    assert model.training

    model.eval()  # Eqs. 5-6 written out on tokens, so that Y_S's gradient flows through the predictor
    x = model.stem(clip[None])
    x_s, x_d, (i_s, i_d) = model.issm(x, return_indices=True)
    tokens_s, tokens_d = (rearrange(a, "b c z h w -> b (z h w) c") for a in (x_s, x_d))
    tokens_ys = tokens_s + model.ladm.update(tokens_s, tokens_d)
    tokens_yd = tokens_d - model.ladm.predict(tokens_d, tokens_ys)
    y_s, y_d = (rearrange(a, "b (z h w) c -> b c z h w", z=2, h=4, w=4) for a in (tokens_ys, tokens_yd))
    logits = model.classifier(y_d.mean(dim=(2, 3, 4)))
    target = int(logits[0].argmax())
    grad_ys, grad_d = torch.autograd.grad(logits[0, target], [tokens_ys, y_d])
    grad_s = rearrange(grad_ys, "b (z h w) c -> b c z h w", z=2, h=4, w=4)
    assert result.target == target
    assert result.cam_s.shape == result.cam_d.shape == (2, 32, 32)
    torch.testing.assert_close(result.cam_s, reference_cam(y_s[0].detach(), grad_s[0], (32, 32)))
    torch.testing.assert_close(result.cam_d, reference_cam(y_d[0].detach(), grad_d[0], (32, 32)))
    torch.testing.assert_close(result.i_s, i_s[0].detach())
    torch.testing.assert_close(result.i_d, i_d[0].detach())
    assert not torch.equal(result.i_s, torch.tensor([0.0, 2.0]))
    assert result.cam_s.max() == 1 and result.cam_d.max() == 1  # both groups reach the logits
    for cam in (result.cam_s, result.cam_d):
        assert cam.min() >= 0 and cam.max() <= 1


def test_gradcam_of_another_class_differs(frames):
    model = TinyIFDD()
    clip = frames_to_clip(frames)
    first, second = viz.gradcam(model, clip, target=0), viz.gradcam(model, clip, target=1)
    assert (first.target, second.target) == (0, 1)
    assert not torch.allclose(first.cam_d, second.cam_d)
    with pytest.raises(ValueError, match="target"):
        viz.gradcam(model, clip, target=3)


def test_gradcam_of_y_s_is_zero_when_y_s_cannot_affect_the_logits(frames):
    model = TinyIFDD()
    model.ladm.order = "predict_first"  # Y_S is computed after Y_D: the classifier never sees it
    result = viz.gradcam(model, frames_to_clip(frames))
    assert result.cam_s.abs().max() == 0 and result.cam_d.max() == 1


def test_gradcam_needs_one_ladm(frames):
    with pytest.raises(ValueError, match="LADM"):
        viz.gradcam(nn.Sequential(nn.Flatten(), nn.LazyLinear(3)), frames_to_clip(frames))
    with pytest.raises(ValueError, match="clip"):
        viz.gradcam(TinyIFDD(), torch.zeros(2, 3, 8, 32, 32))


def test_plot_gradcam_writes_overlays(tmp_path, frames):
    model = TinyIFDD()
    result = viz.gradcam(model, frames_to_clip(frames), target=0)
    image = load_png(viz.plot_gradcam(frames, result, tmp_path / "cam.png", class_names=["a", "b", "c"]))
    assert has_colour(image, "#000080", tol=40) or has_colour(image, "#800000", tol=40)  # jet colours present
    with pytest.raises(ValueError, match="do not match"):
        viz.plot_gradcam(frames[:, :16, :16], result, tmp_path / "bad.png")


def test_classifier_features_are_the_last_linear_inputs(frames):
    model = TinyIFDD().train()
    clips = torch.stack([frames_to_clip(frames), frames_to_clip(frames[::-1].copy())])
    features = viz.classifier_features(model, [clips[:1], clips[1:]])
    assert model.training
    model.eval()
    with torch.no_grad():
        x_s, x_d = model.issm(model.stem(clips))
        reference = model.ladm(x_s, x_d)[1].mean(dim=(2, 3, 4))
    torch.testing.assert_close(features, reference)


def test_tsne_keeps_separated_classes_apart(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 20
    labels = np.repeat(np.arange(3), 12)
    features = centres[labels] + rng.normal(size=(36, 16))
    points = viz.tsne_embedding(features, seed=0)
    assert points.shape == (36, 2)
    # nearest neighbour in the embedding has the same label
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(36) * 1e9
    assert (labels[distances.argmin(axis=1)] == labels).mean() == 1.0
    image = load_png(viz.plot_tsne(torch.from_numpy(features), labels, ["a", "b", "c"], tmp_path / "tsne.png"))
    assert image.shape[0] > 300
    with pytest.raises(ValueError, match="labels"):
        viz.plot_tsne(features, labels[:-1], ["a", "b", "c"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="features"):
        viz.tsne_embedding(features[:2])


def test_class_radar(tmp_path):
    rng = np.random.default_rng(1)
    one = load_png(viz.plot_class_radar(rng.random(7), NAMES, tmp_path / "one.png"))
    report = {"per_class": dict(zip(NAMES, [0.9, 0.2, None, 0.5, 0.7, 0.1, 0.3]))}
    both = {"IFDD": report["per_class"], "base": rng.random(7)}
    two = load_png(viz.plot_class_radar(both, NAMES, tmp_path / "two.png"))
    assert one.shape == two.shape and (one != two).any()
    with pytest.raises(ValueError, match="expected 7 values"):
        viz.plot_class_radar([0.5] * 6, NAMES, tmp_path / "bad.png")


def test_confusion_matrix(tmp_path):
    confusion = np.random.default_rng(2).integers(0, 30, (7, 7))
    counts = load_png(viz.plot_confusion_matrix(confusion, NAMES, tmp_path / "counts.png", normalize=False))
    rates = load_png(viz.plot_confusion_matrix(torch.from_numpy(confusion), NAMES, tmp_path / "rates.png"))
    assert (counts != rates).any()
    with pytest.raises(ValueError, match=r"\(7, 7\)"):
        viz.plot_confusion_matrix(confusion[:6], NAMES, tmp_path / "bad.png")


def test_timeline_draws_every_class(tmp_path):
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(7), size=9)
    prediction = {
        "video": "clip.mp4",
        "class_names": NAMES,
        "windows": [
            {"start_time": 0.32 * i, "end_time": 0.32 * i + 0.64, "probabilities": dict(zip(NAMES, p))}
            for i, p in enumerate(probabilities)
        ],
    }
    image = load_png(viz.plot_timeline(prediction, tmp_path / "timeline.png"))
    from matplotlib import colormaps

    for k in range(7):
        colour = "#" + "".join(f"{round(255 * v):02x}" for v in colormaps["tab10"](k)[:3])
        assert has_colour(image, colour, tol=3), NAMES[k]
    with pytest.raises(ValueError, match="window"):
        viz.plot_timeline({**prediction, "windows": []}, tmp_path / "empty.png")


def test_gradcam_and_features_of_the_real_ifdd_2dcnn(tmp_path):
    from lifting_dfer.models import create_model

    model = create_model("ifdd_2dcnn", num_classes=7, num_frames=8, image_size=64).eval()
    frames = np.random.default_rng(4).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    clip = frames_to_clip(frames)
    result = viz.gradcam(model, clip)
    out = model.forward_features(clip[None])
    assert result.target == int(out.logits[0].argmax())
    assert result.cam_s.shape == result.cam_d.shape == (2, 64, 64)  # t0 = 8 -> t = 4 -> z = 2
    torch.testing.assert_close(result.i_s, out.indices[0][0].detach())
    torch.testing.assert_close(result.i_d, out.indices[1][0].detach())
    assert result.cam_d.max() == 1 and result.cam_s.max() == 1
    load_png(viz.plot_gradcam(frames, result, tmp_path / "cam.png", class_names=NAMES))
    load_png(viz.plot_split_indices(frames, result.i_s, result.i_d, tmp_path / "indices.png"))
    features = viz.classifier_features(model, [clip[None]])
    torch.testing.assert_close(features, out.features.detach())


def test_gallery_example_writes_every_figure(tmp_path):
    import importlib.util
    from pathlib import Path

    pytest.importorskip("av")
    path = Path(__file__).parents[1] / "examples" / "visualisation_gallery.py"
    spec = importlib.util.spec_from_file_location("visualisation_gallery", path)
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    gallery.main(["--untrained", "--out", str(tmp_path), "--clips-per-class", "5"])
    for name in ("timeline", "indices", "gradcam", "tsne", "radar", "confusion"):
        load_png(tmp_path / f"{name}.png")
