"""The multiscale backbone contract of IFDD, and loading of pretrained weights files.

A backbone for [`IFDD`][lifting_dfer.IFDD] is an ``nn.Module`` that maps a clip to a list of stage features,
finest first, all with the same number of frames::

    clip (b, 3, t0, h0, w0) -> [(b, c_1, t, h_1, w_1), ..., (b, c_S, t, h_S, w_S)],  t = t0 / frame_stride

with ``h_j = h0 / reductions[j]``. Subclass [`MultiscaleBackbone`][lifting_dfer.backbones.MultiscaleBackbone], pass the
stage widths, spatial reductions and temporal stride to its constructor, and implement
[`forward_features`][lifting_dfer.backbones.MultiscaleBackbone.forward_features]; the base class validates the clip
(channels, frames, resolution) before any compute and tells IFDD the feature shapes it will get for a given input size
([`feature_shapes`][lifting_dfer.backbones.MultiscaleBackbone.feature_shapes]).

[`resolve_weights`][lifting_dfer.backbones.resolve_weights] (in `hub.py`) turns a file or a timm / torchvision
weights name into a local file, downloading named weights into the standard caches;
[`load_weights`][lifting_dfer.backbones.load_weights] loads them with a strict key and shape check whose error lists
the missing, unexpected and mismatched keys.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast

import torch
from torch import Tensor, nn

from .._checks import check_shape

__all__ = ["MultiscaleBackbone", "last_stage_shape", "load_state_dict_file", "load_weights"]

logger = logging.getLogger(__name__)


class MultiscaleBackbone(nn.Module):
    """Base class of IFDD's backbones: ``clip (b, 3, t0, h0, w0) -> list of (b, c_j, t, h_j, w_j)``.

    Shape:
        - clip: ``(b, 3, t0, h0, w0)``, ``t0 = num_frames``; ``h0, w0`` equal to ``image_size`` when the
          backbone is built for one size, else any multiple of ``max(reductions)``
        - output: list of ``(b, feature_dims[j], t0 / frame_stride, h0 / reductions[j], w0 / reductions[j])``

    Args:
        feature_dims: channels ``c_j`` of each returned stage, finest first.
        reductions: spatial stride of each returned stage (e.g. ``(4, 8, 16)``), increasing.
        num_frames: frames ``t0`` of the input clip.
        frame_stride: temporal stride: the features have ``t0 / frame_stride`` frames.
        image_size: ``(h0, w0)`` when the backbone only accepts one size (position tables), else ``None``.
    """

    def __init__(
        self,
        feature_dims: Sequence[int],
        reductions: Sequence[int],
        *,
        num_frames: int,
        frame_stride: int = 1,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if len(feature_dims) != len(reductions) or not feature_dims:
            raise ValueError(
                f"feature_dims, reductions: expected one entry per stage, got {feature_dims}, {reductions}"
            )
        if frame_stride < 1 or num_frames < 1 or num_frames % frame_stride:
            raise ValueError(
                f"num_frames: expected a positive multiple of frame_stride={frame_stride}, got {num_frames}"
            )
        self.feature_dims = tuple(int(c) for c in feature_dims)
        self.reductions = tuple(int(r) for r in reductions)
        self.num_frames, self.frame_stride = num_frames, frame_stride
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))

    @property
    def out_frames(self) -> int:
        """Frames ``t`` of every returned stage."""
        return self.num_frames // self.frame_stride

    def feature_shapes(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """``(c_j, t, h_j, w_j)`` of each stage for an input of ``height x width`` (validated like a clip)."""
        self._check_resolution(height, width, "clip")
        return [(c, self.out_frames, height // r, width // r) for c, r in zip(self.feature_dims, self.reductions)]

    def _check_resolution(self, height: int, width: int, name: str) -> None:
        if self.image_size is not None:
            if (height, width) != self.image_size:
                raise ValueError(
                    f"{name}: this backbone is built for {self.image_size[0]}x{self.image_size[1]} frames "
                    f"(pass image_size to the builder for another size), got {height}x{width}"
                )
            return
        step = max(self.reductions)
        if height < step or width < step or height % step or width % step:
            raise ValueError(
                f"{name}: expected a frame size that is a positive multiple of {step} (the coarsest stage's "
                f"stride), got {height}x{width}"
            )

    def check_clip(self, clip: Tensor) -> dict[str, int]:
        """Validate ``clip: (b, 3, t0, h, w)`` and return its named sizes; raises before any compute."""
        sizes = check_shape(clip, "b c t h w", "clip", c=3, t=self.num_frames)
        self._check_resolution(sizes["h"], sizes["w"], "clip")
        return sizes

    def forward(self, clip: Tensor) -> list[Tensor]:
        """Check the clip, then return the stage features (see the class docstring)."""
        self.check_clip(clip)
        return self.forward_features(clip)

    def forward_features(self, clip: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        """The backbone's computation on a validated clip; subclasses implement it."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (
            f"feature_dims={self.feature_dims}, reductions={self.reductions}, num_frames={self.num_frames}, "
            f"frame_stride={self.frame_stride}, image_size={self.image_size}"
        )


def last_stage_shape(
    backbone: nn.Module, image_size: int | tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """Check ``backbone`` follows the [`MultiscaleBackbone`][lifting_dfer.backbones.MultiscaleBackbone] contract; return
    ``(h0, w0)`` and its last stage.

    ``image_size`` is ``(h0, w0)`` or one int; ``None`` takes the backbone's fixed ``image_size``, else 224. The
    last stage is ``(c, t, h, w)`` from ``backbone.feature_shapes(h0, w0)``; heads are sized from it.
    """
    if not hasattr(backbone, "feature_dims") or not hasattr(backbone, "feature_shapes"):
        raise TypeError(
            f"backbone: expected a module with feature_dims and feature_shapes(h, w) (see "
            f"lifting_dfer.backbones.MultiscaleBackbone), got {type(backbone).__name__}"
        )
    if image_size is None:
        image_size = getattr(backbone, "image_size", None) or (224, 224)
    h0, w0 = (image_size, image_size) if isinstance(image_size, int) else image_size
    shapes = cast("Callable[[int, int], Sequence[Sequence[int]]]", backbone.feature_shapes)  # checked above
    c, t, h, w = shapes(h0, w0)[-1]
    return (h0, w0), (c, t, h, w)


def load_state_dict_file(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict from a ``.safetensors`` file or a torch file (tensors only, ``weights_only=True``).

    A checkpoint that nests the weights under ``"state_dict"``, ``"model"`` or ``"model_state"`` is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained: no weights file at {str(path)!r}")
    state: object
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"pretrained: {str(path)!r} does not hold a state dict of tensors")
    return dict(state)


def load_weights(
    module: nn.Module,
    state_dict: Mapping[str, Tensor],
    *,
    ignore: Callable[[str], bool] = lambda key: False,
    source: str = "state dict",
) -> None:
    """Load ``state_dict`` into ``module`` strictly, with a readable error.

    Keys for which ``ignore(key)`` is true (parts of the source network that the module drops, such as a
    classifier) are skipped. Every other key must match by name and shape; otherwise a ``ValueError`` lists
    the missing, unexpected and shape-mismatched keys.
    """
    state = {k: v for k, v in state_dict.items() if not ignore(k)}
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if state[k].shape != own[k].shape
    )
    if missing or unexpected or mismatched:

        def listing(keys: list[str]) -> str:
            return ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "") or "none"

        raise ValueError(
            f"pretrained: {source} does not match {type(module).__name__}: "
            f"missing keys: {listing(missing)}; unexpected keys: {listing(unexpected)}; "
            f"shape mismatches: {listing(mismatched)}"
        )
    module.load_state_dict(state, strict=True)
    logger.info("loaded %d tensors from %s into %s", len(state), source, type(module).__name__)
