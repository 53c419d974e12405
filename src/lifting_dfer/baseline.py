"""The backbone + MLP-head baselines of IFDD's Tables 5 and 12."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .backbones.base import last_stage_shape
from .heads import ConcatMLPHead

__all__ = ["MLPBaseline"]


class MLPBaseline(nn.Module):
    r"""A multiscale backbone's last stage classified by [`ConcatMLPHead`][lifting_dfer.ConcatMLPHead].

    ``clip -> backbone -> last stage (b, c, t, h, w) -> spatial mean, frames concatenated (b, t c) -> MLP``.
    Returns logits in training and eval mode alike (no LiftLoss: there is no lifting).

    Shape:
        - clip: ``(b, 3, t0, h0, w0)`` as the backbone expects -> logits ``(b, k)``

    Args:
        backbone: a [`MultiscaleBackbone`][lifting_dfer.backbones.MultiscaleBackbone] (``feature_dims``,
            ``feature_shapes``).
        num_classes: ``k``.
        hidden: the MLP's hidden width.
        image_size: ``(h0, w0)`` or one int; ``None``: the backbone's fixed size, else 224 (only checked here:
            the head depends on ``t`` and ``c``, not on the spatial size).
        dropout: dropout before the last Linear.

    Examples:
        >>> import torch
        >>> from lifting_dfer.backbones import MobileNetV2Features
        >>> model = MLPBaseline(MobileNetV2Features(num_frames=4), hidden=16).eval()
        >>> model(torch.randn(1, 3, 4, 64, 64)).shape
        torch.Size([1, 7])
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        num_classes: int = 7,
        hidden: int = 1280,
        image_size: int | tuple[int, int] | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _, (c, t, _, _) = last_stage_shape(backbone, image_size)
        self.num_classes = num_classes
        self.backbone = backbone
        self.head = ConcatMLPHead(c, num_frames=t, hidden=hidden, num_classes=num_classes, dropout=dropout)

    def forward(self, clip: Tensor) -> Tensor:
        """Logits ``(b, k)``."""
        return self.forward_head(self.backbone(clip))

    def forward_head(self, stages: Sequence[Tensor]) -> Tensor:
        """Logits ``(b, k)`` from the backbone's stage features ``[(b, c_j, t, h_j, w_j)]`` (the last one is used)."""
        return self.head(stages[-1])
