"""Eval-only speed-ups for inference: BatchNorm folded into the convolution before it, precision selection.

[`fold_batchnorm`][lifting_dfer.video.fastpath.fold_batchnorm] finds, by running the module once, every BatchNorm whose
input is the output of a convolution and replaces the pair by one convolution with ``w' = w * gamma / sqrt(var + eps)``
and ``b' = (b - mean) * gamma / sqrt(var + eps) + beta`` (exact in real arithmetic; float rounding differs by about 1e-6
relative). The folded copy is checked against the original on the example input and discarded when they differ.
Channels-last memory format is applied by the caller (``module.to(memory_format=torch.channels_last)``).
"""

from __future__ import annotations

import copy
import logging
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["Precision", "fold_batchnorm", "native_bf16", "resolve_precision"]

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "auto"]
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _outputs(out: object) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _outputs(o)]
    return []


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


def fold_batchnorm(module: nn.Module, *example: Tensor, rtol: float = 1e-4) -> tuple[nn.Module, int]:
    """A copy of ``module`` (eval mode) with each conv -> BatchNorm pair folded into one conv; ``(copy, pairs)``.

    A pair is folded when, in one forward pass on ``example``, the BatchNorm's input is exactly the tensor the
    convolution returned. A BatchNorm that carries an activation (timm's ``BatchNormAct2d``) keeps it. The copy
    is returned only when its outputs equal the original's on ``example`` to ``rtol`` (relative to each output's
    largest magnitude); otherwise ``(unfolded copy, 0)``.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
        >>> folded, pairs = fold_batchnorm(net, torch.randn(1, 3, 8, 8))
        >>> pairs, [type(m).__name__ for m in folded]
        (1, ['Conv2d', 'Identity', 'ReLU'])
    """
    original = module.eval()
    folded = copy.deepcopy(original)
    produced: dict[int, tuple[str, Tensor]] = {}  # id -> (conv name, output): holding the output keeps ids unique
    pairs: list[tuple[str, str]] = []
    hooks = []
    for name, sub in folded.named_modules():
        if isinstance(sub, _CONVS):
            hooks.append(sub.register_forward_hook(lambda m, i, o, n=name: produced.__setitem__(id(o), (n, o))))
        elif isinstance(sub, _NORMS):

            def record(m, inputs, output, n=name):
                if id(inputs[0]) in produced:
                    pairs.append((produced[id(inputs[0])][0], n))

            hooks.append(sub.register_forward_hook(record))
    try:
        with torch.no_grad():
            reference = _outputs(original(*example))
            folded(*example)
    finally:
        for hook in hooks:
            hook.remove()
        produced.clear()
    for conv_name, norm_name in dict.fromkeys(pairs):  # a module called twice is listed once
        conv, norm = folded.get_submodule(conv_name), folded.get_submodule(norm_name)
        if not isinstance(conv, _CONVS) or not isinstance(norm, _NORMS):  # as the hooks found them; for the types
            continue
        if not norm.track_running_stats or norm.running_mean is None:
            continue
        _replace(folded, conv_name, fuse_conv_bn_eval(conv, norm))
        after = [m for m in (getattr(norm, "drop", None), getattr(norm, "act", None)) if m is not None]
        _replace(folded, norm_name, nn.Sequential(*after) if after else nn.Identity())
    with torch.no_grad():
        outputs = _outputs(folded(*example))
    same = len(outputs) == len(reference) and all(
        a.shape == b.shape and (a - b).abs().max() <= rtol * b.abs().max().clamp_min(1e-12)
        for a, b in zip(outputs, reference)
    )
    if not same:
        logger.warning("folding BatchNorm changed %s's outputs; keeping it unfolded", type(module).__name__)
        return copy.deepcopy(original), 0
    return folded, len(dict.fromkeys(pairs))


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX-512 BF16 / AMX.

    Examples:
        >>> native_bf16("meta")
        False
    """
    device = torch.device(device)
    if device.type == "cuda":  # not counting emulation (pre-Ampere GPUs run bf16 through float32 kernels)
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":  # AVX-512 without its BF16 extension emulates bf16: slower than fp32
        return bool(
            torch.backends.mkldnn.is_available()
            and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        )
    return False


def resolve_precision(precision: Precision, device: torch.device | str) -> Literal["fp32", "bf16"]:
    """``"auto"`` becomes ``"bf16"`` where [`native_bf16`][lifting_dfer.video.fastpath.native_bf16], else ``"fp32"``;
    the others are checked.

    bf16 runs the backbone under ``torch.autocast``; the class probabilities stay within 0.02 of fp32 on the test
    suite's clips (``tests/test_video_pipeline.py``). Asking for bf16 where it is emulated raises.
    """
    if precision not in ("fp32", "bf16", "auto"):
        raise ValueError(f"precision: expected fp32, bf16 or auto, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "bf16" and not native_bf16(device):
        raise ValueError(f"precision: bf16 needs native bfloat16 support, which {torch.device(device)} lacks; use fp32")
    return precision
