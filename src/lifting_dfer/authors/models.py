"""``ifdd_3dvit_authors``: IFDD-3DViT as the authors' released code builds it, from the library's parts."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..backbones import MViTFeatures
from ..backbones.base import last_stage_shape
from ..ifdd import IFDD
from ..issm import ISSM
from ..ladm import LADM
from ..models import Pretrained, _register, _split
from ..normalization import UNIT
from ..pyramid import PyramidAggregation
from .head import BlockPool
from .tokens import GridTokens

__all__ = ["AUTHORS_COMMIT", "ifdd_3dvit_authors", "lifting_parts"]

AUTHORS_COMMIT = "1a1f557"
"""The commit of github.com/CyberPegasus/IFDD the authors' form reproduces."""

_MVIT_WEIGHTS = "MViT_V2_S_Weights.KINETICS400_V1"
_BACKBONE_KEYS = ("depths", "stochastic_depth_prob")


@_register(normalization=UNIT)
def ifdd_3dvit_authors(
    num_classes: int = 7, num_frames: int = 16, pretrained: Pretrained = None, **overrides: Any
) -> IFDD:
    """IFDD-3DViT in the form of the authors' released code (``exps/EXP_IFDD_{DFEW,MAFW}.py`` at ``1a1f557``).

    The same [`IFDD`][lifting_dfer.IFDD] framework and MViT-v2-S backbone as
    [`ifdd_3dvit`][lifting_dfer.ifdd_3dvit], with the parts set as their code computes them:

    - pyramid: no biases, no normalisation (``PyramidAggregation(norm_layer=None, bias=False)``);
    - ISSM: [`GridTokens`][lifting_dfer.authors.GridTokens] (7 x 7 grid, 7 channels), ``R`` scaled by ``1 / c``,
      offset layers without bias, ``L = 2``, positions read as their ``grid_sample`` reads them;
    - LADM: inputs normalised once (``norm="stream"``), biased ``Q, K, V``, value residual, one ``Linear``;
    - pooling: [`BlockPool`][lifting_dfer.authors.BlockPool] (a transformer block, then a learned weighting of the
      196 positions); Dropout(0.5) and the last ``Linear`` as in the paper form.

    Its input is RGB in ``[0, 1]`` (``model.normalization`` is [`UNIT`][lifting_dfer.normalization.UNIT]).
    ``num_frames=32`` (their MAFW model) averages frame pairs after the patch embedding (``temporal_pool=2``),
    so 32 frames give the 8 temporal tokens 16 frames give. Weights: their checkpoints load with
    [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint]; new parameters start as their code
    initialises them. docs/reproduce.md lists every difference from the paper form.

    Args:
        num_classes: ``k`` (7 for DFEW and FERV39k, 11 for MAFW).
        num_frames: ``t0``, 16 (DFEW, FERV39k) or 32 (MAFW); another multiple of ``2 temporal_pool`` builds too.
        pretrained: backbone weights, as for [`ifdd_3dvit`][lifting_dfer.ifdd_3dvit]. Their experiment files
            load none (``load_pretrain`` is never called at that commit); ``True`` loads the paper's Kinetics-400
            weights.
        overrides: ``image_size`` (224), ``temporal_pool`` (2 for 32 frames, else 1), ``offset_range`` (2),
            ``dropout`` (0.5), ``drop_path`` (0.2, in the pooling block), and MViT's ``depths``,
            ``stochastic_depth_prob``.

    Examples:
        >>> model = ifdd_3dvit_authors(num_classes=11, num_frames=32)
        >>> model.backbone.temporal_pool, model.backbone.out_frames, model.pool.num_tokens
        (2, 8, 196)
    """
    temporal_pool = overrides.pop("temporal_pool", 2 if num_frames == 32 else 1)
    image_size = overrides.pop("image_size", 224)
    offset_range = overrides.pop("offset_range", 2.0)
    dropout = overrides.pop("dropout", 0.5)
    drop_path = overrides.pop("drop_path", 0.2)
    backbone_kwargs = _split(overrides, _BACKBONE_KEYS)
    if overrides:
        raise TypeError(f"ifdd_3dvit_authors() got unexpected keyword arguments {sorted(overrides)}")
    weights = _MVIT_WEIGHTS if pretrained is True else (pretrained or None)
    backbone = MViTFeatures(
        num_frames, image_size, out_stages=(3, 4), temporal_pool=temporal_pool, pretrained=weights, **backbone_kwargs
    )
    size, (dim, t, h, w) = last_stage_shape(backbone, image_size)
    parts = lifting_parts(dim, t, h, w, offset_range=offset_range, drop_path=drop_path)
    model = IFDD(
        backbone,
        num_classes=num_classes,
        dim=dim,
        image_size=size,
        dropout=dropout,
        pyramid=PyramidAggregation(backbone.feature_dims, dim, norm_layer=None, bias=False),
        issm=parts["issm"],
        ladm=parts["ladm"],
        pool=parts["pool"],
    )
    _authors_init(model)
    model.normalization = UNIT  # type: ignore[assignment]  # a plain attribute; torch's stub types tensors, modules
    return model


def lifting_parts(
    dim: int, num_frames: int, height: int, width: int, *, offset_range: float = 2.0, drop_path: float = 0.2
) -> dict[str, nn.Module]:
    """The authors' ISSM, LADM and pooling for ``X: (b, dim, num_frames, height, width)``, keyed ``issm``,
    ``ladm``, ``pool`` as [`IFDD`][lifting_dfer.IFDD] takes them, initialised as their code initialises them.

    Examples:
        >>> sorted(lifting_parts(768, 8, 7, 7))
        ['issm', 'ladm', 'pool']
    """
    issm = ISSM(
        dim, num_frames, height, width,
        token_encoder=GridTokens(dim, grid=7, channels=7),
        correlation_scale=1 / dim,
        offset_bias=False,
        offset_range=offset_range,
        index_convention="grid_sample",
    )  # fmt: skip
    for layer in (issm.to_static, issm.to_dynamic):  # their adaptIndexSplit_dotsim's init: trunc_normal(0.03)
        nn.init.trunc_normal_(layer.weight, std=0.03)
    ladm = LADM(dim, heads=8, norm="stream", qkv_bias=True, value_residual=True, projection="linear")
    pool = BlockPool(dim, num_tokens=num_frames // 2 * height * width, heads=8, mlp_ratio=4.0, drop_path=drop_path)
    return {"issm": issm, "ladm": ladm, "pool": pool}


def _authors_init(model: IFDD) -> None:
    """The initial values of the authors' code where they differ from the modules' defaults (besides
    [`lifting_parts`][lifting_dfer.authors.lifting_parts])."""
    nn.init.trunc_normal_(model.classifier.weight, std=0.01)  # headNet: trunc_normal(0.01), zero bias
    nn.init.zeros_(model.classifier.bias)
