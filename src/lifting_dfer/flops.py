"""Parameter and multiply-accumulate counts of a model, as DFER papers report them ("GFLOPs" = GMACs).

[`count_macs`][lifting_dfer.flops.count_macs] runs one forward pass under `torch.utils.flop_counter.FlopCounterMode` and
halves its FLOP count (one multiply-accumulate = 2 FLOPs), so its "GFLOPs" follow the fvcore multiply-accumulate
convention of video papers. It reports two numbers:

- ``macs``: every matrix product and convolution, including the activation-activation products of attention
  (``q k^T``, ``attn v``, ``scaled_dot_product_attention``, MViT's relative-position einsums);
- ``layer_macs``: only the products with a weight, i.e. convolutions and linear layers (the ``aten.convolution``,
  ``aten.mm`` and ``aten.addmm`` kernels);
- ``norm_elements``: elements entering a BatchNorm / LayerNorm / GroupNorm module.

[`Complexity.thop_gmacs`][lifting_dfer.flops.Complexity.thop_gmacs] combines the last two as the module-hook counter
thop does: conv and linear MACs plus 4 operations per element of an affine normalisation layer, and nothing for
functional calls (attention matmuls, activations). This is the convention of IFDD's Table 12: it gives the paper's MViT
baseline to the third digit (32.83) and its MobileNetV2 baseline within 1% (see ``docs/models.md``).

Counting on the ``meta`` device (``device="meta"``) builds nothing in memory and takes about a second even for a
16x224x224 clip through a video transformer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["Complexity", "count_macs", "count_params", "model_complexity"]

# FlopCounterMode's op names for products with a weight (conv and linear layers); everything else it counts
# (bmm, baddbmm, scaled_dot_product_attention variants) multiplies two activations.
_LAYER_OPS = ("convolution", "mm", "addmm", "_convolution", "conv")


class Complexity(NamedTuple):
    """Size and cost of one forward pass (see the module docstring for the three counts)."""

    params: int
    macs: int
    layer_macs: int
    norm_elements: int

    @property
    def params_m(self) -> float:
        """Parameters in millions."""
        return self.params / 1e6

    @property
    def gmacs(self) -> float:
        """All multiply-accumulates in billions ("GFLOPs" in the fvcore convention)."""
        return self.macs / 1e9

    @property
    def layer_gmacs(self) -> float:
        """Multiply-accumulates of conv and linear layers only, in billions."""
        return self.layer_macs / 1e9

    @property
    def thop_gmacs(self) -> float:
        """thop's count in billions: conv / linear MACs + 4 per normalised element (Table 12's convention)."""
        return (self.layer_macs + 4 * self.norm_elements) / 1e9


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once).

    Examples:
        >>> count_params(nn.Linear(10, 3))
        33
    """
    seen: dict[int, int] = {}
    for p in model.parameters():
        if not trainable_only or p.requires_grad:
            seen[id(p)] = p.numel()
    return sum(seen.values())


def _op_name(op: object) -> str:
    name = getattr(op, "__name__", str(op))  # OpOverloadPacket "aten.mm" -> "mm"
    return name.split(".")[-1]


def _detach(x: object) -> object:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, (list, tuple)):
        return type(x)(_detach(v) for v in x)
    return x


_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


@torch.no_grad()
def count_macs(model: Callable[..., object], *inputs: torch.Tensor) -> tuple[int, int, int]:
    """Counts of ``model(*inputs)``: ``(macs, layer_macs, norm_elements)`` (see the module docstring).

    Examples:
        >>> count_macs(nn.Linear(10, 3), torch.randn(4, 10))
        (120, 120, 0)
        >>> attn = lambda q: torch.softmax(q @ q.transpose(1, 2), -1) @ q  # functional: no weight layer
        >>> count_macs(attn, torch.randn(1, 5, 8))
        (400, 0, 0)
        >>> count_macs(nn.LayerNorm(8), torch.randn(2, 5, 8))
        (0, 0, 80)
    """
    # Detached inputs: FlopCounterMode's module tracker fails on grad-requiring tensors under no_grad.
    detached = [_detach(x) for x in inputs]
    norm_elements = 0

    def count_norm(module: nn.Module, args: tuple, output: object) -> None:
        nonlocal norm_elements
        norm_elements += args[0].numel()

    modules = model.modules() if isinstance(model, nn.Module) else ()
    hooks = [m.register_forward_hook(count_norm) for m in modules if isinstance(m, _NORMS)]
    try:
        # The math backend decomposes attention into counted bmm's on every device (FlopCounterMode has no
        # formula for the fused CPU kernel, so counting on CPU would otherwise miss attention).
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(*detached)
    finally:
        for hook in hooks:
            hook.remove()
    totals = counter.get_flop_counts().get("Global", {})
    flops = sum(totals.values())
    layer_flops = sum(v for op, v in totals.items() if _op_name(op) in _LAYER_OPS)
    return int(flops // 2), int(layer_flops // 2), norm_elements


def model_complexity(
    build: Callable[[], nn.Module] | nn.Module,
    input_shape: Sequence[int] = (1, 3, 16, 224, 224),
    *,
    device: str | torch.device = "meta",
) -> Complexity:
    """Parameters and MACs of one forward pass in eval mode on a float32 input of ``input_shape``.

    Args:
        build: a model, or a zero-argument callable that builds one (it is then built on ``device``, so
            ``device="meta"`` allocates nothing).
        input_shape: the clip shape, ``(b, 3, t, h, w)`` for the models of this package; use ``b = 1`` for
            per-clip counts.
        device: where the count runs; ``"meta"`` (default) computes shapes only.

    Examples:
        >>> model_complexity(lambda: nn.Conv3d(3, 8, 1), (1, 3, 2, 4, 4))
        Complexity(params=32, macs=768, layer_macs=768, norm_elements=0)
    """
    device = torch.device(device)
    if isinstance(build, nn.Module):
        model = build.to(device)
    else:
        with device:
            model = build()
    was_training = model.training
    model.eval()
    try:
        counts = count_macs(model, torch.zeros(*input_shape, device=device))
    finally:
        model.train(was_training)
    return Complexity(count_params(model), *counts)
