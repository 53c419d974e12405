"""Load the authors' checkpoints (``{'epoch', 'model', 'opt', 'ema'}`` files) into ``ifdd_3dvit_authors``.

Their training script saves ``torch.save({'epoch', 'model', 'opt', 'ema'}, ..._best_train_loss.pth)``, where
``'model'`` is the state dict of their ``MFViT_Main`` (``embed``, ``backbone.backbone`` (MViT),
``backbone.PANLayer`` / ``CatConv`` (pyramid), ``backbone.WaveLifts`` (ISSM, LADM and the pooling block),
``head.head``). [`AUTHORS_KEYS`][lifting_dfer.authors.AUTHORS_KEYS] maps each of their names to ours;
[`AUTHORS_UNUSED`][lifting_dfer.authors.AUTHORS_UNUSED] lists the tensors their forward never reads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from ..checkpoint import save_checkpoint
from ..ifdd import IFDD
from ..normalization import UNIT
from .models import AUTHORS_COMMIT, ifdd_3dvit_authors

__all__ = [
    "AUTHORS_KEYS",
    "AUTHORS_UNUSED",
    "AuthorsCheckpointInfo",
    "authors_state_dict",
    "convert_authors_checkpoint",
    "load_authors_checkpoint",
]

logger = logging.getLogger(__name__)

_LIFT = "backbone.WaveLifts."
AUTHORS_KEYS: tuple[tuple[str, str], ...] = (
    ("embed.conv_proj.", "backbone.conv_proj."),
    ("backbone.backbone.pos_encoding.", "backbone.pos_encoding."),
    ("backbone.backbone.blocks.", "backbone.blocks."),
    ("backbone.backbone.norm.", "backbone.norm."),
    ("backbone.PANLayer.", "pyramid.reduce."),
    ("backbone.CatConv.", "pyramid.project."),
    (_LIFT + "adapt_split.dim_project.0.", "issm.token_encoder.proj."),
    (_LIFT + "adapt_split.offset_project_approx.0.", "issm.to_static."),
    (_LIFT + "adapt_split.offset_project_detail.0.", "issm.to_dynamic."),
    (_LIFT + "xa_norm.", "ladm.norm_static."),
    (_LIFT + "xd_norm.", "ladm.norm_dynamic."),
    (_LIFT + "q_a.", "ladm.update.to_q."),
    (_LIFT + "kv_d.", "ladm.update.to_kv."),
    (_LIFT + "project_a.0.", "ladm.update.proj."),
    (_LIFT + "q_d.", "ladm.predict.to_q."),
    (_LIFT + "kv_a.", "ladm.predict.to_kv."),
    (_LIFT + "project_d.0.", "ladm.predict.proj."),
    (_LIFT + "out_norm1.", "pool.norm1."),
    (_LIFT + "qkv.", "pool.qkv."),
    (_LIFT + "project.0.", "pool.proj."),
    (_LIFT + "out_norm2.", "pool.norm2."),
    (_LIFT + "mlp.0.", "pool.fc1."),
    (_LIFT + "mlp.3.", "pool.fc2."),
    (_LIFT + "project_compress.", "pool.positions."),
    ("head.head.1.", "classifier."),
)
"""``(their prefix, our prefix)`` for every tensor of theirs that the model uses."""

_RESHAPED = ("pyramid.reduce.", "pyramid.project.", "issm.token_encoder.proj.")
"""Ours whose weights hold theirs in another shape: their pyramid's ``Conv2d``s are ``Conv3d``s with a time kernel
of 1 here, and their 1x1 ``Conv2d`` of the tokens is a ``Linear``: same values, same order."""

AUTHORS_UNUSED: tuple[str, ...] = (
    _LIFT + "spatial_pos",
    _LIFT + "temporal_pos",
    _LIFT + "class_pos",
    _LIFT + "adapt_split.time_project.0.weight",
    _LIFT + "adapt_split.time_project.0.bias",
    _LIFT + "adapt_split.time_project.2.weight",
    _LIFT + "adapt_split.time_project.2.bias",
    _LIFT + "adapt_split.index_even",
    _LIFT + "adapt_split.index_odd",
)
"""Tensors in their state dict that their forward never reads (position embeddings switched off by ``pos = False``,
an unused ``time_project``, and the even/odd index buffers, which are ``arange``s); they are dropped."""


class AuthorsCheckpointInfo(NamedTuple):
    """What [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint] read besides the weights."""

    epoch: int | None
    """Their ``'epoch'`` (0-based), if the file has one."""
    num_frames: int
    """``t0`` the model takes: 16 (DFEW, FERV39k) or 32 (MAFW)."""
    num_classes: int
    """``k``: 7 (DFEW, FERV39k) or 11 (MAFW)."""
    weights: str
    """``"model"`` or ``"ema"``: which state dict of the file was loaded."""
    dropped: tuple[str, ...]
    """Their tensors that their forward never reads ([`AUTHORS_UNUSED`][lifting_dfer.authors.AUTHORS_UNUSED])."""

    @property
    def arch_kwargs(self) -> dict[str, int]:
        """The builder arguments that rebuild the model: ``create_model("ifdd_3dvit_authors", **arch_kwargs)``."""
        return {"num_classes": self.num_classes, "num_frames": self.num_frames}


def _our_key(key: str) -> str | None:
    for theirs, ours in AUTHORS_KEYS:
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    return None


def _their_key(key: str) -> str:
    for theirs, ours in AUTHORS_KEYS:
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    return key


def authors_state_dict(state: Mapping[str, Tensor], target: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Their state dict renamed (and reshaped) to ours; ``ValueError`` listing every key that does not fit.

    Args:
        state: their ``'model'`` state dict (a ``module.`` prefix of every key is removed).
        target: our model's ``state_dict()``: the keys and shapes expected.

    Raises:
        ValueError: one message listing every key of theirs with no counterpart (unmapped), every key of ours they
            do not provide (missing) and every tensor of another shape.
    """
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    out: dict[str, Tensor] = {}
    unmapped, reshaped, seen = [], [], set()
    for key, value in state.items():
        if key in AUTHORS_UNUSED:
            continue
        ours = _our_key(key)
        if ours is None or ours not in target:
            unmapped.append(key if ours is None else f"{key} (-> {ours})")
            continue
        shape = tuple(target[ours].shape)
        if ours.startswith(_RESHAPED) and value.numel() == target[ours].numel():
            value = value.reshape(shape)  # (o, i, kh, kw) -> (o, i, 1, kh, kw); (o, i, 1, 1) -> (o, i)
        if tuple(value.shape) != shape:
            reshaped.append(f"{key}: theirs {tuple(value.shape)} vs ours {shape}")
            seen.add(ours)
            continue
        out[ours] = value
    missing = [f"{_their_key(k)} (-> {k})" for k in target if k not in out and k not in seen]
    if unmapped or missing or reshaped:
        parts = [
            f"{what} ({len(keys)}): {', '.join(keys)}"
            for what, keys in (("unmapped keys", unmapped), ("missing keys", missing), ("shape mismatches", reshaped))
            if keys
        ]
        raise ValueError(
            f"not a checkpoint of the authors' IFDD-3DViT (CyberPegasus/IFDD at {AUTHORS_COMMIT}) for this model: "
            + "; ".join(parts)
        )
    return out


def _read(path: Path, map_location: Any) -> Mapping[str, Any]:
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"checkpoint {path} {what}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickled code, corrupt or truncated file: one line naming the file
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"checkpoint {path} is not a readable PyTorch file of tensors: {detail}") from err
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"checkpoint {path}: expected a dict, got {type(ckpt).__name__}")
    return ckpt


def _weights(ckpt: Mapping[str, Any], which: str, path: Path) -> dict[str, Tensor]:
    if which not in ("model", "ema"):
        raise ValueError(f"weights: expected 'model' or 'ema', got {which!r}")
    if "model" not in ckpt and all(isinstance(v, Tensor) for v in ckpt.values()):
        if which == "ema":
            raise ValueError(f"checkpoint {path} is a bare state dict: it has no 'ema' weights")
        return dict(ckpt)  # a bare state dict
    state = ckpt.get(which)
    if not isinstance(state, Mapping):
        found = sorted(map(str, ckpt))
        raise ValueError(f"checkpoint {path} has no {which!r} state dict (keys {found}; theirs hold 'epoch', "
                         "'model', 'opt', 'ema', and 'ema' is None unless use_ema was on)")  # fmt: skip
    if which == "ema":  # ema_pytorch's EMA: 'initted', 'step' and the averaged model under 'ema_model.'
        state = {k[len("ema_model.") :]: v for k, v in state.items() if k.startswith("ema_model.")}
    return dict(state)


def load_authors_checkpoint(
    path: str | os.PathLike,
    *,
    num_frames: int | None = None,
    weights: Literal["model", "ema"] = "model",
    map_location: Any = "cpu",
) -> tuple[IFDD, AuthorsCheckpointInfo]:
    """Build [`ifdd_3dvit_authors`][lifting_dfer.authors.ifdd_3dvit_authors] and load a checkpoint of the authors'
    released code into it.

    Reads their ``{'epoch', 'model', 'opt', 'ema'}`` file (or a bare state dict) without running code from it
    (``weights_only``), maps every key (see the module docstring) and loads strictly. The model takes what theirs
    takes: ``(b, 3, t0, 224, 224)`` RGB in ``[0, 1]``, no mean or std (``model.normalization``); it is returned in
    eval mode, in the dtype of the file's weights.

    The form is told by the shapes: 11 classes is their MAFW model (32 frames), 7 their DFEW or FERV39k model
    (16 frames); ``num_frames`` overrides it (the weights are the same for any ``t0``).

    Args:
        path: their checkpoint (``*_best_train_loss.pth``).
        num_frames: ``t0``; default from the number of classes.
        weights: ``"model"`` or ``"ema"`` (the exponential moving average, when they trained with ``use_ema``).
        map_location: passed to ``torch.load``.

    Returns:
        ``(model, info)``: the model, and [`AuthorsCheckpointInfo`][lifting_dfer.authors.AuthorsCheckpointInfo].

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable file, no such weights in it, or keys that do not fit: one message listing every
            unmapped, missing and mismatched key.
    """
    path = Path(path)
    ckpt = _read(path, map_location)
    state = _weights(ckpt, weights, path)
    head = state.get("head.head.1.weight", state.get("module.head.head.1.weight"))
    if not isinstance(head, Tensor) or head.dim() != 2:
        raise ValueError(
            f"checkpoint {path} has no classifier 'head.head.1.weight': not the authors' IFDD "
            f"(found {len(state)} tensors, e.g. {', '.join(list(state)[:3])})"
        )
    num_classes = int(head.shape[0])
    if num_frames is None:
        num_frames = 32 if num_classes == 11 else 16
    dtype = next((v.dtype for v in state.values() if v.is_floating_point()), torch.float32)
    model = ifdd_3dvit_authors(num_classes=num_classes, num_frames=num_frames).to(dtype)
    mapped = authors_state_dict(state, model.state_dict())
    model.load_state_dict(mapped, strict=True)
    dropped = tuple(k for k in AUTHORS_UNUSED if k in state or f"module.{k}" in state)
    epoch = ckpt.get("epoch") if isinstance(ckpt.get("epoch"), int) else None
    info = AuthorsCheckpointInfo(epoch, num_frames, num_classes, weights, dropped)
    logger.info(
        "loaded the authors' checkpoint %s (%d tensors, %d unused by their forward dropped)", path, len(mapped),
        len(dropped),
    )  # fmt: skip
    return model.eval(), info


def convert_authors_checkpoint(
    path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    class_names: list[str] | tuple[str, ...] | None = None,
    num_frames: int | None = None,
    weights: Literal["model", "ema"] = "model",
) -> Path:
    """Write the authors' checkpoint ``path`` as a lifting_dfer checkpoint (``predict``, ``export``, ``evaluate``).

    The new file holds ``arch="ifdd_3dvit_authors"``, the class names and ``normalization`` = RGB in ``[0, 1]``
    ([`UNIT`][lifting_dfer.normalization.UNIT]), so that ``lifting-dfer predict`` and ``export`` feed the model
    what it was trained on.

    Args:
        path: their checkpoint.
        output: the lifting_dfer checkpoint to write.
        class_names: in their label order; default DFEW's 7 (their DFEW order is DFEW's) or MAFW's 11. A FERV39k
            model needs ``FERV39K_CLASSES["alphabetical"]`` (their FERV39k code orders the classes that way).
        num_frames, weights: as for [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint].
    """
    from ..data import DFEW_CLASSES, MAFW_CLASSES

    model, info = load_authors_checkpoint(path, num_frames=num_frames, weights=weights)
    if class_names is None:
        class_names = {7: DFEW_CLASSES, 11: MAFW_CLASSES}.get(info.num_classes)
        if class_names is None:
            raise ValueError(f"class_names: the checkpoint has {info.num_classes} classes; name them")
    return save_checkpoint(
        output,
        model.float(),
        arch="ifdd_3dvit_authors",
        arch_kwargs=info.arch_kwargs,
        class_names=list(class_names),
        normalization=UNIT.to_dict(),
        converted_from={"path": str(path), "epoch": info.epoch, "weights": info.weights, "commit": AUTHORS_COMMIT},
    )
