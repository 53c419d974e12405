"""IFDD: the backbone-agnostic framework (pyramid aggregation -> ISSM -> LADM -> classifier on Y_D)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, cast

from torch import Tensor, nn

from ._checks import check_input
from .backbones.base import last_stage_shape
from .heads import AttentionPool
from .issm import ISSM
from .ladm import LADM
from .pyramid import PyramidAggregation

__all__ = ["IFDD", "IFDDOutput"]


class IFDDOutput(NamedTuple):
    """What IFDD returns in training mode (and [`IFDD.forward_features`][lifting_dfer.ifdd.IFDD.forward_features] in any
    mode).

    The training loss is ``cross_entropy(out.logits, y) + LiftLoss()(out.y_s, out.x)``.
    """

    logits: Tensor
    """``(b, k)`` class scores."""
    features: Tensor
    """``(b, c)`` pooled ``Y_D`` before dropout and the last Linear (for t-SNE)."""
    y_s: Tensor
    """``(b, c, z, h, w)`` static group after the update step (``X_S`` without LADM)."""
    x: Tensor
    """``(b, c, t, h, w)`` the aggregated backbone features ``X`` (full length)."""
    indices: tuple[Tensor, Tensor]
    """``(i_s, i_d)``, each ``(b, z)``: the frame positions ISSM sampled (even / odd without ISSM)."""


class IFDD(nn.Module):
    r"""Implicit Facial Dynamics Disentanglement around any multiscale video backbone.

    ``clip -> backbone -> [(b, c_j, t, h_j, w_j)] -> PyramidAggregation -> X (b, c, t, h, w)``
    ``-> ISSM -> X_S, X_D (b, c, t/2, h, w) -> LADM -> Y_S, Y_D -> AttentionPool(Y_D) (b, c)``
    ``-> Dropout -> Linear -> logits (b, k)``.

    The backbone follows the [`MultiscaleBackbone`][lifting_dfer.backbones.MultiscaleBackbone] contract: it has
    ``feature_dims`` (stage widths) and ``feature_shapes(h, w)`` (per-stage ``(c, t, h, w)``), validates the clip
    and returns the stage list; ISSM is sized from the last stage's ``(t, h, w)`` for ``image_size``.

    Ablations (Table 1): ``use_issm=False`` splits even / odd frames (ISSM with ``split="even_odd"``);
    ``use_ladm=False`` classifies ``X_D`` directly (``Y_S = X_S, Y_D = X_D``). LADM's own ablations
    (``order``, ``mutual``; Tables 3 and 10) and ISSM's ``offset_range`` (Table 9) are constructor arguments too.

    Shape:
        - clip: ``(b, 3, t0, h0, w0)`` with ``(h0, w0) = image_size`` (checked before any compute)
        - output: logits ``(b, k)`` in eval mode; [`IFDDOutput`][lifting_dfer.IFDDOutput] in training mode

    Args:
        backbone: multiscale feature extractor (see above).
        num_classes: ``k``.
        dim: channels ``c`` of ``X`` (pyramid output): 128 for IFDD-2DCNN, 768 for IFDD-3DViT.
        image_size: ``(h0, w0)`` (or one int) the model is built for; ``None``: the backbone's fixed size, else 224.
        token_dim, compress, offset_range: ISSM's ``d_T``, ``D_C`` and ``L``.
        heads, mlp_ratio, attention_dropout, order, mutual: LADM's settings.
        use_issm, use_ladm: the Table 1 switches.
        dropout: dropout before the last Linear (0.5 in the paper's configuration).
        norm_layer: normalisation after the pyramid's 1x1 conv.
        pyramid, issm, ladm, pool: a part to use instead of the one the settings above build (the aggregation
            ``stages -> X``, the split ``X -> X_S, X_D``, the lifting ``-> Y_S, Y_D``, the pooling
            ``Y_D -> (b, c)``), with the same inputs and outputs;
            [`ifdd_3dvit_authors`][lifting_dfer.authors.ifdd_3dvit_authors] plugs in the authors' forms.
            ``use_issm`` and ``use_ladm`` must keep their defaults when ``issm`` or ``ladm`` is given.

    Examples:
        >>> import torch
        >>> from lifting_dfer.backbones import MobileNetV2Features
        >>> model = IFDD(MobileNetV2Features(num_frames=4), num_classes=7, dim=32, image_size=64).eval()
        >>> model(torch.randn(1, 3, 4, 64, 64)).shape
        torch.Size([1, 7])
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        num_classes: int = 7,
        dim: int = 128,
        image_size: int | tuple[int, int] | None = None,
        token_dim: int = 128,
        compress: int = 1,
        offset_range: float | None = None,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        attention_dropout: float = 0.0,
        order: Literal["update_first", "predict_first"] = "update_first",
        mutual: bool = True,
        use_issm: bool = True,
        use_ladm: bool = True,
        dropout: float = 0.5,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm3d,
        pyramid: nn.Module | None = None,
        issm: nn.Module | None = None,
        ladm: nn.Module | None = None,
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes: expected a positive count, got {num_classes}")
        if (issm is not None and not use_issm) or (ladm is not None and not use_ladm):
            raise ValueError("issm, ladm: a given part replaces the one use_issm / use_ladm would switch off")
        size, (_, t, h, w) = last_stage_shape(backbone, image_size)
        self.num_classes, self.dim, self.image_size = num_classes, dim, size
        self._clip_sizes = {"c": 3, "t": backbone.num_frames} if hasattr(backbone, "num_frames") else {"c": 3}
        self._clip_sizes.update(h=size[0], w=size[1])  # ISSM is built for this size
        self.use_issm, self.use_ladm = use_issm, use_ladm

        self.backbone = backbone
        if pyramid is None:
            dims = cast("Sequence[int]", backbone.feature_dims)  # the backbone contract, checked by last_stage_shape
            pyramid = PyramidAggregation(dims, dim, norm_layer=norm_layer)
        if issm is None:
            split: Literal["adaptive", "even_odd"] = "adaptive" if use_issm else "even_odd"
            issm = ISSM(dim, t, h, w, token_dim=token_dim, compress=compress, offset_range=offset_range, split=split)
        if ladm is None and use_ladm:
            ladm = LADM(dim, heads=heads, mlp_ratio=mlp_ratio, dropout=attention_dropout, order=order, mutual=mutual)
        self.pyramid, self.issm, self.ladm = pyramid, issm, ladm
        self.pool = pool if pool is not None else AttentionPool(dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(dim, num_classes)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, dim={self.dim}, image_size={self.image_size}, "
            f"use_issm={self.use_issm}, use_ladm={self.use_ladm}"
        )

    def forward_features(self, clip: Tensor) -> IFDDOutput:
        """The full [`IFDDOutput`][lifting_dfer.IFDDOutput] in any mode
        (``model.eval().forward_features(clip).features`` for t-SNE)."""
        clip, _ = check_input(clip, "b c t h w", "clip", **self._clip_sizes)
        return self.forward_head(self.backbone(clip))

    def forward_head(self, stages: Sequence[Tensor]) -> IFDDOutput:
        """Everything after the backbone, on its stage features ``[(b, c_j, t, h_j, w_j)]`` (for feature reuse)."""
        x = self.pyramid(stages)  # X: (b, c, t, h, w)
        x_s, x_d, indices = self.issm(x, return_indices=True)
        y_s, y_d = self.ladm(x_s, x_d) if self.ladm is not None else (x_s, x_d)
        features = self.pool(y_d)
        return IFDDOutput(self.classifier(self.dropout(features)), features, y_s, x, indices)

    def forward(self, clip: Tensor) -> Tensor | IFDDOutput:
        """Logits ``(b, k)`` in eval mode; [`IFDDOutput`][lifting_dfer.IFDDOutput] (logits plus LiftLoss inputs) in
        training mode."""
        out = self.forward_features(clip)
        return out if self.training else out.logits
