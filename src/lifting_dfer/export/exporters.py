"""Write a module to an ONNX or TorchScript file, in eval mode, with a dynamic batch axis.

ONNX goes through ``torch.onnx.export(..., dynamo=True)``, the exporter that PyTorch has made its default (2.9)
and maintains: it captures the module with ``torch.export`` and translates the ATen graph with onnxscript's
function library, so it needs ``onnx`` and ``onnxscript`` besides torch (``pip install 'lifting_dfer[onnx]'``).
The older TorchScript-based exporter (``dynamo=False``) is deprecated in torch 2.14 (a ``DeprecationWarning`` on
every call) and cannot translate ``aten::huber_loss``, so [`LiftLoss`][lifting_dfer.LiftLoss] does not export with it;
the dynamo exporter translates every layer and model of the library without a rewrite. Its price is export time
(seconds for a layer, minutes for a full model: ``torch.export`` traces the graph twice and onnxscript optimises
it), paid once. One translation is ours: in-place slice updates (``aten.slice_scatter``) become slices and a
concatenation, which onnxruntime runs much faster than the default transposes and scatter (see
``_slice_scatter_by_concat``).

TorchScript is written by ``torch.jit.trace``: ``torch.jit.script`` cannot compile the library's modules (einops,
keyword-only arguments, timm/torchvision internals), and tracing records exactly the eval-mode graph. The layers
validate shapes in Python; the trace keeps the outcome of those checks for the traced sizes (what torch's
``TracerWarning`` about converting tensors to Python values refers to), and every size but the batch is fixed by
the model anyway. torch 2.14 marks ``torch.jit.trace``, ``save`` and ``load`` as deprecated (``FutureWarning``);
ONNX is the format to prefer for new deployments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor, nn

from .._atomic import write_atomically
from .._optional import optional_import

if TYPE_CHECKING:
    from onnxscript.onnx_types import INT64

__all__ = ["DEFAULT_OPSET", "export_onnx", "export_torchscript"]

DEFAULT_OPSET = 20
"""ONNX opset of the exports: PyTorch's default for ``torch.onnx.export``, run by onnxruntime >= 1.17."""


def _flat_tensors(args: Any) -> list[Tensor]:
    if isinstance(args, Tensor):
        return [args]
    if isinstance(args, (tuple, list)):
        return [t for a in args for t in _flat_tensors(a)]
    raise TypeError(f"args: expected tensors, or tuples/lists of tensors, got {type(args).__name__}")


def _batch_axes(args: Any, batch: Any) -> Any:
    """``args`` with every tensor replaced by ``{0: batch}`` (the ``dynamic_shapes`` of ``torch.export``)."""
    if isinstance(args, Tensor):
        return {0: batch}
    return type(args)(_batch_axes(a, batch) for a in args)


def _check_batch(args: tuple, minimum: int) -> int:
    tensors = _flat_tensors(args)
    if not tensors:
        raise ValueError("args: expected at least one example tensor")
    sizes = [tuple(t.shape) for t in tensors]
    b = sizes[0][0] if sizes[0] else None
    if b is None or any(not s or s[0] != b for s in sizes):
        raise ValueError(f"args: expected every example tensor to have the same batch size on axis 0, got {sizes}")
    if b < minimum:
        raise ValueError(
            f"args: expected an example batch of at least {minimum} (torch.export treats a size-1 axis as a "
            f"constant, so the batch axis would not stay dynamic), got {b}"
        )
    return b


@contextlib.contextmanager
def _eval(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block, each submodule's own mode restored afterwards."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


@contextlib.contextmanager
def _quiet_onnxscript() -> Iterator[None]:
    """onnxscript's graph optimiser logs every node it removes at INFO: WARNING and above only, for the block."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _slice_scatter_by_concat(self: Any, src: Any, dim: int = 0, start: Any = None, end: Any = None, step: Any = 1):
    """``aten.slice_scatter`` with step 1 as ``Concat(self[:start], src, self[start + len(src):])`` along ``dim``.

    ``x[:, :, 1:, 1:] += y`` becomes two ``slice_scatter`` calls; torchvision's MViT does this to add relative
    positions to every attention map. onnxscript's default translation swaps ``dim`` to the front with a
    ``Transpose``, scatters with ``ScatterND`` and transposes back; onnxruntime 1.32 runs those transposes of
    ``(b, heads, n, m)`` attention maps (batch moved last) element by element, 81 % of an IFDD-3DViT window at
    16x224. Slices and a concatenation are plain copies. ``end`` is implied by ``src``'s length along ``dim``
    (``slice_scatter`` requires it); other steps and negative starts keep the default translation.
    """
    from onnxscript import opset18 as op
    from onnxscript.function_libs.torch_lib.ops.core import aten_slice_scatter

    rank = len(self.shape) if getattr(self, "shape", None) is not None else None
    if rank is None or not isinstance(step, int) or step != 1 or (isinstance(start, int) and start < 0):
        return aten_slice_scatter(self, src, dim, start, end, step)
    dim = dim % rank

    def ints(values: list[int]) -> INT64:  # Constant(value_ints=...) is an int64 tensor; its stub says any type
        return cast("INT64", op.Constant(value_ints=values))

    axes = ints([dim])
    if start is None or isinstance(start, int):
        begin = ints([start or 0])
    else:  # a symbolic size
        begin = op.Reshape(cast("INT64", start), ints([1]))
    length = op.Gather(op.Shape(src), axes, axis=0)
    head = op.Slice(self, ints([0]), begin, axes)
    tail = op.Slice(self, op.Add(begin, length), ints([_INT64_MAX]), axes)
    return op.Concat(head, src, tail, axis=dim)


_INT64_MAX = 2**63 - 1


def export_onnx(
    module: nn.Module,
    args: tuple,
    path: str | os.PathLike,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export ``module(*args)`` in eval mode to an ONNX file whose batch axis is dynamic.

    Axis 0 of every input (tensors inside lists count: ``PyramidAggregation``'s stage list becomes one ONNX input
    per stage) and of every output is the symbolic ``batch``; all other sizes are those of ``args``. The file is
    written atomically and holds the weights (no external data file).

    Shape:
        - args: tensors ``(b, ...)`` with the same ``b >= 2``; the file accepts any batch size

    Args:
        module: the module; its train/eval modes are restored afterwards.
        args: example positional arguments (tensors, or lists of tensors).
        path: the ``.onnx`` file to write.
        input_names, output_names: names of the graph's inputs and outputs, flattened in order.
        opset: the ONNX opset (default [`DEFAULT_OPSET`][lifting_dfer.export.DEFAULT_OPSET]).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ImportError: ``onnx`` or ``onnxscript`` is missing (``pip install 'lifting_dfer[onnx]'``).
        ValueError: example tensors without a common batch size of at least 2.
    """
    optional_import("onnx", extra="onnx")
    optional_import("onnxscript", extra="onnx")
    args = tuple(args)
    _check_batch(args, minimum=2)
    dynamic = tuple(_batch_axes(a, torch.export.Dim("batch")) for a in args)
    with _eval(module), _quiet_onnxscript(), warnings.catch_warnings():
        # every input shares the one "batch" dimension, which torch reports once per extra input
        warnings.filterwarnings("ignore", message=r"# The axis name: batch will not be used", category=UserWarning)
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=opset,
            input_names=list(input_names) if input_names is not None else None,
            output_names=list(output_names) if output_names is not None else None,
            dynamic_shapes=dynamic,
            custom_translation_table={torch.ops.aten.slice_scatter.default: _slice_scatter_by_concat},
            verbose=False,
        )
    if program is None:  # only the legacy exporter (dynamo=False) returns nothing
        raise RuntimeError("torch.onnx.export returned no ONNX program")
    return write_atomically(path, lambda tmp: program.save(tmp, external_data=False))


def export_torchscript(module: nn.Module, args: tuple, path: str | os.PathLike) -> Path:
    """Trace ``module(*args)`` in eval mode with ``torch.jit.trace`` and save it (load with ``torch.jit.load``).

    Shape:
        - args: tensors ``(b, ...)``; the traced graph accepts any batch size (the library's layers take ``b``
          from the input), other sizes as traced

    Returns:
        ``path`` as a ``Path`` (written atomically).

    Raises:
        ValueError: example tensors without a common batch size.
    """
    args = tuple(args)
    _check_batch(args, minimum=1)
    with _eval(module), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the shape checks: module docstring
        traced = torch.jit.trace(module, args, check_trace=False)
    return write_atomically(path, lambda tmp: torch.jit.save(traced, tmp))
