"""LADM: Lifting-based Aggregation-Disentanglement Module (paper Eqs. 5-7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch  # noqa: F401  (the doctests use it)
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ._checks import refuse_scripting
from ._layout import Layout

__all__ = ["LADM", "LiftingAttention"]


class LiftingAttention(nn.Module):
    r"""One lifting step: ``MLP(softmax(Q K^T / sqrt(d)) V)`` with ``Q`` from ``query``, ``K, V`` from ``context``.

    The updater ``U`` and the predictor ``P`` of Eqs. 5-6 are two instances. Both inputs are layer-normed
    first (pre-norm); multi-head attention runs through ``F.scaled_dot_product_attention`` (fused kernels on
    GPU); ``MLP = Linear, GELU, Linear`` with hidden width ``mlp_ratio * c``.

    The authors' released code computes ``Linear(softmax(Q K^T / sqrt(d)) V + V)`` on inputs normed once by
    [`LADM`][lifting_dfer.LADM] (``norm_layer=None, qkv_bias=True, value_residual=True, projection="linear"``).

    Shape:
        - query: ``(b, n, c)``, context: ``(b, m, c)`` -> ``(b, n, c)`` (``m = n`` with ``value_residual``)

    Args:
        dim: channels ``c``.
        heads: attention heads.
        mlp_ratio: hidden width of the MLP, in multiples of ``c`` (``projection="mlp"``).
        dropout: dropout on the attention weights and after the projection (and inside the MLP).
        norm_layer: normalisation of ``query`` and ``context`` (two instances), or ``None`` to take them as they
            are.
        qkv_bias: biases on the ``Q`` and ``K, V`` projections.
        value_residual: add ``V`` to the attention output before the projection.
        projection: ``"mlp"`` (``Linear, GELU, Linear``) or ``"linear"`` (one ``Linear(c, c)``) after attention.
    """

    def __init__(
        self,
        dim: int,
        *,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        norm_layer: Callable[[int], nn.Module] | None = nn.LayerNorm,
        qkv_bias: bool = False,
        value_residual: bool = False,
        projection: Literal["mlp", "linear"] = "mlp",
    ) -> None:
        super().__init__()
        if projection not in ("mlp", "linear"):
            raise ValueError(f"projection: expected 'mlp' or 'linear', got {projection!r}")
        self.heads, self.dropout, self.value_residual, self.projection = heads, dropout, value_residual, projection
        if norm_layer is not None:
            self.norm_query, self.norm_context = norm_layer(dim), norm_layer(dim)
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        if projection == "linear":
            self.proj = nn.Linear(dim, dim)
        else:
            hidden = int(mlp_ratio * dim)
            self.mlp = nn.Sequential(
                nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
            )

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        if hasattr(self, "norm_query"):
            query, context = self.norm_query(query), self.norm_context(context)
        q = self.to_q(query)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        qh, kh, vh = (rearrange(a, "b n (heads d) -> b heads n d", heads=self.heads) for a in (q, k, v))
        out = F.scaled_dot_product_attention(qh, kh, vh, dropout_p=self.dropout if self.training else 0.0)
        out = rearrange(out, "b heads n d -> b n (heads d)")
        if self.value_residual:
            out = out + v
        if self.projection == "mlp":
            return self.mlp(out)
        return F.dropout(self.proj(out), self.dropout, self.training)


class LADM(nn.Module):
    r"""Lifting scheme with learned, mutually conditioned update and predict steps (Eqs. 5-7).

    With tokens ``X_S, X_D = rearrange(x_s / x_d, "b c z h w -> b (z h w) c")`` (from any ``layout``):

    - ``order="update_first"`` (IFDD): ``Y_S = X_S + U(X_D | X_S)`` (Eq. 5), then ``Y_D = X_D - P(Y_S | X_D)``
      (Eq. 6), where ``U(A | B)`` attends from ``B`` (queries) to ``A`` (keys, values).
    - ``order="predict_first"`` (vanilla lifting, Table 10): ``Y_D = X_D - P(X_S | X_D)``, then
      ``Y_S = X_S + U(Y_D | X_S)``.
    - ``mutual=False`` (Table 3): each step attends inside its own group (``U(X_S | X_S)``, ``P(X_D | X_D)``), so
      the two groups never exchange information.

    ``Y_D`` (the emotion-related dynamics) feeds the classifier; ``Y_S`` is constrained by
    [`LiftLoss`][lifting_dfer.LiftLoss].

    The authors' released code normalises ``X_S, X_D`` once and lifts the normalised tensors
    (``norm="stream"``: ``Y_S = LN(X_S) + U(LN(X_D) | LN(X_S))``), with biased ``Q, K, V`` projections, a value
    residual and one ``Linear`` after attention (``qkv_bias=True, value_residual=True, projection="linear"``; see
    [`LiftingAttention`][lifting_dfer.LiftingAttention]).

    Shape:
        - x_s, x_d: ``(b, c, z, h, w)`` (same shape, same dtype), or the same axes in ``layout`` (where ``z`` may be
          written ``t``)
        - y_s, y_d: ``(b, c, z, h, w)``, in the layout of the inputs

    Args:
        dim: channels ``c`` (divisible by ``heads``).
        heads: attention heads; ``d = c / heads``.
        mlp_ratio: hidden width of the MLP after attention, in multiples of ``c``.
        dropout: dropout on attention weights and in the MLP.
        order: ``"update_first"`` or ``"predict_first"``.
        mutual: cross-group attention (``True``) or self-attention inside each group (``False``).
        norm: ``"pre"`` (each step layer-norms its query and context) or ``"stream"`` (``X_S, X_D`` are
            layer-normed once, on entry, and the normalised tensors are lifted; the authors' code).
        qkv_bias, value_residual, projection: the steps' settings, see
            [`LiftingAttention`][lifting_dfer.LiftingAttention].
        num_frames: ``z``, the frames of each group, if known; ``None`` takes any. Checked on the inputs when
            given; needed only by a layout that folds the frames into the batch (``"(b z) (h w) c"``).
        layout: einops pattern of ``x_s, x_d`` over the axes ``b, c, z, h, w``: ``"b c z h w"``, ``"b z h w c"``,
            tokens ``"b (z h w) c"``, per-frame ``"(b z) c h w"`` or ``"(b z) (h w) c"``; ``y_s, y_d`` come back
            in it. The frame axis may be written ``t`` instead of ``z`` (``"b t h w c"``): the layout string of
            [`ISSM`][lifting_dfer.ISSM], whose outputs LADM takes, and of [`LiftLoss`][lifting_dfer.LiftLoss].
            LADM attends over all ``(z h w)`` tokens of a clip and has no positional terms, so a group of token
            axes (``"(h w)"``) needs no sizes.

    Examples:
        >>> ladm = LADM(64, heads=8)
        >>> y_s, y_d = ladm(torch.randn(2, 64, 4, 7, 7), torch.randn(2, 64, 4, 7, 7))
        >>> y_d.shape
        torch.Size([2, 64, 4, 7, 7])
        >>> tokens = LADM(64, heads=8, layout="b (z h w) c")
        >>> tokens(torch.randn(2, 196, 64), torch.randn(2, 196, 64))[1].shape
        torch.Size([2, 196, 64])
        >>> channels_last = LADM(64, heads=8, layout="b t h w c")  # ISSM's layout string: t names the frames
        >>> channels_last(torch.randn(2, 4, 7, 7, 64), torch.randn(2, 4, 7, 7, 64))[1].shape
        torch.Size([2, 4, 7, 7, 64])
    """

    def __init__(
        self,
        dim: int,
        *,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        order: Literal["update_first", "predict_first"] = "update_first",
        mutual: bool = True,
        norm: Literal["pre", "stream"] = "pre",
        qkv_bias: bool = False,
        value_residual: bool = False,
        projection: Literal["mlp", "linear"] = "mlp",
        num_frames: int | None = None,
        layout: str = "b c z h w",
    ) -> None:
        super().__init__()
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"heads: expected a positive divisor of dim={dim}, got {heads}")
        if mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio: expected > 0, got {mlp_ratio}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        if order not in ("update_first", "predict_first"):
            raise ValueError(f"order: expected 'update_first' or 'predict_first', got {order!r}")
        if norm not in ("pre", "stream"):
            raise ValueError(f"norm: expected 'pre' or 'stream', got {norm!r}")
        if num_frames is not None and num_frames < 1:
            raise ValueError(f"num_frames: expected a positive size or None, got {num_frames}")
        self.layout = Layout(layout, "b tokens c", tokens=("z", "h", "w"), aliases={"z": "t"})
        z = self.layout.axis("z")
        self.layout.require({"c"} | ({z} if num_frames is not None else set()), {"c": "dim", z: "num_frames"})
        self.dim, self.heads, self.mlp_ratio, self.order, self.mutual = dim, heads, mlp_ratio, order, mutual
        self.num_frames, self.norm = num_frames, norm
        if norm == "stream":
            self.norm_static, self.norm_dynamic = nn.LayerNorm(dim), nn.LayerNorm(dim)

        def step() -> LiftingAttention:
            return LiftingAttention(
                dim, heads=heads, mlp_ratio=mlp_ratio, dropout=dropout,
                norm_layer=nn.LayerNorm if norm == "pre" else None, qkv_bias=qkv_bias,
                value_residual=value_residual, projection=projection,
            )  # fmt: skip

        self.update = step()
        self.predict = step()

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.heads}, mlp_ratio={self.mlp_ratio:g}, order={self.order!r}, "
            f"mutual={self.mutual}"
            + (f", norm={self.norm!r}" if self.norm != "pre" else "")
            + (", qkv_bias=True" if self.update.to_q.bias is not None else "")
            + (", value_residual=True" if self.update.value_residual else "")
            + (f", projection={self.update.projection!r}" if self.update.projection != "mlp" else "")
            + (f", num_frames={self.num_frames}" if self.num_frames is not None else "")
            + (f", layout={self.layout}" if self.layout.pattern != "b c z h w" else "")
        )

    __prepare_scriptable__ = refuse_scripting

    def forward(self, x_s: Tensor, x_d: Tensor) -> tuple[Tensor, Tensor]:
        dtype, pins = self.update.to_q.weight.dtype, {"c": self.dim, self.layout.axis("z"): self.num_frames}
        x_s, sizes = self.layout.enter(x_s, "x_s", dtype=dtype, dtype_of="LADM's parameters", **pins)
        x_d, _ = self.layout.enter(x_d, "x_d", dtype=x_s.dtype, dtype_of="x_s", **sizes)  # tokens (b, n, c)
        if self.norm == "stream":
            x_s, x_d = self.norm_static(x_s), self.norm_dynamic(x_d)
        if self.order == "update_first":
            y_s = x_s + self.update(x_s, x_d if self.mutual else x_s)  # Eq. 5
            y_d = x_d - self.predict(x_d, y_s if self.mutual else x_d)  # Eq. 6
        else:
            y_d = x_d - self.predict(x_d, x_s if self.mutual else x_d)
            y_s = x_s + self.update(x_s, y_d if self.mutual else x_s)
        return self.layout.leave(y_s, sizes), self.layout.leave(y_d, sizes)
