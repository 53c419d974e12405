"""BlockPool: the authors' classifier pooling (a transformer block on ``Y_D``, then a learned weighting of positions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .._checks import check_shape

__all__ = ["BlockPool"]


class BlockPool(nn.Module):
    r"""Pool ``Y_D`` to one vector: a transformer block on its tokens, then a learned linear weighting of positions.

    The authors' released code ends IFDD this way (``WaveSF_trans_CLS``, after the lifting)::

        u = tokens + DropPath(Linear(MHSA(LN_1(tokens))))      tokens = rearrange(y, "b c z h w -> b (z h w) c")
        v = DropPath(MLP(LN_2(u)))                             the MLP's output replaces u: no residual
        out = sum_n p_n v_n                                    p: one learned weight per position, no bias

    with ``MLP = Linear(c, r c), GELU, Linear(r c, c)`` and the attention's ``Q, K, V`` projections biased. The
    position weights ``p`` are sized by the ``n = z h w`` tokens, so the module is built for one ``n``.

    ``sum_n p_n`` is linear, so it is taken before the MLP's last ``Linear``:
    ``out = W_2 (sum_n p_n GELU(W_1 LN_2(u_n) + b_1)) + b_2 sum_n p_n`` is the same vector, with that
    ``Linear`` applied once per clip instead of once per token (a fifth fewer multiply-adds in the module).
    Stochastic depth (``"row"`` mode, in training) drops whole samples: a sample whose MLP output is dropped
    gives zeros whatever its tokens, and one whose attention branch is dropped keeps its tokens, so neither is
    computed. The masks are drawn as torchvision's ``StochasticDepth`` draws them, attention branch first, so
    the outputs equal the authors' code's for the same random state.

    Shape:
        - y: ``(b, c, z, h, w)`` with ``z h w = num_tokens`` -> ``(b, c)``

    Args:
        dim: channels ``c`` (divisible by ``heads``).
        num_tokens: ``n = z h w``, the positions weighted.
        heads: attention heads.
        mlp_ratio: hidden width of the MLP, in multiples of ``c``.
        drop_path: stochastic-depth probability on the attention branch and on the MLP output (0.2 in the
            authors' code).

    Examples:
        >>> pool = BlockPool(64, num_tokens=4 * 7 * 7, heads=8)
        >>> pool(torch.randn(2, 64, 4, 7, 7)).shape
        torch.Size([2, 64])
    """

    def __init__(
        self, dim: int, num_tokens: int, *, heads: int = 8, mlp_ratio: float = 4.0, drop_path: float = 0.2
    ) -> None:
        super().__init__()
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"heads: expected a positive divisor of dim={dim}, got {heads}")
        if num_tokens < 1:
            raise ValueError(f"num_tokens: expected a positive count, got {num_tokens}")
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path: expected a probability in [0, 1), got {drop_path}")
        self.dim, self.num_tokens, self.heads, self.mlp_ratio = dim, num_tokens, heads, mlp_ratio
        hidden = int(mlp_ratio * dim)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.positions = nn.Linear(num_tokens, 1, bias=False)
        self.drop_path = drop_path

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_tokens={self.num_tokens}, heads={self.heads}, mlp_ratio={self.mlp_ratio:g}, "
            f"drop_path={self.drop_path:g}"
        )

    def _keep(self, tokens: Tensor) -> Tensor | None:
        """One stochastic-depth draw (torchvision's ``"row"`` mode): which samples keep the branch; ``None``: all."""
        if not self.training or self.drop_path == 0:
            return None
        noise = torch.empty((tokens.shape[0], 1, 1), dtype=tokens.dtype, device=tokens.device)
        return noise.bernoulli_(1 - self.drop_path).flatten().bool()

    def _attend(self, tokens: Tensor) -> Tensor:
        q, k, v = rearrange(self.qkv(self.norm1(tokens)), "b n (three heads d) -> three b heads n d", three=3,
                            heads=self.heads)  # fmt: skip
        return self.proj(rearrange(F.scaled_dot_product_attention(q, k, v), "b heads n d -> b n (heads d)"))

    def forward(self, y: Tensor) -> Tensor:
        check_shape(y, "b c z h w", "y", c=self.dim)
        tokens = rearrange(y, "b c z h w -> b (z h w) c")
        if tokens.shape[1] != self.num_tokens:
            raise ValueError(
                f"y: expected z h w = {self.num_tokens} tokens (num_tokens), got {tuple(y.shape)} "
                f"({tokens.shape[1]} tokens)"
            )
        b, scale = tokens.shape[0], 1 / (1 - self.drop_path)
        keep_attention, keep_mlp = self._keep(tokens), self._keep(tokens)  # None: every sample (eval mode)
        live = None if keep_mlp is None or keep_mlp.all() else keep_mlp.nonzero().flatten()
        if live is not None and keep_attention is not None:  # a dropped MLP output zeroes the sample: leave it out
            tokens, keep_attention = tokens.index_select(0, live), keep_attention[live]
        if keep_attention is None:
            u = tokens + self._attend(tokens)
        elif keep_attention.all():
            u = tokens + scale * self._attend(tokens)
        else:  # only the kept attention branches, scaled as stochastic depth scales them
            rows = keep_attention.nonzero().flatten()
            u = tokens.index_add(0, rows, self._attend(tokens.index_select(0, rows)), alpha=scale)
        hidden = F.gelu(self.fc1(self.norm2(u)))  # (b, n, r c)
        p = self.positions.weight  # (1, n)
        pooled = torch.bmm(p.expand(hidden.shape[0], 1, -1), hidden).squeeze(1)  # sum_n p_n GELU(...): (b, r c)
        out = F.linear(pooled, self.fc2.weight) + p.sum() * self.fc2.bias
        if keep_mlp is None:
            return out
        if live is None:
            return scale * out
        return out.new_zeros(b, self.dim).index_copy(0, live, scale * out)
