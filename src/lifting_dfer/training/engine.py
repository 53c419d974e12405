"""The training and evaluation loops: one epoch of CE + LiftLoss with AMP and gradient clipping, and a sharded,
gathered evaluation that reports UAR/WAR.

Loss (the paper's training protocol): ``cross_entropy(out.logits, y) + LiftLoss(weight)(out.y_s, out.x)`` when the
model returns an ``IFDDOutput`` (IFDD in training mode), else cross entropy alone (baselines).

Input: batches of float clips go to the model as they are; ``uint8`` clips (datasets with ``output="uint8"``) and
undecoded JPEG clips (``output="jpeg"``) are copied to the device first and become the float input there
([`ClipNormalize`][lifting_dfer.data.ClipNormalize] with the run's ``normalization``).

Interruption: inside [`GracefulInterrupt`][lifting_dfer.training.GracefulInterrupt], SIGINT (Ctrl-C) and SIGTERM only
set a flag; the epoch loop stops after the step in progress and raises `TrainingInterrupted`, so the caller can save a
checkpoint of a consistent state (the model, optimizer, schedule and RNGs after a whole number of steps). A second
Ctrl-C interrupts at once.
"""

from __future__ import annotations

import copy
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sized
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, cast

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from ..data.device_transform import ClipNormalize, JpegClips
from ..metrics import classification_report
from ..normalization import IMAGENET, Normalization
from .distributed import DistributedContext, gather_predictions
from .loaders import shard_loader

__all__ = [
    "EpochStats",
    "EvalResult",
    "GracefulInterrupt",
    "TrainingInterrupted",
    "autocast_dtype",
    "evaluate",
    "to_channels_last",
    "train_one_epoch",
    "training_loss",
]

logger = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by [`train_one_epoch`][lifting_dfer.training.train_one_epoch] after a requested interruption, at a step
    boundary."""


class GracefulInterrupt:
    """Context manager turning SIGINT/SIGTERM into a flag checked between steps (main thread only).

    ``requested`` becomes True on the first signal; a second SIGINT raises ``KeyboardInterrupt`` immediately.
    Outside the main thread (where handlers cannot be installed) it is an inert flag holder.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning(
            "%s received: stopping after the current step (Ctrl-C again to stop at once)", signal.Signals(signum).name
        )

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


@dataclass
class EpochStats:
    """Running sums of one training epoch; ``step`` counts the optimisation steps already taken in it."""

    epoch: int
    step: int = 0
    loss: float = 0.0
    ce: float = 0.0
    lift: float = 0.0
    correct: int = 0
    count: int = 0
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def update(self, *, loss: float, ce: float, lift: float, correct: int, count: int) -> None:
        self.step += 1
        self.loss += loss * count
        self.ce += ce * count
        self.lift += lift * count
        self.correct += correct
        self.count += count

    def summary(self) -> dict[str, float]:
        """Per-clip means over the epoch so far: ``loss``, ``ce``, ``lift``, ``acc``."""
        n = max(self.count, 1)
        return {"loss": self.loss / n, "ce": self.ce / n, "lift": self.lift / n, "acc": self.correct / n}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EpochStats:
        return cls(**values)


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """``"auto"`` -> bfloat16 on CUDA, None (full precision) on CPU; ``"bf16"``, ``"fp16"``, ``"none"`` as named.

    Examples:
        >>> autocast_dtype("auto", torch.device("cpu")) is None
        True
    """
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}
    if amp not in table:
        raise ValueError(f"amp: expected auto, bf16, fp16 or none, got {amp!r}")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("amp: fp16 autocast needs CUDA; use bf16 or none on the CPU")
    return table[amp]


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store the 4-D weights (2D convolutions) channels-last; other tensors are left as they are."""
    for module in model.modules():
        for _name, tensor in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            if tensor is not None and tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return model


def training_loss(
    output: Any, labels: Tensor, lift_loss: nn.Module | None, *, label_smoothing: float = 0.0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(loss, logits, ce, lift)`` for a model output: an ``IFDDOutput``-like tuple or bare logits.

    ``labels`` are class indices, or class probabilities (mixup's soft targets: the cross entropy is then the
    soft-target cross entropy).

    Shape:
        ``labels: (b,)`` or ``(b, k)`` -> scalars and ``logits: (b, k)`` (float32).
    """
    has_lift_terms = hasattr(output, "logits") and hasattr(output, "y_s") and hasattr(output, "x")
    logits = output.logits if hasattr(output, "logits") else output
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model output: expected logits of shape (b, k) or an IFDDOutput, got {got}")
    logits = logits.float()
    ce = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if has_lift_terms and lift_loss is not None:
        lift = lift_loss(output.y_s.float(), output.x.float())
    else:
        lift = ce.new_zeros(())
    return ce + lift, logits, ce, lift


def _as_batch(batch: Any, device: torch.device, channels_last: bool, normalize: ClipNormalize) -> tuple[Tensor, Tensor]:
    clips, labels = batch[0], batch[1]
    if isinstance(clips, JpegClips):
        clips = normalize(clips.decode(device))
    else:
        clips = clips.to(device, non_blocking=True)
        if not clips.is_floating_point():  # uint8 pixels: normalised here, on the device
            clips = normalize(clips)
    if channels_last and clips.dim() == 5:
        clips = clips.contiguous(memory_format=torch.channels_last_3d)
    return clips, torch.as_tensor(labels).to(device, non_blocking=True)


def _interrupt_requested(interrupt: GracefulInterrupt | None, device: torch.device) -> bool:
    """The flag, agreed on by all ranks (any rank's request stops every rank at the same step)."""
    flag = bool(interrupt is not None and interrupt.requested)
    if dist.is_initialized() and dist.get_world_size() > 1:
        t = torch.tensor([float(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        flag = bool(t.item() > 0)
    return flag


def train_one_epoch(
    model: nn.Module,
    batches: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    *,
    stats: EpochStats,
    device: torch.device,
    scheduler: Any = None,
    lift_loss: nn.Module | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    grad_clip: float | None = None,
    channels_last: bool = False,
    interrupt: GracefulInterrupt | None = None,
    progress: Any = None,
    normalization: Normalization = IMAGENET,
    mix: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
    label_smoothing: float = 0.0,
) -> EpochStats:
    """Train on ``batches`` (``(clips, labels)`` pairs), updating ``stats`` in place after every step.

    The scheduler steps after every optimiser step. ``progress`` is an optional tqdm bar wrapped around
    ``batches`` by the caller (its postfix shows the running loss and accuracy). ``uint8`` and JPEG batches are
    normalised on ``device`` with ``normalization``. ``mix`` turns a normalised batch into mixed clips and soft
    targets (mixup, [`ClipMixup`][lifting_dfer.training.recipes.ClipMixup]); ``label_smoothing`` applies to hard
    labels. Accuracy counts the clips' own labels.

    Raises:
        TrainingInterrupted: ``interrupt.requested`` became true; ``stats`` describes the steps completed.
        ValueError: a non-finite loss (the batch is named by its step).
    """
    model.train()
    normalize = ClipNormalize(normalization).to(device)
    start = time.perf_counter()
    iterator = iter(batches)
    try:
        while True:
            if _interrupt_requested(interrupt, device):
                raise TrainingInterrupted
            try:
                batch = next(iterator)
            except StopIteration:
                break
            clips, labels = _as_batch(batch, device, channels_last, normalize)
            clips, targets = mix(clips, labels) if mix is not None else (clips, labels)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                output = model(clips)
            loss, logits, ce, lift = training_loss(output, targets, lift_loss, label_smoothing=label_smoothing)
            if not torch.isfinite(loss):
                raise ValueError(
                    f"epoch {stats.epoch + 1}, step {stats.step + 1}: non-finite loss {loss.item()} "
                    f"(ce {ce.item()}, lift {lift.item()}); lower --lr or enable --grad-clip"
                )
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None and scaler.is_enabled():
                scaler.scale(loss).backward()
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            correct = int((logits.detach().argmax(1) == labels).sum())
            stats.update(loss=loss.item(), ce=ce.item(), lift=lift.item(), correct=correct, count=labels.numel())
            if progress is not None:
                s = stats.summary()
                progress.update(1)
                progress.set_postfix(loss=f"{s['loss']:.3f}", acc=f"{s['acc']:.3f}", refresh=False)
    except TrainingInterrupted:
        raise
    except Exception as err:  # a DataLoader worker killed by the same Ctrl-C: still a clean interruption
        if interrupt is not None and interrupt.requested:
            raise TrainingInterrupted from err
        raise
    finally:
        stats.seconds += time.perf_counter() - start
    return stats


class EvalResult(NamedTuple):
    """Evaluation of a dataset: ``report`` (``classification_report`` + ``loss``), gathered logits and labels."""

    report: dict[str, Any]
    logits: Tensor
    labels: Tensor


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    *,
    class_names: list[str] | tuple[str, ...],
    device: torch.device,
    batch_size: int = 32,
    ctx: DistributedContext | None = None,
    amp_dtype: torch.dtype | None = None,
    num_workers: int = 0,
    channels_last: bool = False,
    progress: bool = False,
    desc: str = "eval",
    normalization: Normalization = IMAGENET,
    loader: Iterable[Any] | None = None,
    views: int = 1,
) -> EvalResult:
    """Evaluate ``model`` (eval mode, logits) on every clip of ``dataset`` exactly once; every rank gets the result.

    Each rank scores the clips ``rank::world_size`` (no padding); predictions are gathered and put back in dataset
    order. ``report`` holds ``uar``, ``war``, ``per_class``, ``support``, ``confusion``, ``class_names`` and the
    mean cross-entropy ``loss``. ``uint8`` and JPEG batches are normalised on ``device`` with ``normalization``.
    ``loader`` replaces the DataLoader built here (a
    [`shard_loader`][lifting_dfer.training.loaders.shard_loader] of ``dataset``, kept with persistent workers
    from one evaluation to the next).

    With ``views = n > 1`` (``--test-clips``), every video is scored ``n`` times, from ``n`` clips sampled at the
    offsets ``(2 j + 1) / (2 n)`` of its temporal segments ([`uniform_indices`][lifting_dfer.data.uniform_indices];
    ``n = 1`` is the segment centres), and the logits are averaged, as the authors' test script averages the
    logits of a video's clips. ``dataset`` must then have the ``offset`` of a
    [`ClipDataset`][lifting_dfer.data.ClipDataset].

    Shape:
        ``logits: (n, k)`` float32 on the CPU, ``labels: (n,)``, ``n = len(dataset)``.
    """
    from tqdm.auto import tqdm

    if views < 1:
        raise ValueError(f"views: expected a positive number of clips per video, got {views}")
    if views > 1 and not hasattr(dataset, "offset"):
        raise ValueError(f"views: {type(dataset).__name__} has no temporal offset to sample {views} clips per video")
    ctx = ctx or DistributedContext(device=device)
    if loader is not None and views > 1:
        raise ValueError(f"loader, views: a given loader serves one clip per video, not views={views}")
    normalize = ClipNormalize(normalization).to(device)
    was_training = model.training
    model.eval()
    view_logits = []
    for j in range(views):
        if views > 1:
            view: Any = copy.copy(dataset)  # a ClipDataset: offset is where its test clips sample in a segment
            view.offset = (2 * j + 1) / (2 * views)
            loader = shard_loader(view, batch_size=batch_size, device=device, ctx=ctx, num_workers=num_workers)
        elif loader is None:
            loader = shard_loader(dataset, batch_size=batch_size, device=device, ctx=ctx, num_workers=num_workers)
        logits_parts, label_parts = [], []
        label = desc if views == 1 else f"{desc} {j + 1}/{views}"
        for batch in tqdm(loader, desc=label, leave=False, dynamic_ncols=True, disable=not (progress and ctx.is_main)):
            clips, labels = _as_batch(batch, device, channels_last, normalize)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                output = model(clips)
            logits = output.logits if hasattr(output, "logits") else output
            logits_parts.append(logits.float().cpu())
            label_parts.append(labels.cpu())
        if logits_parts:
            view_logits.append(torch.cat(logits_parts))
    logits_parts = [torch.stack(view_logits).mean(0)] if view_logits else []
    model.train(was_training)
    k = len(class_names)
    logits = torch.cat(logits_parts) if logits_parts else torch.zeros(0, k)
    labels = torch.cat(label_parts) if label_parts else torch.zeros(0, dtype=torch.long)
    n = len(cast(Sized, dataset))  # map-style datasets have a length; torch's Dataset type does not say so
    indices = torch.arange(ctx.rank, n, ctx.world_size)
    logits, labels = gather_predictions(indices, logits, labels)
    if logits.shape != (n, k):
        raise ValueError(f"evaluation: expected logits of shape ({n}, {k}), got {tuple(logits.shape)}")
    report = classification_report(labels, logits, k, class_names=list(class_names))
    report["loss"] = float(F.cross_entropy(logits, labels)) if len(labels) else math.nan
    return EvalResult(report, logits, labels)
