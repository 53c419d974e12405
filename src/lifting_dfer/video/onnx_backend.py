"""The onnxruntime backend of ``predict``: a file written by ``lifting-dfer export --format onnx`` and its sidecar.

``lifting-dfer predict VIDEO --checkpoint model.onnx`` (the backend follows from the ``.onnx`` suffix, or
``--backend onnxruntime``) decodes, crops and windows the video exactly as the PyTorch backend does and writes the
same outputs; the class names, frames per window, input size, normalisation and training frame rate come from the
sidecar instead of a checkpoint. The exported graph classifies whole windows, so each frame goes through the
backbone once per window that contains it (the PyTorch backend reuses per-frame features instead).
Needs ``pip install 'lifting_dfer[onnx]'``.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from ..normalization import Normalization
from .backends import BackendInfo, WindowBackend
from .sampling import checkpoint_sampling

__all__ = ["OnnxRuntimeBackend", "default_device"]


def _available_providers() -> list[str]:
    from .._optional import optional_import

    return optional_import("onnxruntime", extra="onnx").get_available_providers()


def _providers(device: str) -> list[str | tuple[str, dict]]:
    """onnxruntime execution providers for a device (CUDA only where onnxruntime was built with it)."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        available = _available_providers()
        if "CUDAExecutionProvider" in available:
            return [("CUDAExecutionProvider", {"device_id": torch.device(device).index or 0}), "CPUExecutionProvider"]
        raise ValueError(
            f"device: {device} needs onnxruntime with CUDA (pip install onnxruntime-gpu); this onnxruntime offers "
            f"{', '.join(available)}; pass --device cpu"
        )
    raise ValueError(f"device: the onnxruntime backend runs on cpu or cuda, got {device!r}")


def default_device() -> str:
    """``"cuda"`` where onnxruntime can run on a CUDA GPU that torch sees, else ``"cpu"`` (``device="auto"``)."""
    cuda = "CUDAExecutionProvider" in _available_providers()
    return "cuda" if cuda and torch.cuda.is_available() else "cpu"


def _is_zip(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False


class OnnxRuntimeBackend(WindowBackend):
    """Classify windows with an exported ONNX classifier
    ([`OnnxRuntimeClassifier`][lifting_dfer.export.OnnxRuntimeClassifier]).

    Shape:
        - [`predict`][lifting_dfer.video.OnnxRuntimeBackend.predict]: ``(b, 3, t0, size, size)`` float32 ->
          ``(b, k)`` probabilities (float32, CPU)

    Args:
        path: the ``.onnx`` file (its sidecar ``<path>.json`` next to it).
        device: ``"cpu"``, or ``"cuda"``/``"cuda:i"`` with an onnxruntime built for CUDA (``onnxruntime-gpu``);
            ``"auto"`` picks CUDA only there (``lifting_dfer.video.onnx_backend.default_device``).
        precision: ``"fp32"`` or ``"auto"`` (the exported graph is float32; ``"bf16"`` is refused).

    Raises:
        ImportError: onnxruntime is missing (names the ``onnx`` extra).
        FileNotFoundError: no such file, or no sidecar next to it.
        ValueError: not a readable ONNX model, a sidecar of another file, ``precision="bf16"``, an unusable device.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", precision: str = "auto") -> None:
        from ..export.runtime import OnnxRuntimeClassifier

        if precision not in ("fp32", "auto"):
            raise ValueError(
                f"precision: the onnxruntime backend runs the exported float32 graph; expected fp32 or auto, "
                f"got {precision!r}"
            )
        device = default_device() if device == "auto" else str(device)
        try:
            self.classifier = OnnxRuntimeClassifier(
                path, providers=_providers(device), threads=torch.get_num_threads(), spin=False, memory_arena=False
            )
        except ValueError as err:
            if _is_zip(path):  # torch.save's format: the user gave a checkpoint to the onnxruntime backend
                raise ValueError(f"{err}; {path} looks like a PyTorch checkpoint: use --backend pytorch") from err
            raise
        meta = self.classifier.metadata
        self.arch = meta.arch
        norm = Normalization.from_dict({"mean": meta.mean, "std": meta.std}, name=f"{path} sidecar")
        self.info = BackendInfo(
            name="onnxruntime", class_names=tuple(meta.class_names), num_frames=meta.num_frames,
            input_size=meta.input_size, mean=norm.mean, std=norm.std,
            sampling=checkpoint_sampling({"sampling": meta.sampling}), precision="fp32", device=device,
        )  # fmt: skip

    def predict(self, windows: Tensor) -> Tensor:
        """Class probabilities of each window (see the class docstring for shapes).

        Windows run one at a time: on the CPU a batch is no faster, and a window of 16 frames at 224 px already
        needs a few hundred MB of activations (4 windows at once raised ``predict``'s peak by 0.6 GB).
        """
        if windows.shape[0] <= 1:
            return torch.from_numpy(self.classifier.predict(windows))
        return torch.cat([torch.from_numpy(self.classifier.predict(w)) for w in windows.split(1)])


def _load_onnxruntime(path: str | os.PathLike, *, device: str = "cpu", precision: str = "auto") -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(path, device=device, precision=precision)
