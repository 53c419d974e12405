"""The PyTorch backend of ``predict``: a ``lifting_dfer`` model, with per-frame feature reuse and CPU fast paths.

For a backbone that processes frames independently (``backbone.frame_features`` and ``backbone.temporal_pool``, as
[`MobileNetV2Features`][lifting_dfer.backbones.MobileNetV2Features]) and a model with ``forward_head`` (IFDD, the
baselines), each frame goes through the 2D trunk once and only the head runs per window. Other models (MViT) run per
window.

Fast paths (``fast=True``, eval only): BatchNorm folded into the convolutions
([`fold_batchnorm`][lifting_dfer.video.fastpath.fold_batchnorm], checked on an example), channels-last memory format for
the 2D trunk, and with ``precision="bf16"`` the backbone under bfloat16 autocast (the head stays float32: on CPUs its
attention gains nothing from bf16; a model without ``forward_head`` runs whole under autocast).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn

from .._checks import check_shape
from ..loading import checkpoint_geometry, load_model, resolve_device
from ..normalization import IMAGENET, Normalization, checkpoint_normalization
from .backends import BackendInfo, WindowBackend
from .fastpath import Precision, fold_batchnorm, resolve_precision
from .sampling import TrainingSampling, checkpoint_sampling

__all__ = ["TorchBackend"]


class _Trunk(nn.Module):
    """``backbone.frame_features`` as a module (so that it can be folded and traced)."""

    backbone: Any  # duck-typed: any backbone with frame_features (MobileNetV2Features)

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, frames: Tensor) -> list[Tensor]:
        return self.backbone.frame_features(frames)


class _Head(nn.Module):
    """``model.forward_head`` returning logits."""

    model: Any  # duck-typed: any model with forward_head (IFDD, MLPBaseline)

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *stages: Tensor) -> Tensor:
        out = self.model.forward_head(list(stages))
        return getattr(out, "logits", out)


def _logits(output: Any) -> Tensor:
    return getattr(output, "logits", output)


class TorchBackend(WindowBackend):
    """Classify windows with a PyTorch model (see the module docstring for the per-frame path and fast paths).

    Shape:
        - [`predict`][lifting_dfer.video.TorchBackend.predict]: ``(b, 3, t0, size, size)`` -> ``(b, k)`` probabilities
          (float32, CPU)

    Args:
        model: the classifier (``clip -> logits``, or an object with ``.logits``).
        class_names: names of the ``k`` output columns.
        num_frames: frames per window ``t0``.
        input_size: side of the face crops.
        sampling: how the training clips were sampled (from the checkpoint), or ``None``.
        normalization: the input's mean and std (from the checkpoint); ``None`` means ImageNet's.
        device: where the model runs.
        precision: ``"fp32"``, ``"bf16"`` or ``"auto"``
            ([`resolve_precision`][lifting_dfer.video.fastpath.resolve_precision]).
        fast: fold BatchNorm and use channels-last (eval-only, same results to float rounding).
        reuse_frames: use the per-frame path when the model allows it.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        class_names: Sequence[str],
        num_frames: int,
        input_size: int,
        sampling: TrainingSampling | None = None,
        normalization: Normalization | None = None,
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        fast: bool = True,
        reuse_frames: bool = True,
    ) -> None:
        if num_frames < 1 or input_size < 1:
            raise ValueError(f"num_frames, input_size: expected positive sizes, got {num_frames}, {input_size}")
        device = torch.device(device)
        resolved = resolve_precision(precision, device)
        self.device = device
        mean, std = normalization or IMAGENET
        self.info = BackendInfo(
            "pytorch", tuple(class_names), num_frames, input_size, mean, std, sampling, resolved, str(device)
        )
        self.model = model.to(device).eval()
        backbone: Any = getattr(model, "backbone", None)
        self.reuses_frames = bool(
            reuse_frames
            and hasattr(backbone, "frame_features")
            and hasattr(backbone, "temporal_pool")
            and hasattr(model, "forward_head")
        )
        self._channels_last = fast and self.reuses_frames
        self._trunk: nn.Module | None = None
        self._head: nn.Module | None = None
        self.folded = 0  # conv -> BatchNorm pairs folded by the fast paths
        self.arch: str | None = None  # registry name when built from a checkpoint
        if self.reuses_frames:
            trunk, head = _Trunk(backbone), _Head(model)
            self._trunk, self._head = trunk, head
            if fast:
                self._prepare_fast_paths(trunk, head)

    def _prepare_fast_paths(self, trunk: nn.Module, head: nn.Module) -> None:
        """Fold BatchNorm in the trunk and the head (examples: two frames; random features of one window)."""
        size, t0 = self.info.input_size, self.info.num_frames
        generator = torch.Generator().manual_seed(0)
        frames = torch.randn(2, 3, size, size, generator=generator).to(self.device)
        small = frames[..., :64, :64] if size > 64 and self._accepts_size(64) else frames  # cheaper, same pairs
        trunk, trunk_pairs = fold_batchnorm(trunk, small)
        self._trunk = trunk = trunk.to(memory_format=torch.channels_last)
        with torch.no_grad():
            shapes = [s.shape[1:] for s in trunk(frames[:1])]
        window = [torch.randn(1, c, t0, h, w, generator=generator).to(self.device) for c, h, w in shapes]
        backbone: Any = self.model.backbone
        pooled = backbone.temporal_pool(window)
        self.model._modules["backbone"] = None  # forward_head does not use it: copy the head only
        try:
            self._head, head_pairs = fold_batchnorm(head, *pooled)
        finally:
            self.model.backbone = backbone
        self.folded = trunk_pairs + head_pairs

    def _accepts_size(self, size: int) -> bool:
        """Whether the backbone takes ``size x size`` frames (not built for one fixed size)."""
        backbone: Any = self.model.backbone
        try:
            backbone.feature_shapes(size, size)
        except (ValueError, AttributeError):
            return False
        return True

    def _autocast(self):
        if self.info.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _stack(self, stages: Sequence[Tensor]) -> list[Tensor]:
        """Per-frame features of one window's frames ``[(t0, c, h, w)]`` -> ``[(1, c, t0, h, w)]``."""
        return [rearrange(s, "(b t) c h w -> b c t h w", t=self.info.num_frames) for s in stages]

    def frame_features(self, frames: Tensor) -> list[Tensor]:
        """The 2D trunk on ``(n, 3, h, w)`` frames -> ``[(n, c_j, h_j, w_j)]`` float32, on the device."""
        if self._trunk is None:
            return super().frame_features(frames)  # no per-frame path: NotImplementedError
        check_shape(frames, "n c h w", "frames", c=3, h=self.info.input_size, w=self.info.input_size)
        frames = frames.to(self.device)
        if self._channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            stages = self._trunk(frames)
        return [s.float().contiguous() for s in stages]

    def predict_features(self, stages: Sequence[Tensor]) -> Tensor:
        """``[(b, c_j, t0, h_j, w_j)]`` stacked per-frame features -> ``(b, k)`` probabilities."""
        if self._head is None:
            return super().predict_features(stages)  # no per-frame path: NotImplementedError
        backbone: Any = self.model.backbone
        with torch.inference_mode():
            pooled = backbone.temporal_pool([s.to(self.device) for s in stages])
            return self._head(*pooled).float().softmax(dim=-1).cpu()

    def predict(self, windows: Tensor) -> Tensor:
        """``(b, 3, t0, h, w)`` normalised windows -> ``(b, k)`` probabilities."""
        size = self.info.input_size
        check_shape(windows, "b c t h w", "windows", c=3, t=self.info.num_frames, h=size, w=size)
        if self.reuses_frames:
            stages = self.frame_features(rearrange(windows, "b c t h w -> (b t) c h w"))
            return self.predict_features(self._stack(stages))
        with torch.inference_mode():
            windows = windows.to(self.device)
            backbone, forward_head = getattr(self.model, "backbone", None), getattr(self.model, "forward_head", None)
            if backbone is not None and forward_head is not None:
                with self._autocast():
                    stages = backbone(windows)
                logits = _logits(forward_head([s.float() for s in stages]))
            else:
                with self._autocast():
                    logits = _logits(self.model(windows))
            return logits.float().softmax(dim=-1).cpu()

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, *, device: str | torch.device = "cpu", precision: Precision = "fp32",
        **kwargs: Any,
    ) -> TorchBackend:  # fmt: skip
        """Rebuild the checkpoint's model ([`load_model`][lifting_dfer.loading.load_model]) with its frames, size,
        classes and training sampling."""
        model, ckpt = load_model(path, device=device)
        num_frames, input_size = checkpoint_geometry(ckpt)
        backend = cls(
            model, class_names=list(ckpt.get("class_names") or []), num_frames=num_frames, input_size=input_size,
            sampling=checkpoint_sampling(ckpt), normalization=checkpoint_normalization(ckpt), device=device,
            precision=precision, **kwargs,
        )  # fmt: skip
        backend.arch = ckpt.get("arch")
        return backend


def _load_pytorch(path: str | os.PathLike, *, device: str = "cpu", precision: Precision = "fp32") -> TorchBackend:
    """The ``"pytorch"`` backend (``device="auto"``: CUDA when torch sees a GPU; CUDA where there is none: an error)."""
    return TorchBackend.from_checkpoint(path, device=resolve_device(device), precision=precision)
