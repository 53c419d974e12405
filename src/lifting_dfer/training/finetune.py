"""Fine-tuning: start a run from another model's weights (``--init``) and keep parts of it fixed (``--freeze``).

``--init SOURCE`` ([`init_checkpoint`][lifting_dfer.training.finetune.init_checkpoint]) names the model to start
from: a lifting_dfer checkpoint, a checkpoint of the authors' code, a ``save_pretrained`` folder or a Hub
repository id. Unless given on the command line, the run takes its architecture from it (``--model``, ``--model-arg``,
``--num-frames``, ``--size``; [`init_preset`][lifting_dfer.training.finetune.init_preset]) and downloads no backbone
weights. [`init_weights`][lifting_dfer.training.finetune.init_weights] then loads every weight except a classifier
whose class count differs from the new dataset's: the tensors whose first axis is the class count there and here
(a ``Linear``'s weight and bias), which start from random values; the log says which they were. Any other
difference (another architecture, frame count or input size) is an error naming the tensors.

``--freeze NAME`` ([`freeze`][lifting_dfer.training.finetune.freeze]) keeps the part ``NAME`` of the model (a child
module such as ``backbone``) as it is: no gradient, and in eval mode during training (BatchNorm statistics and
dropout fixed). The recipe for a small dataset: a first run with ``--init CKPT --freeze backbone`` trains the new
classifier and the head on a fixed backbone for a few epochs; a second run with ``--init <first run>/best.pt``
(a lower ``--lr``) fine-tunes everything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from torch import nn

__all__ = ["InitReport", "freeze", "init_checkpoint", "init_preset", "init_weights", "start_from"]

logger = logging.getLogger(__name__)

# Builder arguments that are run settings (--num-frames, --size, the class count, backbone weights), not --model-arg.
_RUN_KEYS = ("num_classes", "num_frames", "image_size", "pretrained")


class _NotThisKind(ValueError):
    """A loader of [`init_checkpoint`][lifting_dfer.training.finetune.init_checkpoint] does not read this source."""


def _lifting_dfer_checkpoint(source: str) -> dict[str, Any]:
    """A checkpoint written by lifting_dfer (training's ``best.pt`` / ``last.pt``, ``save_checkpoint``)."""
    from ..checkpoint import load_checkpoint

    path = Path(source)
    if not path.is_file():
        raise _NotThisKind(f"no file {path}" if not path.is_dir() else f"{path} is a folder")
    try:
        return load_checkpoint(path)
    except ValueError:
        if _readable_without_format(path):  # a PyTorch file of another kind (e.g. another code base's checkpoint)
            raise _NotThisKind("it holds no 'format' field") from None
        raise
    except OSError:
        raise
    except Exception as err:  # what torch's unpickler lets escape on arbitrary bytes (struct.error, KeyError, ...)
        raise ValueError(f"checkpoint {path} is not a readable PyTorch file ({type(err).__name__}: {err})") from err


def _readable_without_format(path: Path) -> bool:
    """Whether ``path`` loads (weights only) as a dict that has no lifting_dfer ``format`` field."""
    import torch

    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable: the caller's error says why
        return False
    return isinstance(content, Mapping) and "format" not in content


def _authors_checkpoint(source: str) -> dict[str, Any]:
    """A checkpoint of the authors' released code (``{'epoch', 'model', 'opt', 'ema'}``), as ``ifdd_3dvit_authors``."""
    import torch

    from ..authors import load_authors_checkpoint
    from ..data import DFEW_CLASSES, MAFW_CLASSES
    from ..normalization import UNIT

    path = Path(source)
    if not path.is_file():
        raise _NotThisKind(f"no file {path}" if not path.is_dir() else f"{path} is a folder")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # the lifting_dfer loader, tried first, has said why the file is unreadable
        raise _NotThisKind("not a readable PyTorch file of tensors") from None
    state = content.get("model", content) if isinstance(content, Mapping) else None
    if not isinstance(state, Mapping) or not any(
        k in state for k in ("head.head.1.weight", "module.head.head.1.weight")
    ):
        raise _NotThisKind("no 'model' state dict with their classifier 'head.head.1.weight'")
    model, info = load_authors_checkpoint(path)
    names = {7: DFEW_CLASSES, 11: MAFW_CLASSES}.get(info.num_classes)
    if names is None:
        raise ValueError(
            f"--init {source}: the authors' checkpoint has {info.num_classes} classes, neither DFEW's 7 nor MAFW's "
            "11; convert it with lifting_dfer.convert_authors_checkpoint(..., class_names=[...]) and start from that"
        )
    return {
        "arch": "ifdd_3dvit_authors",
        "arch_kwargs": info.arch_kwargs,
        "class_names": list(names),
        "normalization": UNIT.to_dict(),
        "state_dict": {k: v.float() for k, v in model.state_dict().items()},
    }


def _pretrained(source: str) -> dict[str, Any]:
    """A folder written by ``save_pretrained`` or a Hugging Face Hub repository (``owner/name``, ``hf-hub:...``)."""
    from ..pretrained import is_pretrained_source, load_pretrained

    if not is_pretrained_source(source):
        raise _NotThisKind("neither a folder nor a Hub repository id (owner/name)")
    model, config = load_pretrained(source)
    return {**config, "state_dict": model.state_dict()}


# The kinds of model --init reads, tried in order; each returns a checkpoint dict in lifting_dfer's format (``arch``,
# ``arch_kwargs``, ``class_names``, ``state_dict``) or raises _NotThisKind saying why the source is not of its kind.
INIT_LOADERS: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("a lifting_dfer checkpoint", _lifting_dfer_checkpoint),
    ("a checkpoint of the authors' code", _authors_checkpoint),
    ("a save_pretrained folder or Hub repository", _pretrained),
]


def init_checkpoint(source: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint ``--init SOURCE`` names, in lifting_dfer's checkpoint format.

    Each kind in ``INIT_LOADERS`` is tried in order: a lifting_dfer checkpoint file (``best.pt``), a checkpoint of
    the authors' released code (read by [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint], as
    ``ifdd_3dvit_authors`` with DFEW's or MAFW's class names and RGB in ``[0, 1]``), a folder written by
    [`save_pretrained`][lifting_dfer.save_pretrained] or a Hub repository id
    ([`from_pretrained`][lifting_dfer.from_pretrained]; downloaded into huggingface_hub's cache).

    Raises:
        FileNotFoundError: nothing of any kind by that name (a Hub repository that cannot be downloaded raises
            [`WeightsUnavailableError`][lifting_dfer.backbones.WeightsUnavailableError], naming the file and URL).
        ValueError: no kind reads the file (the message says why for each), or a source of a known kind is damaged
            (e.g. a truncated checkpoint).
    """
    reasons = []
    for kind, load in INIT_LOADERS:
        try:
            return load(os.fspath(source))
        except _NotThisKind as why:
            reasons.append(f"not {kind}: {why}")
    error = ValueError if os.path.exists(source) else FileNotFoundError
    raise error(f"--init {source}: cannot start from it ({'; '.join(reasons)})")


def _geometry(ckpt: Mapping[str, Any]) -> tuple[int | None, int | None]:
    kwargs = ckpt.get("arch_kwargs") or {}
    size = ckpt.get("input_size", kwargs.get("image_size"))
    frames = kwargs.get("num_frames")
    return (None if frames is None else int(frames)), (None if size is None else int(size))


def init_preset(values: Mapping[str, Any], given: set[str]) -> dict[str, Any]:
    """The run settings ``values`` with the architecture of the ``--init`` checkpoint where the user gave none.

    ``model`` (the checkpoint's ``arch``), ``model_args`` (its builder arguments but the class count, frames, size
    and backbone weights), ``num_frames``, ``size`` and ``pretrained`` (``None``: the checkpoint holds every weight)
    are taken unless they are in ``given``.
    """
    ckpt = init_checkpoint(values["init"])
    frames, size = _geometry(ckpt)
    preset = {
        "model": ckpt["arch"],
        "model_args": {k: v for k, v in (ckpt.get("arch_kwargs") or {}).items() if k not in _RUN_KEYS},
        "pretrained": None,
    }
    if frames is not None:
        preset["num_frames"] = frames
    if size is not None:
        preset["size"] = size
    return {**values, **{key: value for key, value in preset.items() if key not in given}}


class InitReport(NamedTuple):
    """What [`init_weights`][lifting_dfer.training.finetune.init_weights] took from the checkpoint."""

    taken: list[str]
    """Names of the tensors loaded."""
    left_out: list[str]
    """Names of the classifier tensors left out (another class count), which keep their random start."""
    note: str
    """One line for the log."""


def init_weights(model: nn.Module, ckpt: Mapping[str, Any], *, num_classes: int, source: str = "--init") -> InitReport:
    """Load every tensor of ``ckpt`` into ``model`` except a classifier whose class count differs.

    A tensor is left out when its first axis is the checkpoint's class count there and ``num_classes`` here and its
    other axes agree (a classifier's weight and bias); everything else must match by name and shape.

    Raises:
        ValueError: the models differ otherwise (names and shapes listed), e.g. another architecture, frame count
            or input size.
    """
    from ..checkpoint import unwrap_model

    target = unwrap_model(model)
    own, theirs = target.state_dict(), ckpt["state_dict"]
    names = list(ckpt.get("class_names") or [])
    k_there = int((ckpt.get("arch_kwargs") or {}).get("num_classes", len(names)))
    missing = [k for k in own if k not in theirs]
    unexpected = [k for k in theirs if k not in own]
    left_out, reshaped = [], []
    for key in own:
        if key not in theirs or tuple(theirs[key].shape) == tuple(own[key].shape):
            continue
        there, here = tuple(theirs[key].shape), tuple(own[key].shape)
        if k_there != num_classes and there[:1] == (k_there,) and here[:1] == (num_classes,) and there[1:] == here[1:]:
            left_out.append(key)
        else:
            reshaped.append(f"{key} {there} there, {here} here")
    if missing or unexpected or reshaped:
        parts = [f"{what}: {', '.join(items[:4])}" + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")
                 for what, items in (("missing there", missing), ("not here", unexpected), ("other shapes", reshaped))
                 if items]  # fmt: skip
        raise ValueError(
            f"{source} holds model {ckpt.get('arch')!r} ({ckpt.get('arch_kwargs')}), which differs from the model of this "
            f"run beyond its classifier: {'; '.join(parts)}. Leave out --model, --model-arg, --num-frames and --size: "
            "they default to the checkpoint's"
        )
    taken = [k for k in own if k not in left_out]
    target.load_state_dict({k: theirs[k] for k in taken}, strict=False)
    what = f"{ckpt.get('arch')} trained on {k_there} classes ({', '.join(names)})"
    if left_out:
        note = (f"{source}: took {len(taken)} of {len(own)} tensors of {what}; left out the classifier "
                f"{', '.join(left_out)} ({k_there} classes there, {num_classes} here), which starts from random values")  # fmt: skip
    else:
        note = f"{source}: took all {len(taken)} tensors of {what}, the classifier included"
    return InitReport(taken, left_out, note)


def freeze(model: nn.Module, parts: Sequence[str]) -> list[str]:
    """Keep the child modules ``parts`` of ``model`` fixed: no gradient, eval mode in every forward.

    A forward pre-hook puts each frozen part back in eval mode whenever the model was set to training, so BatchNorm
    statistics and dropout stay as they were. Returns the names of the frozen parameters.

    Raises:
        ValueError: a part the model does not have (its parts are listed).
    """
    from ..checkpoint import unwrap_model

    target = unwrap_model(model)
    frozen = []
    for name in parts:
        try:
            part = target.get_submodule(name)
        except AttributeError:
            children = ", ".join(n for n, _ in target.named_children())
            raise ValueError(
                f"--freeze {name}: {type(target).__name__} has no part {name!r}; its parts: {children}"
            ) from None
        for param_name, param in part.named_parameters():
            param.requires_grad_(False)
            frozen.append(f"{name}.{param_name}")
        part.register_forward_pre_hook(_stay_in_eval)
        part.eval()
    return frozen


def _stay_in_eval(module: nn.Module, args: tuple) -> None:
    if module.training:
        module.eval()


def start_from(model: nn.Module, cfg: Any, class_names: Sequence[str], *, resume: bool) -> None:
    """Apply the run's ``--init`` (unless it resumes: its checkpoint holds the weights) and ``--freeze`` to ``model``."""
    if cfg.init is not None and not resume:
        report = init_weights(
            model, init_checkpoint(cfg.init), num_classes=len(class_names), source=f"--init {cfg.init}"
        )
        logger.info("%s", report.note)
    if cfg.freeze:
        frozen = freeze(model, cfg.freeze)
        total = sum(1 for _ in model.parameters())
        logger.info("frozen: %s (%d of %d parameter tensors)", ", ".join(cfg.freeze), len(frozen), total)
