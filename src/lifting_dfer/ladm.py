"""LADM: Lifting-based Aggregation-Disentanglement Module (paper Eqs. 5-7)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ._checks import check_shape

__all__ = ["LADM", "LiftingAttention"]


class LiftingAttention(nn.Module):
    r"""One lifting step: ``MLP(softmax(Q K^T / sqrt(d)) V)`` with ``Q`` from ``query``, ``K, V`` from ``context``.

    The updater ``U`` and the predictor ``P`` of Eqs. 5-6 are two instances. Both inputs are layer-normed
    first (pre-norm); multi-head attention runs through ``F.scaled_dot_product_attention`` (fused kernels on
    GPU); ``MLP = Linear, GELU, Linear`` with hidden width ``mlp_ratio * c``.

    Shape:
        - query: ``(b, n, c)``, context: ``(b, m, c)`` -> ``(b, n, c)``
    """

    def __init__(self, dim: int, *, heads: int = 8, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm_query, self.norm_context = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        hidden = int(mlp_ratio * dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        q = self.to_q(self.norm_query(query))
        k, v = self.to_kv(self.norm_context(context)).chunk(2, dim=-1)
        q, k, v = (rearrange(a, "b n (heads d) -> b heads n d", heads=self.heads) for a in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.mlp(rearrange(out, "b heads n d -> b n (heads d)"))


class LADM(nn.Module):
    r"""Lifting scheme with learned, mutually conditioned update and predict steps (Eqs. 5-7).

    With tokens ``X_S, X_D = rearrange(x_s / x_d, "b c z h w -> b (z h w) c")``:

    - ``order="update_first"`` (IFDD): ``Y_S = X_S + U(X_D | X_S)`` (Eq. 5), then ``Y_D = X_D - P(Y_S | X_D)``
      (Eq. 6), where ``U(A | B)`` attends from ``B`` (queries) to ``A`` (keys, values).
    - ``order="predict_first"`` (vanilla lifting, Table 10): ``Y_D = X_D - P(X_S | X_D)``, then
      ``Y_S = X_S + U(Y_D | X_S)``.
    - ``mutual=False`` (Table 3): each step attends inside its own group (``U(X_S | X_S)``, ``P(X_D | X_D)``), so
      the two groups never exchange information.

    ``Y_D`` (the emotion-related dynamics) feeds the classifier; ``Y_S`` is constrained by :class:`LiftLoss`.

    Shape:
        - x_s, x_d: ``(b, c, z, h, w)`` (same shape)
        - y_s, y_d: ``(b, c, z, h, w)``

    Args:
        dim: channels ``c`` (divisible by ``heads``).
        heads: attention heads; ``d = c / heads``.
        mlp_ratio: hidden width of the MLP after attention, in multiples of ``c``.
        dropout: dropout on attention weights and in the MLP.
        order: ``"update_first"`` or ``"predict_first"``.
        mutual: cross-group attention (``True``) or self-attention inside each group (``False``).

    Examples:
        >>> ladm = LADM(64, heads=8)
        >>> y_s, y_d = ladm(torch.randn(2, 64, 4, 7, 7), torch.randn(2, 64, 4, 7, 7))
        >>> y_d.shape
        torch.Size([2, 64, 4, 7, 7])
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
        self.dim, self.heads, self.mlp_ratio, self.order, self.mutual = dim, heads, mlp_ratio, order, mutual
        self.update = LiftingAttention(dim, heads=heads, mlp_ratio=mlp_ratio, dropout=dropout)
        self.predict = LiftingAttention(dim, heads=heads, mlp_ratio=mlp_ratio, dropout=dropout)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, mlp_ratio={self.mlp_ratio:g}, order={self.order!r}, mutual={self.mutual}"

    def forward(self, x_s: Tensor, x_d: Tensor) -> tuple[Tensor, Tensor]:
        sizes = check_shape(x_s, "b c z h w", "x_s", c=self.dim)
        check_shape(x_d, "b c z h w", "x_d", **sizes)
        x_s, x_d = (rearrange(a, "b c z h w -> b (z h w) c") for a in (x_s, x_d))
        if self.order == "update_first":
            y_s = x_s + self.update(x_s, x_d if self.mutual else x_s)  # Eq. 5
            y_d = x_d - self.predict(x_d, y_s if self.mutual else x_d)  # Eq. 6
        else:
            y_d = x_d - self.predict(x_d, x_s if self.mutual else x_d)
            y_s = x_s + self.update(x_s, y_d if self.mutual else x_s)
        unflatten = "b (z h w) c -> b c z h w"
        dims = {k: sizes[k] for k in ("z", "h", "w")}
        return rearrange(y_s, unflatten, **dims), rearrange(y_d, unflatten, **dims)
