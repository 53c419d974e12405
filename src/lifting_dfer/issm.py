"""ISSM: Inter-frame Static-dynamic Splitting Module (paper Eqs. 1-3)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from einops import rearrange
from torch import Tensor, nn

from ._checks import check_even_frames, check_shape
from .interpolation import interpolate_frames

__all__ = ["ISSM"]


class ISSM(nn.Module):
    r"""Split features into a static and a dynamic group at learned, content-aware frame positions.

    Eq. 1, temporal tokens: ``Z = LN(Vec_{c,h,w}(Conv3x3(AvgPool2d_2(X))) W_T + b_T)``, ``Z: (b, t, d)``.
    Eq. 2, offsets from the inter-frame correlation ``R = Z Z^T / sqrt(d)``:
    ``A_S = tanh(Vec(softmax(R)) W_S + b_S)``, ``A_D = tanh(Vec(softmax(-R)) W_D + b_D)``.
    Eq. 3, indices ``I_S[i] = 2i + L A_S[i]``, ``I_D[i] = 2i + 1 + L A_D[i]`` clamped to ``[0, t - 1]``;
    ``X_S, X_D`` are sampled at them by :func:`~lifting_dfer.interpolate_frames` (Eq. 4).
    ``W_S, b_S, W_D, b_D`` start at zero, so training starts from the even/odd split.

    Shape:
        - x: ``(b, c, t, h, w)`` with ``c, t, h, w`` as built
        - x_s, x_d: ``(b, c, z, h, w)`` with ``z = t / 2``
        - i_s, i_d (``return_indices=True``): ``(b, z)`` frame positions

    Args:
        dim: channels ``c`` of ``x``.
        num_frames: frames ``t`` (even); ``b_T`` is a per-frame bias, so the module is built for one ``t``.
        height, width: spatial size of ``x`` (``W_T`` flattens the pooled map).
        token_dim: width ``d`` of the temporal tokens (paper: 128).
        compress: channel compression ``D_C`` of the 3x3 conv (``c -> c / D_C``; paper: 1 for 2DCNN, 4 for 3DViT).
        offset_range: ``L``, the largest offset in frames; ``None`` means ``t / 2`` (paper's Table 9 best; the
            authors' released code uses 2 for ``t = 8``, which is the same value).
        split: ``"adaptive"`` (learned indices) or ``"even_odd"`` (fixed ``x[:, :, 0::2], x[:, :, 1::2]``,
            the "w/o ISSM" ablation); ``"even_odd"`` has no parameters.

    Examples:
        >>> issm = ISSM(64, num_frames=8, height=14, width=14)
        >>> x_s, x_d, (i_s, i_d) = issm(torch.randn(2, 64, 8, 14, 14), return_indices=True)
        >>> x_s.shape, i_s[0].tolist(), i_d[0].tolist()
        (torch.Size([2, 64, 4, 14, 14]), [0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0])
    """

    def __init__(
        self,
        dim: int,
        num_frames: int,
        height: int,
        width: int,
        *,
        token_dim: int = 128,
        compress: int = 1,
        offset_range: float | None = None,
        split: Literal["adaptive", "even_odd"] = "adaptive",
    ) -> None:
        super().__init__()
        check_even_frames(num_frames, "num_frames")
        for name, value in (("dim", dim), ("height", height), ("width", width), ("token_dim", token_dim)):
            if value < 1:
                raise ValueError(f"{name}: expected a positive size, got {value}")
        if height < 2 or width < 2:
            raise ValueError(f"height, width: AvgPool2d_2 needs a spatial size >= 2, got {height}x{width}")
        if compress < 1 or dim % compress:
            raise ValueError(f"compress: expected a positive divisor of dim={dim}, got {compress}")
        if split not in ("adaptive", "even_odd"):
            raise ValueError(f"split: expected 'adaptive' or 'even_odd', got {split!r}")
        self.dim, self.num_frames, self.height, self.width = dim, num_frames, height, width
        self.token_dim, self.compress, self.split = token_dim, compress, split
        self.offset_range = float(num_frames // 2 if offset_range is None else offset_range)
        if self.offset_range < 0:
            raise ValueError(f"offset_range: expected L >= 0, got {offset_range}")

        z = num_frames // 2
        self.register_buffer("even", torch.arange(0, num_frames, 2, dtype=torch.float32), persistent=False)
        if split == "even_odd":
            return
        # Eq. 1: per-frame pool and conv, then a linear map of the flattened (c, h, w) map to a d-wide token.
        self.pool = nn.AvgPool2d(2)
        self.conv = nn.Conv2d(dim, dim // compress, kernel_size=3, padding=1)
        self.to_token = nn.Linear((dim // compress) * (height // 2) * (width // 2), token_dim, bias=False)
        self.token_bias = nn.Parameter(torch.zeros(num_frames, token_dim))
        self.norm = nn.LayerNorm(token_dim)
        # Eq. 2: (t*t) correlation weights -> z offsets per group.
        self.to_static = nn.Linear(num_frames * num_frames, z)
        self.to_dynamic = nn.Linear(num_frames * num_frames, z)
        for layer in (self.to_static, self.to_dynamic):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_frames={self.num_frames}, height={self.height}, width={self.width}, "
            f"token_dim={self.token_dim}, compress={self.compress}, offset_range={self.offset_range:g}, "
            f"split={self.split!r}"
        )

    def indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Eqs. 1-3: static and dynamic frame positions ``i_s, i_d: (b, z)`` for ``x: (b, c, t, h, w)``."""
        b, t = x.shape[0], self.num_frames
        dtype = torch.promote_types(x.dtype, torch.float32)  # positions stay float32 under fp16/bf16
        even = self.even.to(dtype).expand(b, -1)
        if self.split == "even_odd":
            return even, even + 1
        frames = rearrange(x, "b c t h w -> (b t) c h w")
        tokens = rearrange(self.conv(self.pool(frames)), "(b t) c h w -> b t (c h w)", b=b)
        tokens = self.norm(self.to_token(tokens) + self.token_bias)  # Eq. 1: (b, t, d)
        corr = tokens @ tokens.transpose(1, 2) / math.sqrt(self.token_dim)  # Eq. 2: R (b, t, t)
        a_s = torch.tanh(self.to_static(corr.softmax(dim=-1).flatten(1))).to(dtype)
        a_d = torch.tanh(self.to_dynamic((-corr).softmax(dim=-1).flatten(1))).to(dtype)
        i_s = (even + self.offset_range * a_s).clamp(0, t - 1)  # Eq. 3
        i_d = (even + 1 + self.offset_range * a_d).clamp(0, t - 1)
        return i_s, i_d

    def forward(self, x: Tensor, return_indices: bool = False):
        """``x: (b, c, t, h, w) -> (x_s, x_d)``, or ``(x_s, x_d, (i_s, i_d))`` with ``return_indices``."""
        check_shape(x, "b c t h w", "x", c=self.dim, t=self.num_frames, h=self.height, w=self.width)
        if self.split == "even_odd":
            x_s, x_d = x[:, :, 0::2], x[:, :, 1::2]
            i_s, i_d = self.indices(x)
        else:
            i_s, i_d = self.indices(x)
            x_s, x_d = interpolate_frames(x, i_s), interpolate_frames(x, i_d)  # Eq. 4
        return (x_s, x_d, (i_s, i_d)) if return_indices else (x_s, x_d)
