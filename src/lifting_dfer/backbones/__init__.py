"""Backbone adapters for IFDD: any module returning multiscale ``(b, c_j, t, h_j, w_j)`` features.

- [`MultiscaleBackbone`][lifting_dfer.backbones.MultiscaleBackbone]: the contract (stage widths, strides, clip
  validation), to subclass.
- [`MobileNetV2Features`][lifting_dfer.models.MobileNetV2Features]: timm MobileNetV2 per frame + temporal stride 2
  (IFDD-2DCNN).
- [`MViTFeatures`][lifting_dfer.models.MViTFeatures]: torchvision video MViT-v2-S, trimmed (IFDD-3DViT).
- [`resolve_weights`][lifting_dfer.backbones.resolve_weights]: pretrained weights by file or timm / torchvision name,
  downloaded into the standard caches when missing.
"""

from .base import MultiscaleBackbone, last_stage_shape, load_state_dict_file, load_weights
from .hub import ChecksumError, WeightsUnavailableError, resolve_weights
from .mobilenetv2 import MobileNetV2Features
from .mvit import MViTFeatures

__all__ = [
    "ChecksumError",
    "MViTFeatures",
    "MobileNetV2Features",
    "MultiscaleBackbone",
    "WeightsUnavailableError",
    "last_stage_shape",
    "load_state_dict_file",
    "load_weights",
    "resolve_weights",
]
