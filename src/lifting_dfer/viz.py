"""Plots of what IFDD learned (the paper's figures) and of ``lifting-dfer predict`` timelines; each writes a PNG.

- [`plot_split_indices`][lifting_dfer.viz.plot_split_indices]: ISSM's static/dynamic indices ``I_S, I_D`` over the
  clip's frames.
- [`gradcam`][lifting_dfer.viz.gradcam] + [`plot_gradcam`][lifting_dfer.viz.plot_gradcam]: Grad-CAM of ``Y_S`` and
  ``Y_D`` over the frames (paper Fig. 2a).
- [`plot_tsne`][lifting_dfer.viz.plot_tsne]: t-SNE of the classifier features
  ([`classifier_features`][lifting_dfer.viz.classifier_features] collects them).
- [`plot_class_radar`][lifting_dfer.viz.plot_class_radar],
  [`plot_confusion_matrix`][lifting_dfer.viz.plot_confusion_matrix]: per-class accuracy and the confusion matrix.
- [`plot_timeline`][lifting_dfer.viz.plot_timeline]: probability of each emotion over time, from
  [`predict_video`][lifting_dfer.video.predict_video].

matplotlib and scikit-learn are imported lazily (``pip install 'lifting_dfer[viz]'``). Figures are built with
``matplotlib.figure.Figure`` (no pyplot, no global backend state, nothing is shown on screen).

Feature frames and input frames: the backbones halve time (``t = t0 / 2``), so feature frame ``j`` summarises
input frames ``2j`` and ``2j + 1``; a (fractional) feature index ``i`` is drawn at input position
``frame_stride * i + (frame_stride - 1) / 2``
([`feature_to_frame_positions`][lifting_dfer.viz.feature_to_frame_positions]).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ._optional import optional_import
from .normalization import clip_to_frames

__all__ = [
    "GradCAM",
    "classifier_features",
    "feature_to_frame_positions",
    "gradcam",
    "plot_class_radar",
    "plot_confusion_matrix",
    "plot_gradcam",
    "plot_split_indices",
    "plot_timeline",
    "plot_tsne",
    "tsne_embedding",
]

STATIC_COLOR = "#1f77b4"  # I_S / Y_S
DYNAMIC_COLOR = "#d62728"  # I_D / Y_D


def _figure(width: float, height: float):
    optional_import("matplotlib", extra="viz")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", facecolor="white")
    return path


def _as_frames(frames: np.ndarray | Tensor) -> np.ndarray:
    """uint8 frames ``(t, h, w, 3)`` as they are, or a normalised clip ``(3, t, h, w)`` converted back."""
    if isinstance(frames, Tensor):
        return clip_to_frames(frames[0] if frames.ndim == 5 else frames)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames: expected (t, h, w, 3) uint8 RGB or a clip (3, t, h, w), got {frames.shape}")
    return frames


def _as_vector(values: Tensor | np.ndarray | Sequence[float], name: str) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values, dtype=float)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(f"{name}: expected one clip's indices of shape (z,), got {array.shape}")
    return array.astype(float)


def feature_to_frame_positions(index: Tensor | np.ndarray | Sequence[float], frame_stride: int = 2) -> np.ndarray:
    """Input-frame positions of feature-frame indices: ``frame_stride * i + (frame_stride - 1) / 2``.

    Examples:
        >>> feature_to_frame_positions([0.0, 1.5, 3.0]).tolist()
        [0.5, 3.5, 6.5]
    """
    if frame_stride < 1:
        raise ValueError(f"frame_stride: expected >= 1, got {frame_stride}")
    return frame_stride * _as_vector(index, "index") + (frame_stride - 1) / 2


def plot_split_indices(
    frames: np.ndarray | Tensor,
    i_s: Tensor | Sequence[float],
    i_d: Tensor | Sequence[float],
    path: str | os.PathLike,
    *,
    frame_stride: int = 2,
    title: str | None = None,
) -> Path:
    """Draw the clip as a strip of frames with markers where ISSM samples the static and dynamic groups.

    Shape:
        - frames: ``(t0, h, w, 3)`` uint8, or a normalised clip ``(3, t0, h, w)``
        - i_s, i_d: ``(z,)`` feature-frame indices (``ISSM(..., return_indices=True)`` or ``IFDDOutput.indices``)

    Returns:
        ``path``, a PNG: the frame strip on top, ``I_S`` (blue circles) and ``I_D`` (red triangles) below on the
        same frame axis, with the even/odd positions of the fixed split as grey ticks for reference.
    """
    frames = _as_frames(frames)
    pos_s, pos_d = feature_to_frame_positions(i_s, frame_stride), feature_to_frame_positions(i_d, frame_stride)
    t0, h, w = frames.shape[:3]
    fig = _figure(max(6.0, 0.7 * t0), 2.0 + 0.7 * h / w)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[h / w * 1.2, 1.0])
    top.imshow(np.concatenate(list(frames), axis=1), extent=(-0.5, t0 - 0.5, h / w - 0.5, -0.5))
    top.set_yticks([])
    top.set_title(title or "ISSM split indices over the clip")
    fixed = feature_to_frame_positions(np.arange(t0 // frame_stride, dtype=float), frame_stride)
    for row, positions, color, marker, label in (
        (1, pos_s, STATIC_COLOR, "o", "$I_S$ (static)"),
        (0, pos_d, DYNAMIC_COLOR, "^", "$I_D$ (dynamic)"),
    ):
        even_odd = fixed[0::2] if row == 1 else fixed[1::2]
        bottom.scatter(even_odd, np.full(len(even_odd), row), marker="|", s=200, color="0.6")
        bottom.scatter(positions, np.full(len(positions), row), marker=marker, s=90, color=color, label=label)
        for x in positions:
            top.axvline(x, color=color, alpha=0.6, linewidth=1.5)
    bottom.set_yticks([0, 1], ["$I_D$", "$I_S$"])
    bottom.set_ylim(-0.6, 1.6)
    bottom.set_xlim(-0.5, t0 - 0.5)
    bottom.set_xlabel("input frame (grey ticks: fixed even/odd split)")
    fig.legend(loc="outside lower center", fontsize=8, ncols=2, frameon=False)
    return _save(fig, path)


class GradCAM(NamedTuple):
    """Grad-CAM maps of LADM's outputs for one clip.

    Shape:
        - cam_s, cam_d: ``(z, h, w)`` in ``[0, 1]``, upsampled to the clip's ``h, w``
        - i_s, i_d: ``(z,)`` feature-frame indices the groups were sampled at
    """

    cam_s: Tensor
    cam_d: Tensor
    i_s: Tensor
    i_d: Tensor
    target: int


_M = TypeVar("_M", bound=nn.Module)


def _only(model: nn.Module, kind: type[_M], name: str) -> _M | None:
    found = [m for m in model.modules() if isinstance(m, kind)]
    if len(found) > 1:
        raise ValueError(f"model: expected one {name} module, found {len(found)}")
    return found[0] if found else None


def _cam(activation: Tensor, gradient: Tensor, size: tuple[int, int]) -> Tensor:
    """``ReLU(sum_c alpha_c A_c)`` with ``alpha_c`` the mean gradient over ``(z, h, w)``; scaled to max 1."""
    alpha = gradient.mean(dim=(1, 2, 3), keepdim=True)  # (c, 1, 1, 1)
    cam = F.relu((alpha * activation).sum(dim=0))  # (z, h, w)
    cam = F.interpolate(cam[None], size=size, mode="bilinear", align_corners=False)[0].clamp_min(0)
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def gradcam(model: nn.Module, clip: Tensor, *, target: int | None = None) -> GradCAM:
    """Grad-CAM of ``Y_S`` and ``Y_D`` (paper Fig. 2a) for any model holding one [`LADM`][lifting_dfer.LADM].

    A forward hook on the LADM captures ``(y_s, y_d)``; the gradient of the ``target`` class logit (default:
    the predicted class) with respect to each gives channel weights ``alpha_c`` (its mean over ``z, h, w``), and
    ``ReLU(sum_c alpha_c y_c)`` is upsampled bilinearly to the clip's frame size and divided by its maximum
    (per group, over all frames, so frames compare). The model runs in eval mode; its mode is restored after.
    The indices come from the model's [`ISSM`][lifting_dfer.ISSM] (even/odd without one).

    The classifier reads ``Y_D`` only, so ``Y_S`` reaches the logits through the predictor of Eq. 6,
    ``Y_D = X_D - P(Y_S | X_D)``: its gradient is taken on the ``Y_S`` tokens that ``P`` attends to. With
    ``order="predict_first"`` or ``mutual=False`` ``Y_S`` does not affect the logits and ``cam_s`` is all zero.

    Shape:
        - clip: ``(3, t0, h, w)`` or ``(1, 3, t0, h, w)``, ImageNet-normalised

    Raises:
        ValueError: the model has no LADM module, or more than one.
    """
    from .issm import ISSM
    from .ladm import LADM

    ladm = _only(model, LADM, "LADM")
    if ladm is None:
        raise ValueError(f"model: Grad-CAM of Y_S and Y_D needs a model with a LADM module, got {type(model).__name__}")
    issm = _only(model, ISSM, "ISSM")
    clip = clip[None] if clip.ndim == 4 else clip
    if clip.ndim != 5 or clip.shape[0] != 1 or clip.shape[1] != 3:
        raise ValueError(f"clip: expected shape (3, t0, h, w) or (1, 3, t0, h, w), got {tuple(clip.shape)}")
    captured: dict[str, Any] = {}
    hooks = [ladm.register_forward_hook(lambda module, args, output: captured.update(y=output))]
    if ladm.order == "update_first" and ladm.mutual:  # Y_S tokens are the context of P(Y_S | X_D), Eq. 6
        hooks.append(ladm.predict.register_forward_pre_hook(lambda module, args: captured.update(s=args[1])))
    if issm is not None:
        hooks.append(issm.register_forward_pre_hook(lambda module, args: captured.update(x=args[0])))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            output = model(clip.detach().requires_grad_(True))
            logits = getattr(output, "logits", output)
            target = int(logits[0].argmax()) if target is None else target
            if not 0 <= target < logits.shape[-1]:
                raise ValueError(f"target: expected a class in [0, {logits.shape[-1]}), got {target}")
            y_s, y_d = captured["y"]
            grad_s, grad_d = torch.autograd.grad(logits[0, target], [captured.get("s", y_s), y_d], allow_unused=True)
        if grad_s is not None and grad_s.ndim == 3:  # gradient of the Y_S tokens (b, (z h w), c)
            grad_s = rearrange(grad_s, "b (z h w) c -> b c z h w", **dict(zip("zhw", y_s.shape[2:])))
        size = (clip.shape[-2], clip.shape[-1])
        cams = [
            _cam(y[0].detach(), torch.zeros_like(y[0]) if g is None else g[0], size)
            for y, g in ((y_s, grad_s), (y_d, grad_d))
        ]
        z = y_s.shape[2]
        if issm is not None:
            with torch.no_grad():
                i_s, i_d = (i[0].detach().cpu() for i in issm.indices(captured["x"]))
        else:
            i_s, i_d = torch.arange(z) * 2.0, torch.arange(z) * 2.0 + 1
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return GradCAM(cams[0].cpu(), cams[1].cpu(), i_s, i_d, target)


def _overlay(frame: np.ndarray, cam: np.ndarray, alpha: float) -> np.ndarray:
    from matplotlib import colormaps

    heat = colormaps["jet"](cam)[..., :3]
    return ((1 - alpha) * frame / 255.0 + alpha * heat).clip(0, 1)


def plot_gradcam(
    frames: np.ndarray | Tensor,
    cam: GradCAM,
    path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    frame_stride: int = 2,
    alpha: float = 0.5,
) -> Path:
    """Overlay the Grad-CAM maps of ``Y_S`` (top row) and ``Y_D`` (bottom row) on the frames they came from.

    Group frame ``k`` is drawn over the input frame nearest to its index (``I_S[k]`` or ``I_D[k]``, mapped by
    [`feature_to_frame_positions`][lifting_dfer.viz.feature_to_frame_positions]).

    Shape:
        - frames: ``(t0, h, w, 3)`` uint8, or the normalised clip ``(3, t0, h, w)`` given to
          [`gradcam`][lifting_dfer.viz.gradcam]
    """
    frames = _as_frames(frames)
    t0 = frames.shape[0]
    z = cam.cam_s.shape[0]
    fig = _figure(max(5.0, 1.6 * z), 4.0)
    axes = fig.subplots(2, 1)
    for ax, maps, index, label in (
        (axes[0], cam.cam_s, cam.i_s, "$Y_S$ (static)"),
        (axes[1], cam.cam_d, cam.i_d, "$Y_D$ (dynamic)"),
    ):
        positions = np.clip(np.round(feature_to_frame_positions(index, frame_stride)), 0, t0 - 1).astype(int)
        if maps.shape[-2:] != frames.shape[1:3]:
            raise ValueError(f"cam: maps of size {tuple(maps.shape[-2:])} do not match frames {frames.shape[1:3]}")
        strip = np.concatenate([_overlay(frames[p], m.numpy(), alpha) for p, m in zip(positions, maps)], axis=1)
        ax.imshow(strip)
        width = frames.shape[2]
        ax.set_xticks([(k + 0.5) * width for k in range(z)], [f"frame {p}" for p in positions], fontsize=7)
        ax.set_yticks([])
        ax.set_ylabel(label)
    name = class_names[cam.target] if class_names is not None else f"class {cam.target}"
    axes[0].set_title(f"Grad-CAM for {name}")
    return _save(fig, path)


def classifier_features(model: nn.Module, clips: Iterable[Tensor], *, device: str | torch.device = "cpu") -> Tensor:
    """The inputs of the model's last ``nn.Linear`` (the classifier features), for batches of clips.

    Works for IFDD and the baselines alike (a forward pre-hook on the last ``nn.Linear`` in ``model.modules()``
    order); the model runs in eval mode under ``torch.inference_mode`` and its mode is restored after.

    Shape:
        - clips: an iterable of ``(b, 3, t0, h, w)`` batches -> ``(n, c)`` features of all ``n`` clips
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"model: expected a classifier nn.Linear in {type(model).__name__}")
    features: list[Tensor] = []
    hook = linears[-1].register_forward_pre_hook(lambda module, args: features.append(args[0].flatten(1).cpu()))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in clips:
                model(batch.to(device))
    finally:
        hook.remove()
        model.train(was_training)
    if not features:
        raise ValueError("clips: expected at least one batch")
    return torch.cat(features)


def tsne_embedding(features: Tensor | np.ndarray, *, perplexity: float | None = None, seed: int = 0) -> np.ndarray:
    """2-D t-SNE embedding (scikit-learn) of ``(n, c)`` features; ``perplexity`` defaults to ``min(30, (n-1)/3)``."""
    manifold = optional_import("sklearn.manifold", extra="viz", package="scikit-learn")
    features = features.detach().cpu().numpy() if isinstance(features, Tensor) else np.asarray(features)
    if features.ndim != 2 or features.shape[0] < 3:
        raise ValueError(f"features: expected (n, c) with n >= 3 samples, got {features.shape}")
    n = features.shape[0]
    perplexity = min(30.0, (n - 1) / 3) if perplexity is None else perplexity
    if not 0 < perplexity < n:
        raise ValueError(f"perplexity: expected a value in (0, n={n}), got {perplexity}")
    tsne = manifold.TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(features.astype(np.float32))


def _class_colors(k: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def plot_tsne(
    features: Tensor | np.ndarray,
    labels: Sequence[int] | Tensor | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    perplexity: float | None = None,
    seed: int = 0,
    title: str = "t-SNE of the classifier features",
) -> Path:
    """Scatter the t-SNE embedding of ``(n, c)`` features, one colour per class (paper's t-SNE figure)."""
    labels = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels).astype(int)
    if labels.shape != (len(features),):
        raise ValueError(f"labels: expected shape ({len(features)},), got {labels.shape}")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"labels: expected classes in [0, {len(class_names)}), got {labels.min()}..{labels.max()}")
    points = tsne_embedding(features, perplexity=perplexity, seed=seed)
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    for k, (name, color) in enumerate(zip(class_names, _class_colors(len(class_names)))):
        chosen = labels == k
        if chosen.any():
            ax.scatter(points[chosen, 0], points[chosen, 1], s=14, color=color, label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(fontsize=8, markerscale=1.5, loc="best")
    return _save(fig, path)


def plot_class_radar(
    accuracies: Mapping[str, float | None]
    | Mapping[str, Sequence[float] | Mapping[str, float | None]]
    | Sequence[float],
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "Per-class accuracy",
) -> Path:
    """Radar chart of per-class accuracy (recall), one polygon per model; values in ``[0, 1]``.

    ``accuracies`` is one model's values (a sequence of ``k`` values, or ``{class name: value}`` such as
    ``report["per_class"]`` from
    [`lifting_dfer.metrics.classification_report`][lifting_dfer.metrics.classification_report]), or ``{label: values}``
    to compare models. Classes without a value (``None``: absent from the test set) are drawn at 0.
    """
    one_model = not isinstance(accuracies, Mapping) or all(
        v is None or isinstance(v, (int, float)) for v in accuracies.values()
    )
    series: Mapping[str, Any] = (
        accuracies if isinstance(accuracies, Mapping) and not one_model else {"model": accuracies}
    )
    k = len(class_names)
    if k < 3:
        raise ValueError(f"class_names: a radar needs at least 3 classes, got {k}")
    angles = np.linspace(0, 2 * np.pi, k, endpoint=False)
    fig = _figure(5.5, 5.5)
    ax = fig.add_subplot(projection="polar")
    for (label, given), color in zip(series.items(), _class_colors(len(series))):
        if isinstance(given, Mapping):  # {class name: recall or None}, as classification_report gives
            given = [np.nan if given.get(name) is None else given[name] for name in class_names]
        values = np.nan_to_num(_as_vector(given, f"accuracies[{label!r}]"), nan=0.0)
        if len(values) != k:
            raise ValueError(f"accuracies[{label!r}]: expected {k} values (one per class), got {len(values)}")
        closed = np.append(angles, angles[0]), np.append(values, values[0])
        ax.plot(*closed, color=color, linewidth=2, label=label)
        ax.fill(*closed, color=color, alpha=0.2)
    ax.set_xticks(angles, list(class_names))
    ax.set_ylim(0, 1)
    ax.set_title(title)
    if not one_model:
        ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.1), fontsize=8)
    return _save(fig, path)


def plot_confusion_matrix(
    confusion: Tensor | np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """Heat map of a ``(k, k)`` confusion matrix (rows: true class, columns: prediction).

    With ``normalize`` each row is divided by its sum, so the diagonal shows per-class recall (UAR is its mean).
    """
    matrix = np.asarray(confusion.cpu() if isinstance(confusion, Tensor) else confusion, dtype=float)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise ValueError(f"confusion: expected shape ({k}, {k}) for {k} classes, got {matrix.shape}")
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
    fig = _figure(1.0 + 0.75 * k, 0.6 + 0.7 * k)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, shrink=0.8)
    dark = 0.6 * (1.0 if normalize else matrix.max())  # white text on the darker cells
    for row in range(k):
        for col in range(k):
            value = matrix[row, col]
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            ax.text(col, row, text, ha="center", va="center", fontsize=8, color="white" if value > dark else "black")
    ax.set_xticks(range(k), list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def plot_timeline(prediction: Mapping, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Probability of each emotion over time, from [`predict_video`][lifting_dfer.video.predict_video]'s result.

    Each window is drawn at its centre time; the band under the curves shows the top class per window.
    """
    windows = prediction["windows"]
    class_names = prediction["class_names"]
    if not windows:
        raise ValueError("prediction: expected at least one window")
    centres = np.array([(w["start_time"] + w["end_time"]) / 2 for w in windows])
    probs = np.array([[w["probabilities"][name] for name in class_names] for w in windows])
    colors = _class_colors(len(class_names))
    fig = _figure(8.0, 4.0)
    ax, band = fig.subplots(2, 1, sharex=True, height_ratios=[6, 1])
    for k, name in enumerate(class_names):
        ax.plot(centres, probs[:, k], marker="o", markersize=3, color=colors[k], label=name)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(title or f"{Path(prediction['video']).name}: emotion over time")
    # windows overlap: each one's band runs between the midpoints to its neighbours' centres
    edges = np.concatenate([[windows[0]["start_time"]], (centres[1:] + centres[:-1]) / 2, [windows[-1]["end_time"]]])
    for left, right, k in zip(edges[:-1], edges[1:], probs.argmax(axis=1)):
        band.axvspan(left, right, color=colors[k], alpha=0.6, linewidth=0)
    band.set_yticks([])
    band.set_xlabel("time (s); band: top class of the nearest window")
    band.set_xlim(edges[0], edges[-1])
    return _save(fig, path)
