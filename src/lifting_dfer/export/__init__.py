"""Deployment: export layers and models to ONNX / TorchScript, and run exported classifiers with onnxruntime.

- [`export_onnx`][lifting_dfer.export.export_onnx] and
  [`export_torchscript`][lifting_dfer.export.export_torchscript]: any module (the layers, the models), in eval
  mode, with a dynamic batch axis.
- [`export_checkpoint`][lifting_dfer.export.export_checkpoint] (``lifting-dfer export``): a checkpoint's model as
  a classifier file ``clip -> (probabilities, logits)`` plus a JSON sidecar
  ([`ExportMetadata`][lifting_dfer.export.ExportMetadata]), verified against PyTorch.
- [`OnnxRuntimeClassifier`][lifting_dfer.export.OnnxRuntimeClassifier]: loads such an ONNX file and its sidecar
  and classifies windows.

ONNX export needs ``onnx`` and ``onnxscript``, the runtime ``onnxruntime``: ``pip install 'lifting_dfer[onnx]'``.
See ``docs/deployment.md``.
"""

from .checkpoint_export import ExportResult, Probabilities, default_output, export_checkpoint
from .exporters import DEFAULT_OPSET, export_onnx, export_torchscript
from .runtime import OnnxRuntimeClassifier
from .sidecar import (
    PARITY_TOLERANCE,
    SIDECAR_FORMAT,
    ExportMetadata,
    file_sha256,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

__all__ = [
    "DEFAULT_OPSET",
    "PARITY_TOLERANCE",
    "SIDECAR_FORMAT",
    "ExportMetadata",
    "ExportResult",
    "OnnxRuntimeClassifier",
    "Probabilities",
    "default_output",
    "export_checkpoint",
    "export_onnx",
    "export_torchscript",
    "file_sha256",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]
