"""ISSM: Inter-frame Static-dynamic Splitting Module (paper Eqs. 1-3)."""

from __future__ import annotations

import math
from typing import Any, Literal, cast

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from ._checks import check_even_frames, check_shape, refuse_scripting
from ._layout import Layout
from .interpolation import interpolate_frames

__all__ = ["ISSM", "LazyISSM"]

# The constructor argument that sizes each axis of ISSM's input (for messages).
_ARGUMENTS = {"c": "dim", "t": "num_frames", "h": "height", "w": "width"}


class ISSM(nn.Module):
    r"""Split features into a static and a dynamic group at learned, content-aware frame positions.

    Eq. 1, temporal tokens: ``Z = LN(Vec_{c,h,w}(Conv3x3(AvgPool2d_2(X))) W_T + b_T)``, ``Z: (b, t, d)``.
    Eq. 2, offsets from the inter-frame correlation ``R = Z Z^T / sqrt(d)``:
    ``A_S = tanh(Vec(softmax(R)) W_S + b_S)``, ``A_D = tanh(Vec(softmax(-R)) W_D + b_D)``.
    Eq. 3, indices ``I_S[i] = 2i + L A_S[i]``, ``I_D[i] = 2i + 1 + L A_D[i]`` clamped to ``[0, t - 1]``;
    ``X_S, X_D`` are sampled at them by [`interpolate_frames`][lifting_dfer.interpolate_frames] (Eq. 4).
    ``W_S, b_S, W_D, b_D`` start at zero, so training starts from the even/odd split.

    With ``token_grid`` (the authors' implementation choice, not in the paper's equations), Eq. 1's
    ``AvgPool2d_2`` becomes an adaptive average pool of every frame to that fixed grid (7 x 7 in the authors'
    code), so ``W_T`` no longer depends on ``h, w`` and one module serves any input size (112 px and 224 px clips,
    multi-scale training). On a ``(2 g_h, 2 g_w)`` map it computes exactly Eq. 1.

    The authors' released code differs from Eqs. 1-3 in four places, each an option here (the defaults are the
    paper's): its temporal tokens (``token_encoder``, e.g.
    [`GridTokens`][lifting_dfer.authors.GridTokens]), the correlation scale ``1 / c`` (``correlation_scale``),
    offset layers without bias (``offset_bias=False``) and the frame positions its ``grid_sample`` reads
    (``index_convention="grid_sample"``); [`ifdd_3dvit_authors`][lifting_dfer.authors.ifdd_3dvit_authors] sets
    all four.

    Shape:
        - x: ``(b, c, t, h, w)`` with ``c, t`` as built, and ``h, w`` as built unless ``token_grid`` is set;
          or the same axes in ``layout``
        - x_s, x_d: ``(b, c, z, h, w)`` with ``z = t / 2``, in the layout of ``x``
        - i_s, i_d (``return_indices=True``): ``(b, z)`` frame positions

    Args:
        dim: channels ``c`` of ``x``.
        num_frames: frames ``t`` (even); ``b_T`` is a per-frame bias, so the module is built for one ``t``.
        height, width: spatial size of ``x``: needed by Eq. 1, whose ``W_T`` flattens the pooled map; optional
            with ``token_grid`` (then any size is accepted, or only this one when given).
        token_dim: width ``d`` of the temporal tokens (paper: 128).
        compress: channel compression ``D_C`` of the 3x3 conv (``c -> c / D_C``; paper: 1 for 2DCNN, 4 for 3DViT).
        offset_range: ``L``, the largest offset in frames; ``None`` means ``t / 2`` (paper's Table 9 best). The
            authors' released code fixes ``L = 2`` for every ``t``, which is not ``t / 2`` at their ``t = 8``.
        split: ``"adaptive"`` (learned indices) or ``"even_odd"`` (fixed ``x[:, :, 0::2], x[:, :, 1::2]``,
            the "w/o ISSM" ablation); ``"even_odd"`` has no parameters.
        token_grid: ``None`` (Eq. 1: ``AvgPool2d_2``, ``W_T`` sized by ``h, w``) or the ``(g_h, g_w)`` grid (or one
            int) every frame is pooled to before the conv and ``W_T``.
        token_encoder: replaces Eq. 1: a module mapping ``x: (b, c, t, h, w)`` to the temporal tokens
            ``Z: (b, t, d)``; ``None`` builds Eq. 1 (``AvgPool2d_2`` or ``token_grid``, 3x3 conv, ``W_T``, ``b_T``,
            LayerNorm). ``height, width`` are then optional, and ``token_dim, compress, token_grid`` unused except
            ``token_dim`` in the default ``correlation_scale``.
        correlation_scale: the factor of ``R = Z Z^T * correlation_scale`` (Eq. 2); ``None`` means
            ``1 / sqrt(token_dim)``. The authors' code uses ``1 / c`` (``1 / dim``).
        offset_bias: biases ``b_S, b_D`` of Eq. 2's offset layers (the authors' code has none).
        index_convention: how ``I_S, I_D`` are read: ``"frames"`` (Eq. 4: frame ``i`` is position ``i``) or
            ``"grid_sample"`` (the authors' code: ``i`` normalised as ``2 i / (t - 1) - 1`` and read by
            ``grid_sample(align_corners=False, padding_mode="border")``, i.e. at position
            ``clamp(i t / (t - 1) - 1/2, 0, t - 1)``; zero offsets then read frames ``0, 1.79, 4.07, 6.36`` and
            ``0.64, 2.93, 5.21, 7`` for ``t = 8``). ``i_s, i_d`` returned are the positions read.
        layout: einops pattern of ``x`` over the axes ``b, c, t, h, w``: ``"b c t h w"`` (PyTorch's video
            layout), ``"b t h w c"`` (channels last), ``"b (t h w) c"`` (tokens), ``"(b t) c h w"`` or
            ``"(b t) (h w) c"`` (per-frame features); ``x_s, x_d`` come back in it. The module's sizes tell a
            grouped axis apart from the others (``"(h w)"`` needs ``height`` or ``width``).

    Use [`LazyISSM`][lifting_dfer.LazyISSM] to take ``dim, num_frames, height, width`` from the first input.

    Examples:
        >>> issm = ISSM(64, num_frames=8, height=14, width=14)
        >>> x_s, x_d, (i_s, i_d) = issm(torch.randn(2, 64, 8, 14, 14), return_indices=True)
        >>> x_s.shape, i_s[0].tolist(), i_d[0].tolist()
        (torch.Size([2, 64, 4, 14, 14]), [0.0, 2.0, 4.0, 6.0], [1.0, 3.0, 5.0, 7.0])
        >>> any_size = ISSM(64, num_frames=8, token_grid=7, layout="b t h w c")
        >>> [any_size(torch.randn(2, 8, s, s, 64))[0].shape for s in (14, 28)]
        [torch.Size([2, 4, 14, 14, 64]), torch.Size([2, 4, 28, 28, 64])]
    """

    even: Tensor  # buffer: the even frame positions 0, 2, ..., t - 2 (the "w/o ISSM" split)

    def __init__(
        self,
        dim: int,
        num_frames: int,
        height: int | None = None,
        width: int | None = None,
        *,
        token_dim: int = 128,
        compress: int = 1,
        offset_range: float | None = None,
        split: Literal["adaptive", "even_odd"] = "adaptive",
        token_grid: int | tuple[int, int] | None = None,
        token_encoder: nn.Module | None = None,
        correlation_scale: float | None = None,
        offset_bias: bool = True,
        index_convention: Literal["frames", "grid_sample"] = "frames",
        layout: str = "b c t h w",
    ) -> None:
        super().__init__()
        check_even_frames(num_frames, "num_frames")
        grid = (token_grid, token_grid) if isinstance(token_grid, int) else token_grid
        if grid is not None and (len(grid) != 2 or min(grid) < 1):
            raise ValueError(f"token_grid: expected None or a positive size (g_h, g_w), got {token_grid}")
        if index_convention not in ("frames", "grid_sample"):
            raise ValueError(f"index_convention: expected 'frames' or 'grid_sample', got {index_convention!r}")
        if correlation_scale is not None and not correlation_scale > 0:
            raise ValueError(f"correlation_scale: expected a positive factor or None, got {correlation_scale}")
        if token_encoder is not None and split == "even_odd":
            raise ValueError("token_encoder: the even/odd split has no tokens; use split='adaptive'")
        own_tokens = token_encoder is None and split == "adaptive"
        pooled = grid
        if own_tokens and grid is None:
            if height is None or width is None:
                raise ValueError(
                    f"height, width: Eq. 1's W_T flattens the pooled (h/2, w/2) map, so ISSM needs both, got "
                    f"{height} and {width}; or pass token_grid=(7, 7) for any size, or use LazyISSM"
                )
            pooled = (height // 2, width // 2)
        sizes = (("dim", dim), ("height", height), ("width", width), ("token_dim", token_dim))
        for name, value in sizes:
            if value is not None and value < 1:
                raise ValueError(f"{name}: expected a positive size, got {value}")
        if own_tokens and grid is None and pooled is not None and min(pooled) < 1:
            raise ValueError(f"height, width: AvgPool2d_2 needs a spatial size >= 2, got {height}x{width}")
        if compress < 1 or dim % compress:
            raise ValueError(f"compress: expected a positive divisor of dim={dim}, got {compress}")
        if split not in ("adaptive", "even_odd"):
            raise ValueError(f"split: expected 'adaptive' or 'even_odd', got {split!r}")
        self.layout = Layout(layout, "b c t h w")
        self.layout.require({"c", "t"} | {a for a, v in (("h", height), ("w", width)) if v is not None}, _ARGUMENTS)
        self.dim, self.num_frames, self.height, self.width = dim, num_frames, height, width
        self.token_dim, self.compress, self.split, self.token_grid = token_dim, compress, split, grid
        self.correlation_scale = None if correlation_scale is None else float(correlation_scale)
        self.offset_bias, self.index_convention = offset_bias, index_convention
        self.offset_range = float(num_frames // 2 if offset_range is None else offset_range)
        if self.offset_range < 0:
            raise ValueError(f"offset_range: expected L >= 0, got {offset_range}")

        z = num_frames // 2
        self.register_buffer("even", torch.arange(0, num_frames, 2, dtype=torch.float32), persistent=False)
        self.token_encoder = token_encoder
        if split == "even_odd":
            return
        if own_tokens and pooled is not None:  # (pooled is the grid, or (h/2, w/2) checked above)
            # Eq. 1: per-frame pool and conv, then a linear map of the flattened (c, h, w) map to a d-wide token.
            self.pool = nn.AvgPool2d(2) if grid is None else nn.AdaptiveAvgPool2d(grid)
            self.conv = nn.Conv2d(dim, dim // compress, kernel_size=3, padding=1)
            self.to_token = nn.Linear((dim // compress) * pooled[0] * pooled[1], token_dim, bias=False)
            self.token_bias = nn.Parameter(torch.zeros(num_frames, token_dim))
            self.norm = nn.LayerNorm(token_dim)
        # Eq. 2: (t*t) correlation weights -> z offsets per group.
        self.to_static = nn.Linear(num_frames * num_frames, z, bias=offset_bias)
        self.to_dynamic = nn.Linear(num_frames * num_frames, z, bias=offset_bias)
        for layer in (self.to_static, self.to_dynamic):
            nn.init.zeros_(layer.weight)
            if offset_bias:
                nn.init.zeros_(layer.bias)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_frames={self.num_frames}, height={self.height}, width={self.width}, "
            f"token_dim={self.token_dim}, compress={self.compress}, offset_range={self.offset_range:g}, "
            f"split={self.split!r}"
            + (f", token_grid={self.token_grid}" if self.token_grid is not None else "")
            + (f", correlation_scale={self.correlation_scale:.4g}" if self.correlation_scale is not None else "")
            + (", offset_bias=False" if not self.offset_bias else "")
            + (f", index_convention={self.index_convention!r}" if self.index_convention != "frames" else "")
            + (f", layout={self.layout}" if not self.layout.identity else "")
        )

    __prepare_scriptable__ = refuse_scripting

    def indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Eqs. 1-3: static and dynamic frame positions ``i_s, i_d: (b, z)`` for ``x`` (in the module's layout)."""
        return self._indices(self._enter(x)[0])

    def _enter(self, x: Tensor) -> tuple[Tensor, dict[str, int]]:
        """``x`` checked and in ISSM's own layout ``b c t h w``; the sizes of its axes."""
        dtype = self.to_static.weight.dtype if self.split == "adaptive" else None
        pins = {"c": self.dim, "t": self.num_frames, "h": self.height, "w": self.width}
        return self.layout.enter(x, "x", dtype=dtype, dtype_of="ISSM's parameters", **pins)

    def _indices(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, t = x.shape[0], self.num_frames
        dtype = torch.promote_types(x.dtype, torch.float32)  # positions stay float32 under fp16/bf16
        even = self.even.to(dtype).expand(b, -1)
        if self.split == "even_odd":
            return even, even + 1
        if self.token_encoder is None:
            frames = rearrange(x, "b c t h w -> (b t) c h w")
            tokens = rearrange(self.conv(self.pool(frames)), "(b t) c h w -> b t (c h w)", t=t)
            tokens = self.norm(self.to_token(tokens) + self.token_bias)  # Eq. 1: (b, t, d)
        else:
            tokens = self.token_encoder(x)
        corr = tokens @ tokens.transpose(1, 2)  # Eq. 2: R (b, t, t)
        corr = corr / math.sqrt(self.token_dim) if self.correlation_scale is None else corr * self.correlation_scale
        a_s = torch.tanh(self.to_static(corr.softmax(dim=-1).flatten(1))).to(dtype)
        a_d = torch.tanh(self.to_dynamic((-corr).softmax(dim=-1).flatten(1))).to(dtype)
        i_s, i_d = even + self.offset_range * a_s, even + 1 + self.offset_range * a_d  # Eq. 3
        if self.index_convention == "grid_sample":  # where grid_sample(align_corners=False) reads 2i/(t-1) - 1
            i_s, i_d = i_s * (t / (t - 1)) - 0.5, i_d * (t / (t - 1)) - 0.5
        return i_s.clamp(0, t - 1), i_d.clamp(0, t - 1)

    def forward(self, x: Tensor, return_indices: bool = False):
        """``x: (b, c, t, h, w) -> (x_s, x_d)``, or ``(x_s, x_d, (i_s, i_d))`` with ``return_indices``."""
        x, sizes = self._enter(x)
        i_s, i_d = self._indices(x)
        if self.split == "even_odd":
            x_s, x_d = x[:, :, 0::2], x[:, :, 1::2]
        else:
            x_s, x_d = interpolate_frames(x, i_s), interpolate_frames(x, i_d)  # Eq. 4
        z = self.num_frames // 2
        x_s, x_d = self.layout.leave(x_s, sizes, t=z), self.layout.leave(x_d, sizes, t=z)
        return (x_s, x_d, (i_s, i_d)) if return_indices else (x_s, x_d)


class LazyISSM(LazyModuleMixin, ISSM):
    r"""An [`ISSM`][lifting_dfer.ISSM] that takes the sizes it is not given from its first input.

    As ``nn.LazyLinear`` does: the parameters are ``UninitializedParameter`` until the first forward, which reads
    ``c, t`` (and ``h, w`` unless ``token_grid`` is set) from the input in ``layout``, checks the sizes that were
    given, initialises the parameters in place (an optimizer made before holds them) and turns the module into an
    [`ISSM`][lifting_dfer.ISSM]: from then on it is one (same class, state dict, ``torch.compile``,
    ``torch.export``, tracing), built for those sizes and rejecting others with ISSM's errors.

    Until then it has no sizes: run one input through the model (a dry run) before ``load_state_dict``,
    ``state_dict``, counting parameters or wrapping in ``DistributedDataParallel``, as for torch's lazy modules.
    ``torch.compile`` of an uninitialised model works (dynamo runs the first input through it first).

    Args:
        dim, num_frames, height, width: ISSM's sizes; each one given is checked on the first input, each one
            left ``None`` is read from it. A grouped axis needs the other sizes of its group (``layout="(b t) c h w"``
            needs ``num_frames``).
        token_dim, compress, offset_range, split, token_grid, layout: as for [`ISSM`][lifting_dfer.ISSM].

    Examples:
        >>> issm = LazyISSM(compress=4)
        >>> x_s, x_d = issm(torch.randn(2, 256, 4, 14, 14))
        >>> type(issm).__name__, issm.dim, issm.num_frames, issm.height, issm.width, x_s.shape
        ('ISSM', 256, 4, 14, 14, torch.Size([2, 256, 2, 14, 14]))
    """

    cls_to_become = ISSM

    def __init__(
        self,
        dim: int | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        *,
        token_dim: int = 128,
        compress: int = 1,
        offset_range: float | None = None,
        split: Literal["adaptive", "even_odd"] = "adaptive",
        token_grid: int | tuple[int, int] | None = None,
        layout: str = "b c t h w",
    ) -> None:
        settings: dict[str, Any] = {"token_dim": token_dim, "compress": compress, "offset_range": offset_range, "split": split,
                    "token_grid": token_grid, "layout": layout}  # fmt: skip
        # ISSM's checks of what is given, and its layers at stand-in sizes; their parameters wait for the input.
        stand_in = 2 if token_grid is None else None
        super().__init__(
            compress if dim is None else dim,
            2 if num_frames is None else num_frames,
            stand_in if height is None else height,
            stand_in if width is None else width,
            **settings,
        )
        given = {"c": dim, "t": num_frames, "h": height, "w": width}
        self.layout.require({axis for axis, size in given.items() if size is not None}, _ARGUMENTS)
        self.dim, self.num_frames, self.height, self.width = dim, num_frames, height, width  # type: ignore[assignment]  # None until the first input
        self._settings = settings
        for module in self.modules():
            for name, param in module._parameters.items():
                if param is not None:
                    # torch's stub gives UninitializedParameter Tensor's constructor and no Parameter base
                    module._parameters[name] = UninitializedParameter(param.requires_grad, param.device, param.dtype)  # type: ignore[call-arg, arg-type, assignment]

    def __repr__(self) -> str:  # its layers have stand-in sizes until the first input: show the settings only
        settings = ", ".join(f"{key}={value!r}" for key, value in self._settings.items())
        sizes = f"dim={self.dim}, num_frames={self.num_frames}, height={self.height}, width={self.width}"
        return f"LazyISSM({sizes}, {settings})"

    def initialize_parameters(self, x: Tensor, *args: object, **kwargs: object) -> None:
        """Read the sizes from ``x``, build the ISSM they define and take over its layers and initial values."""
        given = {"c": self.dim, "t": self.num_frames, "h": self.height, "w": self.width}
        sizes = check_shape(x, self.layout.pattern, "x", **given)
        spatial = (sizes["h"], sizes["w"]) if self._settings["token_grid"] is None else (self.height, self.width)
        try:
            with torch.device(self.even.device):
                eager = ISSM(sizes["c"], sizes["t"], *spatial, **self._settings)
        except ValueError as error:
            raise ValueError(f"x: {error} (sizes read from x, shape {tuple(x.shape)})") from None
        eager.even = eager.even.to(self.even.dtype)
        with torch.no_grad():
            for name, param in eager.named_parameters():
                placeholder = cast(UninitializedParameter, self.get_parameter(name))  # made so in __init__
                placeholder.materialize(param.shape)
                placeholder.copy_(param)
                owner, _, leaf = name.rpartition(".")
                setattr(eager.get_submodule(owner), leaf, placeholder)
        for key in ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules"):
            self.__dict__[key] = eager.__dict__[key]
        self.__dict__.update((k, v) for k, v in vars(eager).items() if not k.startswith("_") and k != "training")
        self.train(self.training)
        del self._settings

    def _lazy_load_hook(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(
            "LazyISSM: load_state_dict before the first input: the sizes come from the input; run one input through "
            "the model first (a dry run), or build ISSM(dim, num_frames, height, width)"
        )
