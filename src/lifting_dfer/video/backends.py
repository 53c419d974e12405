"""The per-window classification step of ``predict`` as a small interface, and a registry of its implementations.

A backend turns windows of normalised frames into class probabilities and says what it expects
([`BackendInfo`][lifting_dfer.video.BackendInfo]). ``predict`` does the rest (decoding, face crops, windowing) the same
way for every backend. [`TorchBackend`][lifting_dfer.video.TorchBackend] (``"pytorch"``) runs a ``lifting_dfer``
checkpoint, [`OnnxRuntimeBackend`][lifting_dfer.video.OnnxRuntimeBackend] (``"onnxruntime"``) a file written by
``lifting-dfer export``. Another runtime plugs in by subclassing [`WindowBackend`][lifting_dfer.video.WindowBackend]
and registering a loader::

    @register_backend("my-runtime")
    def _load(path, *, device, precision): ...   # -> WindowBackend

after which ``load_backend("my-runtime", path)`` builds it and
[`predict_video`][lifting_dfer.video.predict_video] runs it (the command line offers ``pytorch`` and ``onnxruntime``).
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import NamedTuple

from torch import Tensor

from .sampling import TrainingSampling

__all__ = ["BackendInfo", "WindowBackend", "available_backends", "load_backend", "register_backend"]


class BackendInfo(NamedTuple):
    """What a backend's model expects and gives; ``predict`` prepares windows to match it."""

    name: str
    """Registry name of the backend (``"pytorch"``, ...)."""
    class_names: tuple[str, ...]
    """Classes, in the order of the probability columns."""
    num_frames: int
    """Frames per window ``t0``."""
    input_size: int
    """Side of the square face crops ``h = w``."""
    mean: tuple[float, float, float]
    """Per-channel mean subtracted from the RGB input in ``[0, 1]`` (ImageNet's unless the model says otherwise)."""
    std: tuple[float, float, float]
    """Per-channel divisor after the mean: the model sees ``(x - mean) / std``."""
    sampling: TrainingSampling | None
    """How the training clips were sampled (``None``: not recorded; ``predict`` then keeps the video's rate)."""
    precision: str
    """Compute precision actually used: ``"fp32"`` or ``"bf16"``."""
    device: str
    """Where it runs (``"cpu"``, ``"cuda:0"``, ...)."""


class WindowBackend(ABC):
    """Classifies windows of frames: ``(b, 3, t0, h, w) -> (b, k)`` probabilities.

    Subclasses set ``info`` and implement
    [`predict`][lifting_dfer.video.WindowBackend.predict]. Backbones that process frames independently can also offer
    the per-frame path (``reuses_frames``,
    [`frame_features`][lifting_dfer.video.WindowBackend.frame_features],
    [`predict_features`][lifting_dfer.video.WindowBackend.predict_features]): ``predict`` then computes each frame's
    features once and classifies overlapping windows from them; the two paths must give the same probabilities.

    Shape:
        - [`predict`][lifting_dfer.video.WindowBackend.predict]: windows ``(b, 3, t0, h, w)`` float32, normalised with
          ``info.mean`` / ``info.std`` -> ``(b, k)`` float32 on the CPU, each row summing to 1
        - [`frame_features`][lifting_dfer.video.WindowBackend.frame_features]: frames ``(n, 3, h, w)`` -> per-frame
          stage features ``[(n, c_j, h_j, w_j)]``
        - [`predict_features`][lifting_dfer.video.WindowBackend.predict_features]: ``[(b, c_j, t0, h_j, w_j)]`` (stacked
          per-frame features) -> ``(b, k)``
    """

    info: BackendInfo
    reuses_frames: bool = False

    @abstractmethod
    def predict(self, windows: Tensor) -> Tensor:
        """Class probabilities of each window (see the class docstring for shapes)."""

    def frame_features(self, frames: Tensor) -> list[Tensor]:
        """Per-frame stage features (only when ``reuses_frames``)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-frame path")

    def predict_features(self, stages: Sequence[Tensor]) -> Tensor:
        """Class probabilities from stacked per-frame features (only when ``reuses_frames``)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-frame path")


BackendLoader = Callable[..., WindowBackend]
# name -> loader, or the "module:function" of a loader imported when the backend is first asked for: the built-in
# backends are registered by name, so this module imports neither of them (they import it).
_LOADERS: dict[str, BackendLoader | str] = {
    "onnxruntime": "lifting_dfer.video.onnx_backend:_load_onnxruntime",
    "pytorch": "lifting_dfer.video.torch_backend:_load_pytorch",
}


def register_backend(name: str) -> Callable[[BackendLoader], BackendLoader]:
    """Decorator registering ``loader(path, *, device, precision) -> WindowBackend`` under ``name``.

    ``device`` may be ``"auto"``: the loader picks what its runtime can use on this machine.
    """

    def decorate(loader: BackendLoader) -> BackendLoader:
        _LOADERS[name] = loader
        return loader

    return decorate


def available_backends() -> list[str]:
    """Registered backend names, sorted."""
    return sorted(_LOADERS)


def load_backend(name: str, path: str | os.PathLike, *, device: str = "cpu", precision: str = "fp32") -> WindowBackend:
    """The backend ``name`` for the model file ``path`` (a checkpoint for ``"pytorch"``).

    ``device="auto"`` lets the backend choose (PyTorch: CUDA when torch sees a GPU; onnxruntime: CUDA only when it
    was built with it).

    Raises:
        ValueError: an unknown backend name, or whatever the loader raises for an unusable file.
    """
    loader = _LOADERS.get(name)
    if loader is None:
        raise ValueError(f"backend: expected one of {', '.join(available_backends())}, got {name!r}")
    if isinstance(loader, str):
        module, _, function = loader.partition(":")
        loader = getattr(importlib.import_module(module), function)
    return loader(path, device=device, precision=precision)
