"""Naive references, written the way research code usually writes these layers.

They compute the same function as the library, with the same parameter names, so that
``naive.load_state_dict(library.state_dict())`` makes both produce the same outputs (``tests/test_benchmarks.py``
checks it). That is what makes the benchmark's ratio fair: the only difference is how the computation is spelt.

- :func:`naive_interpolate_frames`: ``grid_sample`` over the clip reshaped to ``(b, h*w*c, t, 1)``.
- :class:`NaiveISSM`: ``permute(...).contiguous().view(...)`` chains and ``grid_sample`` splitting.
- :class:`NaiveLADM`: explicit ``softmax(q @ k^T) @ v`` with per-head ``view``/``permute``/``contiguous`` chains.

Only the paper's configuration is written (adaptive split, update-first mutual lifting, no dropout).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["NaiveISSM", "NaiveLADM", "NaiveLiftingAttention", "NaiveLiftingHead", "naive_interpolate_frames"]


def naive_interpolate_frames(x: Tensor, index: Tensor) -> Tensor:
    """``x: (b, c, t, h, w)``, ``index: (b, z)`` -> ``(b, c, z, h, w)`` by ``grid_sample`` on a reshaped clip."""
    B, C, T, H, W = x.shape
    Z = index.shape[1]
    # treat every (h, w, c) position as a channel of a (t x 1) "image"
    feat = x.permute(0, 3, 4, 1, 2).contiguous().view(B, H * W * C, T, 1)
    grid_y = index.clamp(0, T - 1) / (T - 1) * 2 - 1  # align_corners=True normalisation
    grid = torch.stack([torch.zeros_like(grid_y), grid_y], dim=-1).view(B, Z, 1, 2)
    out = F.grid_sample(feat, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(B, H, W, C, Z).permute(0, 3, 4, 1, 2).contiguous()


class NaiveISSM(nn.Module):
    """ISSM (Eqs. 1-3, sampling by Eq. 4) in research-code style; parameter names match :class:`lifting_dfer.issm.ISSM`."""

    def __init__(self, dim, num_frames, height, width, token_dim=128, compress=1, offset_range=None):
        super().__init__()
        self.T = num_frames
        self.d = token_dim
        self.L = float(num_frames // 2 if offset_range is None else offset_range)
        self.pool = nn.AvgPool2d(2)
        self.conv = nn.Conv2d(dim, dim // compress, kernel_size=3, padding=1)
        self.to_token = nn.Linear(dim // compress * (height // 2) * (width // 2), token_dim, bias=False)
        self.token_bias = nn.Parameter(torch.zeros(num_frames, token_dim))
        self.norm = nn.LayerNorm(token_dim)
        self.to_static = nn.Linear(num_frames * num_frames, num_frames // 2)
        self.to_dynamic = nn.Linear(num_frames * num_frames, num_frames // 2)

    def forward(self, x):
        B, C, T, H, W = x.shape
        f = x.permute(0, 2, 1, 3, 4).contiguous().view(B * T, C, H, W)
        f = self.conv(self.pool(f))
        f = f.contiguous().view(B, T, -1)
        tok = self.norm(self.to_token(f) + self.token_bias.unsqueeze(0))
        R = torch.bmm(tok, tok.transpose(1, 2).contiguous()) / math.sqrt(self.d)
        a_s = torch.tanh(self.to_static(F.softmax(R, dim=-1).contiguous().view(B, -1)))
        a_d = torch.tanh(self.to_dynamic(F.softmax(-R, dim=-1).contiguous().view(B, -1)))
        base = torch.arange(0, T, 2, device=x.device, dtype=a_s.dtype).unsqueeze(0)
        i_s = torch.clamp(base + self.L * a_s, 0, T - 1)
        i_d = torch.clamp(base + 1 + self.L * a_d, 0, T - 1)
        return naive_interpolate_frames(x, i_s), naive_interpolate_frames(x, i_d)


class NaiveLiftingAttention(nn.Module):
    """``MLP(softmax(Q K^T / sqrt(d)) V)`` with explicit attention; names match ``LiftingAttention``."""

    def __init__(self, dim, heads=8, mlp_ratio=4.0):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.norm_query = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        hidden = int(mlp_ratio * dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0)
        )

    def forward(self, query, context):
        B, N, C = query.shape
        M = context.shape[1]
        h = self.heads
        q = self.to_q(self.norm_query(query))
        kv = self.to_kv(self.norm_context(context))
        k, v = kv[:, :, :C], kv[:, :, C:]
        q = q.view(B, N, h, C // h).permute(0, 2, 1, 3).contiguous()  # B, h, N, d
        k = k.contiguous().view(B, M, h, C // h).permute(0, 2, 1, 3).contiguous()
        v = v.contiguous().view(B, M, h, C // h).permute(0, 2, 1, 3).contiguous()
        attn = torch.matmul(q, k.transpose(-2, -1).contiguous()) * self.scale  # B, h, N, M
        attn = F.softmax(attn, dim=-1)
        out = torch.matmul(attn, v)  # B, h, N, d
        out = out.permute(0, 2, 1, 3).contiguous().view(B, N, C)
        return self.mlp(out)


class NaiveLADM(nn.Module):
    """Update-first mutual lifting (Eqs. 5-7); names match :class:`lifting_dfer.ladm.LADM`."""

    def __init__(self, dim, heads=8, mlp_ratio=4.0):
        super().__init__()
        self.update = NaiveLiftingAttention(dim, heads, mlp_ratio)
        self.predict = NaiveLiftingAttention(dim, heads, mlp_ratio)

    def forward(self, x_s, x_d):
        B, C, Z, H, W = x_s.shape
        xs = x_s.permute(0, 2, 3, 4, 1).contiguous().view(B, Z * H * W, C)
        xd = x_d.permute(0, 2, 3, 4, 1).contiguous().view(B, Z * H * W, C)
        ys = xs + self.update(xs, xd)  # Eq. 5
        yd = xd - self.predict(xd, ys)  # Eq. 6
        ys = ys.view(B, Z, H, W, C).permute(0, 4, 1, 2, 3).contiguous()
        yd = yd.view(B, Z, H, W, C).permute(0, 4, 1, 2, 3).contiguous()
        return ys, yd


class NaiveLiftingHead(nn.Module):
    """NaiveISSM then NaiveLADM: ``x: (b, c, t, h, w) -> (y_s, y_d)``, keys ``issm.*`` and ``ladm.*``."""

    def __init__(self, dim, num_frames, height, width, token_dim=128, compress=1, heads=8, mlp_ratio=4.0):
        super().__init__()
        self.issm = NaiveISSM(dim, num_frames, height, width, token_dim, compress)
        self.ladm = NaiveLADM(dim, heads, mlp_ratio)

    def forward(self, x):
        x_s, x_d = self.issm(x)
        return self.ladm(x_s, x_d)
