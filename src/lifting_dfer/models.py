"""Model builders (IFDD-2DCNN, IFDD-3DViT and their MLP-head baselines) and a name registry.

Every builder has the signature ``(num_classes=7, num_frames=16, pretrained=None, **overrides)``:

- ``pretrained``: backbone weights: ``None`` (from scratch); ``True`` for the paper's (ImageNet
  ``"timm/mobilenetv2_100.ra_in1k"`` for the 2D CNN, Kinetics-400 ``"MViT_V2_S_Weights.KINETICS400_V1"`` for the
  3D ViT; [`paper_weights`][lifting_dfer.models.paper_weights]), downloaded into the timm / torchvision cache on
  first use as ``timm.create_model(..., pretrained=True)`` and torchvision's builders do; or a weights file or
  another weights name (see [`resolve_weights`][lifting_dfer.backbones.resolve_weights]).
- ``overrides``: backbone settings (``image_size``, and ``frame_stride`` / ``out_indices`` for MobileNetV2,
  ``depths`` / ``out_stages`` / ``stochastic_depth_prob`` for MViT) and the model's own keyword arguments
  ([`IFDD`][lifting_dfer.IFDD]: ``dim``, ``compress``, ``mlp_ratio``, ``use_issm``, ...;
  [`MLPBaseline`][lifting_dfer.MLPBaseline]: ``hidden``, ``dropout``).

Checkpoints rebuild models with ``create_model(arch, **arch_kwargs)``. Every built model records its name and
builder arguments in ``model.lifting_dfer_config`` (``{"arch": ..., "arch_kwargs": ...}``, ``pretrained`` left out),
which [`save_pretrained`][lifting_dfer.save_pretrained] writes to ``config.json``.

Examples:
    >>> list_models()
    ['baseline_2dcnn', 'baseline_3dvit', 'ifdd_2dcnn', 'ifdd_3dvit', 'ifdd_3dvit_authors']
    >>> ifdd_2dcnn(num_frames=4, image_size=64).lifting_dfer_config
    {'arch': 'ifdd_2dcnn', 'arch_kwargs': {'num_classes': 7, 'num_frames': 4, 'image_size': 64}}
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from torch import nn

from .backbones import MobileNetV2Features, MViTFeatures
from .baseline import MLPBaseline
from .ifdd import IFDD
from .normalization import IMAGENET, Normalization

__all__ = [
    "baseline_2dcnn",
    "baseline_3dvit",
    "create_model",
    "ifdd_2dcnn",
    "ifdd_3dvit",
    "input_normalization",
    "list_models",
    "paper_weights",
]

Pretrained = str | os.PathLike | bool | None

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}

_MOBILENET_WEIGHTS = "timm/mobilenetv2_100.ra_in1k"  # ImageNet-1k, as in the paper
_MVIT_WEIGHTS = "MViT_V2_S_Weights.KINETICS400_V1"  # Kinetics-400, as in the paper
_PAPER_WEIGHTS = {
    "ifdd_2dcnn": _MOBILENET_WEIGHTS,
    "baseline_2dcnn": _MOBILENET_WEIGHTS,
    "ifdd_3dvit": _MVIT_WEIGHTS,
    "baseline_3dvit": _MVIT_WEIGHTS,
}

_MOBILENET_KEYS = ("frame_stride", "out_indices", "model_name")
_MVIT_KEYS = ("depths", "out_stages", "stochastic_depth_prob")

_P = ParamSpec("_P")
_M = TypeVar("_M", bound=nn.Module)

_NORMALIZATION: dict[str, Normalization] = {}


def _register(fn: Callable[_P, _M] | None = None, *, normalization: Normalization = IMAGENET) -> Any:
    """Add ``fn`` to the registry (as ``@_register``, or ``@_register(normalization=...)`` for models whose input
    is not ImageNet-normalised); the models it builds record ``lifting_dfer_config`` (module docstring)."""

    def register(fn: Callable[_P, _M]) -> Callable[_P, _M]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: _P.args, **kwargs: _P.kwargs) -> _M:
            model = fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            overrides = arguments.pop("overrides", {})
            arch_kwargs = {**arguments, **overrides}
            arch_kwargs.pop("pretrained", None)  # the backbone's starting weights; a saved model holds all its weights
            record_config(model, {"arch": fn.__name__, "arch_kwargs": arch_kwargs})
            return model

        _BUILDERS[fn.__name__] = build
        _NORMALIZATION[fn.__name__] = normalization
        return build

    return register(fn) if fn is not None else register


def record_config(model: nn.Module, config: dict[str, Any]) -> None:
    """Set ``model.lifting_dfer_config`` (a plain attribute: not in the state dict, kept by ``copy.deepcopy``)."""
    vars(model)["lifting_dfer_config"] = config  # what nn.Module.__setattr__ does for a plain value


def _split(overrides: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: overrides.pop(k) for k in keys if k in overrides}


def _mobilenet(num_frames: int, pretrained: Pretrained, overrides: dict[str, Any]) -> MobileNetV2Features:
    kwargs = _split(overrides, _MOBILENET_KEYS)
    weights = _MOBILENET_WEIGHTS if pretrained is True else (pretrained or None)
    return MobileNetV2Features(num_frames, pretrained=weights, **kwargs)


def _mvit(num_frames: int, pretrained: Pretrained, overrides: dict[str, Any], **defaults: Any) -> MViTFeatures:
    kwargs = {**defaults, **_split(overrides, _MVIT_KEYS)}
    weights = _MVIT_WEIGHTS if pretrained is True else (pretrained or None)
    return MViTFeatures(num_frames, overrides.get("image_size", 224), pretrained=weights, **kwargs)


@_register
def ifdd_2dcnn(num_classes: int = 7, num_frames: int = 16, pretrained: Pretrained = None, **overrides: Any) -> IFDD:
    """IFDD-2DCNN: per-frame timm MobileNetV2 (strides 4/8/16, temporal stride 2), ``C = 128``, ``D_C = 1``.

    Examples:
        >>> import torch
        >>> model = ifdd_2dcnn(num_frames=4, image_size=64).eval()
        >>> model(torch.randn(1, 3, 4, 64, 64)).shape
        torch.Size([1, 7])
    """
    backbone = _mobilenet(num_frames, pretrained, overrides)
    settings = {"dim": 128, "compress": 1, "token_dim": 128, "mlp_ratio": 4.0, **overrides}
    return IFDD(backbone, num_classes=num_classes, **settings)


@_register
def ifdd_3dvit(num_classes: int = 7, num_frames: int = 16, pretrained: Pretrained = None, **overrides: Any) -> IFDD:
    """IFDD-3DViT: MViT-v2-S with stage 3 cut to 5 blocks, stages 3-4 aggregated to ``C = 768``, ``D_C = 4``.

    LADM's MLP ratio defaults to 3 (the paper gives none; this reproduces Table 12's size, see
    ``docs/models.md``).
    """
    backbone = _mvit(num_frames, pretrained, overrides, out_stages=(3, 4))
    settings = {"dim": 768, "compress": 4, "token_dim": 128, "mlp_ratio": 3.0, **overrides}
    return IFDD(backbone, num_classes=num_classes, **settings)


@_register
def baseline_2dcnn(
    num_classes: int = 7, num_frames: int = 16, pretrained: Pretrained = None, **overrides: Any
) -> MLPBaseline:
    """MobileNetV2 baseline: the IFDD-2DCNN backbone's last stage, frames concatenated, MLP (hidden 1280).

    Examples:
        >>> import torch
        >>> model = baseline_2dcnn(num_frames=4, image_size=64).eval()
        >>> model(torch.randn(1, 3, 4, 64, 64)).shape
        torch.Size([1, 7])
    """
    backbone = _mobilenet(num_frames, pretrained, overrides)
    return MLPBaseline(backbone, num_classes=num_classes, **{"hidden": 1280, **overrides})


@_register
def baseline_3dvit(
    num_classes: int = 7, num_frames: int = 16, pretrained: Pretrained = None, **overrides: Any
) -> MLPBaseline:
    """MViT baseline: the IFDD-3DViT backbone's stage 4, frames concatenated, MLP (hidden 128)."""
    backbone = _mvit(num_frames, pretrained, overrides, out_stages=(4,))
    return MLPBaseline(backbone, num_classes=num_classes, **{"hidden": 128, **overrides})


def paper_weights(name: str) -> str:
    """The backbone weights ``pretrained=True`` loads for model ``name``.

    Examples:
        >>> paper_weights("ifdd_2dcnn"), paper_weights("ifdd_3dvit")
        ('timm/mobilenetv2_100.ra_in1k', 'MViT_V2_S_Weights.KINETICS400_V1')
    """
    if name not in _PAPER_WEIGHTS:
        raise ValueError(f"name: unknown model {name!r}; available: {', '.join(list_models())}")
    return _PAPER_WEIGHTS[name]


def input_normalization(name: str) -> Normalization:
    """The input normalisation model ``name`` is built for (its clips' mean and std; ImageNet's but for the authors'
    form, which takes RGB in ``[0, 1]``).

    Examples:
        >>> input_normalization("ifdd_2dcnn").std, input_normalization("ifdd_3dvit_authors").std
        ((0.229, 0.224, 0.225), (1.0, 1.0, 1.0))
    """
    if name not in _BUILDERS:
        raise ValueError(f"name: unknown model {name!r}; available: {', '.join(list_models())}")
    return _NORMALIZATION[name]


def list_models(pattern: str | None = None) -> list[str]:
    """Names accepted by [`create_model`][lifting_dfer.create_model], sorted; those matching the ``fnmatch``
    ``pattern`` when given (``"ifdd*"``, ``"*_2dcnn"``), as ``timm.list_models`` does.

    Examples:
        >>> list_models("ifdd*")
        ['ifdd_2dcnn', 'ifdd_3dvit', 'ifdd_3dvit_authors']
        >>> list_models("*_2dcnn")
        ['baseline_2dcnn', 'ifdd_2dcnn']
    """
    if pattern is not None and not isinstance(pattern, str):
        raise TypeError(f"pattern: expected an fnmatch pattern such as 'ifdd*', got {type(pattern).__name__}")
    names = sorted(_BUILDERS)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model by name: ``create_model("ifdd_2dcnn", num_classes=7, num_frames=16, dim=128)``.

    Examples:
        >>> create_model("ifdd_4dcnn")
        Traceback (most recent call last):
        ...
        ValueError: name: unknown model 'ifdd_4dcnn'; available: baseline_2dcnn, baseline_3dvit, ifdd_2dcnn, ifdd_3dvit, ifdd_3dvit_authors
    """
    if name not in _BUILDERS:
        raise ValueError(f"name: unknown model {name!r}; available: {', '.join(list_models())}")
    return _BUILDERS[name](**kwargs)
