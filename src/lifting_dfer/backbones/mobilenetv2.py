"""timm MobileNetV2 applied frame by frame, with IFDD's temporal stride 2 (the IFDD-2DCNN backbone)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .base import MultiscaleBackbone, load_state_dict_file, load_weights
from .hub import resolve_weights

__all__ = ["MobileNetV2Features"]


class MobileNetV2Features(MultiscaleBackbone):
    r"""Per-frame timm MobileNetV2 trunk returning the stages at strides 4, 8, 16, then frame-pair averaging.

    Every one of the ``t0`` frames goes through the 2D network (``"b c t h w -> (b t) c h w"``); the trunk stops
    at the last requested stage (for ``out_indices=(1, 2, 3)``: the stem and ``blocks.0``-``blocks.4``, 0.54 M
    parameters, 24 / 32 / 96 channels at 56 / 28 / 14 for a 224 input). Each stage is then averaged over frame
    pairs (``AvgPool`` of size 2 along time) to give the temporal stride 2 of IFDD: ``t = t0 / 2``. Running the
    CNN on all frames and pooling its features, rather than dropping or averaging input frames, is what the
    paper's FLOP counts imply (Table 12; see ``docs/models.md``).

    Shape:
        - clip: ``(b, 3, t0, h0, w0)``, ``h0, w0`` multiples of 16
        - output: ``[(b, 24, t0/2, h0/4, w0/4), (b, 32, t0/2, h0/8, w0/8), (b, 96, t0/2, h0/16, w0/16)]``

    Args:
        num_frames: ``t0`` (even for the default ``frame_stride=2``).
        out_indices: timm ``feature_info`` indices of the returned stages (``(1, 2, 3)``: strides 4, 8, 16).
        frame_stride: frames averaged together after the trunk (1 keeps every frame).
        model_name: a timm MobileNet-style model with ``conv_stem``, ``bn1`` and ``blocks``.
        pretrained: ``None``, a weights file of the full timm model (``.pth`` / ``.safetensors``), or a timm
            weights name (``"timm/mobilenetv2_100.ra_in1k"``), taken from the Hugging Face cache or downloaded
            there (see [`resolve_weights`][lifting_dfer.backbones.resolve_weights]). The keys of the dropped layers
            (later blocks, ``conv_head``, ``bn2``, ``classifier``) are ignored; any other difference raises a
            ``ValueError`` that lists the keys.

    Examples:
        >>> import torch
        >>> net = MobileNetV2Features(num_frames=4)
        >>> [tuple(f.shape) for f in net(torch.randn(1, 3, 4, 64, 64))]
        [(1, 24, 2, 16, 16), (1, 32, 2, 8, 8), (1, 96, 2, 4, 4)]
    """

    conv_stem: nn.Module
    bn1: nn.Module
    blocks: nn.Sequential

    def __init__(
        self,
        num_frames: int = 16,
        *,
        out_indices: Sequence[int] = (1, 2, 3),
        frame_stride: int = 2,
        model_name: str = "mobilenetv2_100",
        pretrained: str | os.PathLike | None = None,
    ) -> None:
        import timm  # here, not at module level: `import lifting_dfer` and the layers do not need timm

        # A timm MobileNet-style model: create_model's nn.Module type does not tell its feature_info and stages.
        net: Any = timm.create_model(model_name, pretrained=False, num_classes=0)
        info = [net.feature_info[i] for i in out_indices]
        super().__init__(
            [f["num_chs"] for f in info],
            [f["reduction"] for f in info],
            num_frames=num_frames,
            frame_stride=frame_stride,
        )
        self.model_name, self.out_indices = model_name, tuple(out_indices)
        self._taps = [int(f["module"].split(".")[1]) for f in info]  # "blocks.4" -> 4
        self.conv_stem, self.bn1 = net.conv_stem, net.bn1
        self.blocks = net.blocks[: self._taps[-1] + 1]
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, source: str | os.PathLike) -> None:
        """Load weights of the full timm model from a file or a timm weights name (see the class Args)."""
        path = resolve_weights(source)
        kept = len(self.blocks)

        def dropped(key: str) -> bool:
            head, _, rest = key.partition(".")
            if head == "blocks":
                return int(rest.split(".")[0]) >= kept
            return head in ("conv_head", "bn2", "classifier")

        load_weights(self, load_state_dict_file(path), ignore=dropped, source=str(path))

    def forward_features(self, clip: Tensor) -> list[Tensor]:
        t = clip.shape[2]
        taps = self.frame_features(rearrange(clip, "b c t h w -> (b t) c h w"))
        return self.temporal_pool([rearrange(x, "(b t) c h w -> b c t h w", t=t) for x in taps])  # by t: b may be 0

    def frame_features(self, frames: Tensor) -> list[Tensor]:
        """The 2D trunk on independent frames: ``(n, 3, h0, w0) -> [(n, c_j, h0 / r_j, w0 / r_j)]``.

        Each frame's features depend on that frame alone (eval mode), so overlapping windows of a video can reuse
        them: ``temporal_pool`` of the stacked per-frame features equals ``forward`` on the window.
        """
        x = self.bn1(self.conv_stem(frames))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._taps:
                taps.append(x)
        return taps

    def temporal_pool(self, stages: Sequence[Tensor]) -> list[Tensor]:
        """Average groups of ``frame_stride`` consecutive frames: ``(b, c_j, t0, h_j, w_j) -> (b, c_j, t, h_j, w_j)``."""
        for j, x in enumerate(stages):
            if x.ndim != 5 or x.shape[2] % self.frame_stride:
                raise ValueError(
                    f"stages[{j}]: expected (b, c, t0, h, w) with t0 a multiple of frame_stride={self.frame_stride}, "
                    f"got {tuple(x.shape)}"
                )
        if self.frame_stride == 1:
            return list(stages)
        return [F.avg_pool3d(x, kernel_size=(self.frame_stride, 1, 1)) for x in stages]
