"""Classifier heads: IFDD's token pooling, and the time-concatenating MLP of the baselines (Table 5/12)."""

from __future__ import annotations

from einops import rearrange, reduce
from torch import Tensor, nn

from ._checks import check_shape

__all__ = ["AttentionPool", "ConcatMLPHead"]


class AttentionPool(nn.Module):
    r"""Pool the ``(z h w)`` tokens of a feature map to one vector with learned softmax weights.

    ``tokens = LN(rearrange(y, "b c z h w -> b (z h w) c"))``, ``a = softmax_n(tokens w + b)``,
    ``out = sum_n a_n tokens_n``. The score layer starts at zero, so pooling starts as the token mean.
    ``3 c + 1`` parameters, no size-dependent weight.

    Shape:
        - y: ``(b, c, z, h, w)`` -> ``(b, c)``

    Examples:
        >>> import torch
        >>> pool = AttentionPool(16)
        >>> pool(torch.randn(2, 16, 4, 7, 7)).shape
        torch.Size([2, 16])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, y: Tensor) -> Tensor:
        check_shape(y, "b c z h w", "y", c=self.dim)
        tokens = self.norm(rearrange(y, "b c z h w -> b (z h w) c"))
        weights = self.score(tokens).softmax(dim=1)  # (b, n, 1)
        return (weights * tokens).sum(dim=1)


class ConcatMLPHead(nn.Module):
    r"""The baselines' "vanilla MLP head": per-frame spatial mean, frames concatenated, then an MLP.

    ``v = rearrange(mean_{h,w}(x), "b c t -> b (t c)")``, ``logits = W_2 Dropout(GELU(W_1 v + b_1)) + b_2``.

    Shape:
        - x: ``(b, c, t, h, w)`` with ``c, t`` as built -> logits ``(b, k)``

    Args:
        dim: channels ``c``.
        num_frames: frames ``t`` (the input width of ``W_1`` is ``t * c``).
        hidden: width of the hidden layer.
        num_classes: ``k``.
        dropout: dropout before the last layer.

    Examples:
        >>> import torch
        >>> head = ConcatMLPHead(96, num_frames=8, hidden=32, num_classes=7)
        >>> head(torch.randn(2, 96, 8, 14, 14)).shape
        torch.Size([2, 7])
    """

    def __init__(self, dim: int, *, num_frames: int, hidden: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("num_frames", num_frames), ("hidden", hidden), ("num_classes", num_classes)):
            if value < 1:
                raise ValueError(f"{name}: expected a positive size, got {value}")
        self.dim, self.num_frames = dim, num_frames
        self.mlp = nn.Sequential(
            nn.Linear(num_frames * dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_frames={self.num_frames}"

    def forward(self, x: Tensor) -> Tensor:
        check_shape(x, "b c t h w", "x", c=self.dim, t=self.num_frames)
        return self.mlp(reduce(x, "b c t h w -> b (t c)", "mean"))
