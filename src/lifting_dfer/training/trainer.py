"""``fit``: train one model on one (train, val) split with checkpoints, per-epoch logs and exact resume.

``fit`` is the recipe, each step a function of this module: set up the model, optimiser and schedule (``_set_up``),
pick up an earlier run (``_resume``), then for each epoch train (``_train``), validate (``_validate``), select and
save the best epoch (``_select``, ``best.pt``), log (``_log``) and checkpoint for a later resume (``_end_epoch``);
Ctrl-C or SIGTERM stops it after the current step (``_save_interrupted``).

Files in ``folder`` (rank 0 writes them):

- ``last.pt``: everything needed to continue (weights, optimizer, schedule, AMP scaler, the RNG states of every
  rank, the epoch and step reached, the best validation result, the metric history, the config); rewritten
  atomically after every epoch and when the run is interrupted (Ctrl-C, SIGTERM).
- ``best.pt``: the weights with the best validation ``select_metric`` so far (UAR by default).
- ``metrics.jsonl`` / ``metrics.csv``: one record per epoch, flushed to disk as it is written.

Determinism: the data order of epoch ``e`` comes from ``DistributedSampler(seed, epoch=e)``, the augmentation
from the dataset's per-clip generators (``dataset.set_epoch(e)``), dropout from torch's global RNG, whose state is
saved in the checkpoint. On the CPU, an interrupted and resumed run therefore ends with the same weights and
metrics as an uninterrupted one, bit for bit; on CUDA up to the nondeterminism of its kernels.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..checkpoint import check_checkpoint_matches, load_checkpoint, load_model_state, save_checkpoint
from ..loss import LiftLoss
from ..normalization import IMAGENET, Normalization, checkpoint_normalization
from .config import TrainConfig
from .distributed import DistributedContext, all_gather_objects, barrier, broadcast_buffers, resolve_device
from .engine import (
    EpochStats,
    GracefulInterrupt,
    TrainingInterrupted,
    autocast_dtype,
    evaluate,
    to_channels_last,
    train_one_epoch,
)
from .history import MetricWriter
from .loaders import EpochLoader, shard_loader
from .recipes import AuthorsSchedule, ClipMixup, make_mix, make_scheduler, selection_score
from .schedule import WarmupCosine

__all__ = ["FitResult", "fit", "get_rng_state", "set_rng_state", "steps_per_epoch"]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Outcome of [`fit`][lifting_dfer.training.fit]: the best epoch (1-based), its validation report, the checkpoint
    paths, the history."""

    best_epoch: int
    best_val: dict[str, Any] | None
    best_path: Path
    last_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)


def get_rng_state(device: torch.device) -> dict[str, Any]:
    """torch (CPU and ``device``'s CUDA), Python and NumPy RNG states, as weights-only-loadable values."""
    _, keys, pos, has_gauss, cached = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state(legacy=True))
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }


def set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Inverse of `get_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))


def steps_per_epoch(num_clips: int, batch_size: int, world_size: int = 1) -> int:
    """Optimisation steps per epoch: full batches of each rank's share (one partial batch if smaller).

    Examples:
        >>> steps_per_epoch(100, 16), steps_per_epoch(100, 16, world_size=2), steps_per_epoch(5, 16)
        (6, 3, 1)
    """
    per_rank = math.ceil(num_clips / world_size)
    return max(per_rank // batch_size, 1)


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None,
    *,
    cfg: TrainConfig,
    folder: str | Path,
    arch: str,
    arch_kwargs: Mapping[str, Any],
    class_names: Sequence[str],
    ctx: DistributedContext | None = None,
    resume: bool = False,
    extra: Mapping[str, Any] | None = None,
    interrupt: GracefulInterrupt | None = None,
) -> FitResult:
    """Train ``model`` with AdamW + warm-up/cosine on ``train_set``, selecting the best epoch on ``val_set``.

    Args:
        model: the model (plain ``nn.Module``; moved to ``ctx.device``, wrapped for DDP/compile here).
        train_set: ``(clip, label)`` items; ``set_epoch(e)`` is called each epoch when it exists.
        val_set: model selection set, or ``None`` / empty (then the last epoch is kept as best).
        cfg: the run configuration (optimisation, AMP, compile, progress, ...).
        folder: where checkpoints and logs go.
        arch, arch_kwargs, class_names: stored in checkpoints so that they rebuild the model.
        ctx: the process's place in a ``torchrun`` world (default: one process on ``cfg.device``).
        resume: continue from ``folder/last.pt`` (it must exist); without it an existing ``last.pt`` is an error.
        extra: more top-level checkpoint fields (e.g. ``fold``); its ``normalization`` (a
            [`Normalization`][lifting_dfer.normalization.Normalization] record, ImageNet when absent) is also how
            ``uint8`` batches are normalised on the device.
        interrupt: a [`GracefulInterrupt`][lifting_dfer.training.GracefulInterrupt] (default: a new one installed for
            the duration of the call).

    Raises:
        FileExistsError: ``folder`` already holds a run and ``resume`` is false.
        FileNotFoundError, ValueError: ``resume`` with a missing, corrupt or mismatching checkpoint.
        KeyboardInterrupt: after saving ``last.pt`` when interrupted.
    """
    ctx = ctx or DistributedContext(device=resolve_device(cfg.device))
    class_names = list(class_names)
    val_set = val_set if val_set is not None and len(cast(Sized, val_set)) > 0 else None
    checkpoints = _Checkpoints(Path(folder), arch, arch_kwargs, class_names, cfg, ctx, dict(extra or {}))
    checkpoints.check_folder(resume)
    parts = _set_up(model, train_set, cfg, ctx, normalization=checkpoint_normalization(checkpoints.extra))
    parts.mix = make_mix(cfg, len(class_names))  # the recipe's mixup (None: off)
    progress = _resume(parts, checkpoints) if resume else _Progress()
    _wrap(parts, cfg, ctx)
    writer = _open_log(checkpoints.folder, progress.history, resume=resume, cfg=cfg, ctx=ctx)
    with contextlib.ExitStack() as closing:
        if writer is not None:
            closing.callback(writer.close)
        interrupt = interrupt or closing.enter_context(GracefulInterrupt())  # own handlers for the call only
        try:
            for epoch in range(progress.start_epoch, cfg.epochs):
                stats = progress.begin(epoch)
                train = _train(parts, train_set, stats, cfg=cfg, ctx=ctx, interrupt=interrupt)
                val = _validate(parts, val_set, class_names, cfg=cfg, ctx=ctx)
                if interrupt.requested:
                    raise TrainingInterrupted
                improved = _select(progress, epoch, val, metric=cfg.select_metric, train=train)
                if improved and ctx.is_main:
                    checkpoints.save_best(parts.raw, epoch + 1, val)
                lr = parts.optimizer.param_groups[0]["lr"]
                record = _epoch_record(stats, train, val, progress.best, lr=lr, metric=cfg.select_metric)
                progress.history.append(record)
                if ctx.is_main and writer is not None:  # the writer exists on the main rank only
                    _log(writer, stats, record, val, improved=improved, epochs=cfg.epochs)
                _end_epoch(parts, progress, checkpoints)
        except TrainingInterrupted:
            if ctx.is_main:
                _save_interrupted(parts, progress, checkpoints)
            raise
    return _finish(checkpoints, progress)


# What fit carries from step to step.


@dataclass
class _Parts:
    """What the optimisation steps touch: the model (``raw``; ``train_model`` is it compiled and/or DDP-wrapped,
    ``eval_model`` compiled), the optimiser, its schedule, mixed precision, the LiftLoss term, and the input: the
    DataLoaders (one for the whole run each, so that their workers persist) and the normalisation of uint8
    batches on the device."""

    raw: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: WarmupCosine | AuthorsSchedule
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    lift_loss: LiftLoss | None
    steps: int
    """Optimisation steps per epoch."""
    batches: EpochLoader
    normalization: Normalization = IMAGENET
    mix: ClipMixup | None = None
    val_batches: DataLoader | None = None
    train_model: nn.Module = field(init=False)  # set by _wrap
    eval_model: nn.Module = field(init=False)


@dataclass
class _Progress:
    """Where the run stands: the first epoch to train, an epoch interrupted part-way (to finish first), the best
    epoch so far, one record per finished epoch, and the epoch being trained (saved when interrupted)."""

    start_epoch: int = 0
    partial: EpochStats | None = None
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": 0, "value": -math.inf, "val": None})
    history: list[dict[str, Any]] = field(default_factory=list)
    current: EpochStats | None = None

    def begin(self, epoch: int) -> EpochStats:
        """The running sums of ``epoch``: those of the interrupted epoch when it is this one, else fresh ones."""
        resumed = self.partial if self.partial is not None and self.partial.epoch == epoch else None
        self.current = current = resumed or EpochStats(epoch)
        self.partial = None
        return current


@dataclass
class _Checkpoints:
    """The run's folder, and what each of its checkpoints records beside the weights."""

    folder: Path
    arch: str
    arch_kwargs: Mapping[str, Any]
    class_names: list[str]
    cfg: TrainConfig
    ctx: DistributedContext
    extra: Mapping[str, Any]

    @property
    def last_path(self) -> Path:
        return self.folder / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.folder / "best.pt"

    def check_folder(self, resume: bool) -> None:
        """A resumed run needs ``last.pt``; a new one must not overwrite it."""
        if resume and not self.last_path.is_file():
            raise FileNotFoundError(
                f"cannot resume: {self.last_path} does not exist (the run never finished an epoch?)"
            )
        if not resume and self.last_path.exists():
            raise FileExistsError(
                f"{self.folder} already holds a run ({self.last_path.name}); resume it with --resume "
                f"{self.folder.parent} or choose another --output-dir"
            )

    def load_last(self, model: nn.Module) -> dict[str, Any]:
        """``last.pt``, checked against this run's model, its weights loaded into ``model``."""
        source = f"checkpoint {self.last_path}"
        ckpt = load_checkpoint(self.last_path, map_location="cpu")
        check_checkpoint_matches(
            ckpt, arch=self.arch, num_classes=len(self.class_names), class_names=self.class_names, source=source
        )
        load_model_state(model, ckpt, source=source)
        return ckpt

    def _save(self, path: Path, model: nn.Module, **fields: Any) -> None:
        save_checkpoint(
            path, model, arch=self.arch, arch_kwargs=self.arch_kwargs, class_names=self.class_names, **fields
        )

    def save_best(self, model: nn.Module, epoch: int, val: dict[str, Any] | None) -> None:
        """``best.pt``: the weights of the selected epoch (1-based) and its validation report."""
        self._save(
            self.best_path,
            model,
            epoch=epoch,
            val=val,
            config=self.cfg.to_dict(),
            input_size=self.cfg.size,
            **dict(self.extra),
        )

    def save_last(self, parts: _Parts, progress: _Progress, epoch_done: int, stats: EpochStats | None) -> None:
        """``last.pt`` after ``epoch_done`` epochs and, with ``stats``, ``stats.step`` steps of the next one.

        Without ``stats`` it is collective (every rank calls it: the RNG states of all ranks are gathered) and rank 0
        writes; with ``stats`` (an interrupted epoch) only rank 0 calls it and stores its own RNG state.
        """
        device = self.ctx.device
        rng = all_gather_objects(get_rng_state(device)) if stats is None else [get_rng_state(device)]
        state = {
            "epoch": epoch_done,
            "partial": stats.to_dict() if stats is not None else None,
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "scaler": parts.scaler.state_dict(),
            "rng": rng,
            "best": progress.best,
            "history": progress.history,
            "config": self.cfg.to_dict(),
            "input_size": self.cfg.size,
            "world_size": self.ctx.world_size,
            **dict(self.extra),
        }
        if self.ctx.is_main:
            self._save(self.last_path, parts.raw, **state)


# The steps of fit, in the order it takes them.


def _set_up(
    model: nn.Module, train_set: Dataset, cfg: TrainConfig, ctx: DistributedContext, *, normalization: Normalization
) -> _Parts:
    """The model on the device; AdamW with the warm-up/cosine schedule; mixed precision; the LiftLoss term; the
    training DataLoader."""
    device = ctx.device
    raw = model.to(device)
    if cfg.channels_last:
        to_channels_last(raw)
    optimizer = torch.optim.AdamW(raw.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = steps_per_epoch(len(cast(Sized, train_set)), cfg.batch_size, ctx.world_size)
    scheduler = make_scheduler(cfg, optimizer, steps, ctx.world_size) or WarmupCosine(
        optimizer,
        total_steps=cfg.epochs * steps,
        warmup_steps=cfg.warmup_epochs * steps,
        warmup_lr=cfg.warmup_lr,
        min_lr=cfg.min_lr,
    )
    amp_dtype = autocast_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    reduction = cast("Literal['mean', 'batch_sum']", cfg.lift_reduction)  # one of config's choices
    lift_loss = LiftLoss(weight=cfg.lift_weight, reduction=reduction) if cfg.lift_weight > 0 else None
    batches = EpochLoader(
        train_set, batch_size=cfg.batch_size, num_workers=cfg.num_workers, device=device, seed=cfg.seed
    )
    return _Parts(raw, optimizer, scheduler, scaler, amp_dtype, lift_loss, steps, batches, normalization)


def _resume(parts: _Parts, checkpoints: _Checkpoints) -> _Progress:
    """Weights, optimiser, schedule, scaler, RNG states and progress from ``last.pt``."""
    ckpt = checkpoints.load_last(parts.raw)
    try:
        parts.optimizer.load_state_dict(ckpt["optimizer"])
        parts.scheduler.load_state_dict(ckpt["scheduler"])
        parts.scaler.load_state_dict(ckpt.get("scaler") or {})
    except (KeyError, ValueError, RuntimeError) as err:
        raise ValueError(
            f"checkpoint {checkpoints.last_path} cannot resume this run (optimizer/schedule state): {err}"
        ) from err
    progress = _Progress(
        start_epoch=int(ckpt["epoch"]),
        partial=EpochStats.from_dict(ckpt["partial"]) if ckpt.get("partial") else None,
        best=dict(ckpt["best"]),
        history=list(ckpt.get("history", [])),
    )
    _restore_rng(ckpt.get("rng") or [], checkpoints.cfg, checkpoints.ctx, progress.start_epoch)
    partial, epoch = progress.partial, progress.start_epoch
    where = f"epoch {epoch + 1}, step {partial.step}" if partial else f"epoch {epoch + 1}"
    logger.info("resuming %s from %s", where, checkpoints.last_path)
    return progress


def _restore_rng(rng: Sequence[Mapping[str, Any]], cfg: TrainConfig, ctx: DistributedContext, epoch: int) -> None:
    """This rank's saved RNG state; re-seeded (and said so) when the checkpoint comes from another world size."""
    if len(rng) == ctx.world_size:
        set_rng_state(rng[ctx.rank], ctx.device)
        return
    logger.warning(
        "checkpoint has RNG states of %d process(es), this run has %d: re-seeding (the resumed "
        "run will not match an uninterrupted one exactly)",
        len(rng),
        ctx.world_size,
    )
    torch.manual_seed(cfg.seed + 7919 * (ctx.rank + 1) + epoch)


def _wrap(parts: _Parts, cfg: TrainConfig, ctx: DistributedContext) -> None:
    """``torch.compile`` (training and evaluation) and DistributedDataParallel (training) around the model."""
    parts.train_model = parts.eval_model = parts.raw
    if cfg.compile:
        parts.train_model = parts.eval_model = cast(nn.Module, torch.compile(parts.raw))  # an OptimizedModule
    if ctx.distributed:
        device = ctx.device
        ddp_ids = [device.index] if device.type == "cuda" else None
        parts.train_model = nn.parallel.DistributedDataParallel(parts.train_model, device_ids=ddp_ids)


def _open_log(
    folder: Path, history: list[dict[str, Any]], *, resume: bool, cfg: TrainConfig, ctx: DistributedContext
) -> MetricWriter | None:
    """The metric files (rank 0; ``None`` on the other ranks), cut back to the epochs that ``last.pt`` holds."""
    if not ctx.is_main:
        return None
    writer = MetricWriter(folder, tensorboard=cfg.tensorboard)
    if resume or writer.jsonl_path.exists():
        writer.rewrite(history)  # drop lines of epochs that were logged but not checkpointed (trained again)
    return writer


def _train(
    parts: _Parts,
    train_set: Dataset,
    stats: EpochStats,
    *,
    cfg: TrainConfig,
    ctx: DistributedContext,
    interrupt: GracefulInterrupt,
) -> dict[str, float]:
    """Train the steps of epoch ``stats.epoch`` not taken yet; its training means over every rank."""
    from tqdm.auto import tqdm

    loader = _epoch_batches(parts.batches, train_set, cfg, ctx, stats.epoch, stats.step, parts.steps)
    bar = tqdm(
        total=parts.steps,
        initial=stats.step,
        desc=f"epoch {stats.epoch + 1}/{cfg.epochs}",
        leave=False,
        dynamic_ncols=True,
        disable=not (cfg.progress and ctx.is_main),
    )
    try:
        train_one_epoch(
            parts.train_model,
            loader,
            parts.optimizer,
            stats=stats,
            device=ctx.device,
            scheduler=parts.scheduler,
            lift_loss=parts.lift_loss,
            amp_dtype=parts.amp_dtype,
            scaler=parts.scaler,
            grad_clip=cfg.grad_clip,
            channels_last=cfg.channels_last,
            interrupt=interrupt,
            progress=bar,
            normalization=parts.normalization,
            mix=parts.mix,
            label_smoothing=cfg.label_smoothing if parts.mix is None else 0.0,
        )
    finally:
        bar.close()
    train = _global_summary(stats)
    broadcast_buffers(parts.raw)  # every rank evaluates (and stores) rank 0's BatchNorm statistics
    return train


def _epoch_batches(
    loader: EpochLoader,
    dataset: Dataset,
    cfg: TrainConfig,
    ctx: DistributedContext,
    epoch: int,
    start_step: int,
    steps: int,
) -> DataLoader:
    """The DataLoader of epoch ``epoch``, skipping the ``start_step`` batches already trained."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    sampler.set_epoch(epoch)
    order = list(sampler)[: steps * cfg.batch_size] if len(sampler) >= cfg.batch_size else list(sampler)
    return loader.epoch(epoch, order[start_step * cfg.batch_size :])


def _global_summary(stats: EpochStats) -> dict[str, float]:
    """The epoch's training means over the clips of every rank."""
    parts = all_gather_objects((stats.loss, stats.ce, stats.lift, stats.correct, stats.count))
    loss, ce, lift, correct, count = (sum(p[i] for p in parts) for i in range(5))
    total = EpochStats(stats.epoch, loss=loss, ce=ce, lift=lift, correct=correct, count=count)
    return total.summary()


def _validate(
    parts: _Parts, val_set: Dataset | None, class_names: list[str], *, cfg: TrainConfig, ctx: DistributedContext
) -> dict[str, Any] | None:
    """The validation report (``loss``, ``uar``, ``war``, ...), or ``None`` without a validation set."""
    if val_set is None:
        return None
    batch_size = cfg.eval_batch_size or 2 * cfg.batch_size
    if parts.val_batches is None:  # kept for the next epochs: its workers persist
        parts.val_batches = shard_loader(
            val_set, batch_size=batch_size, device=ctx.device, ctx=ctx, num_workers=cfg.num_workers, persistent=True
        )
    return evaluate(
        parts.eval_model,
        val_set,
        class_names=class_names,
        device=ctx.device,
        batch_size=batch_size,
        ctx=ctx,
        amp_dtype=parts.amp_dtype,
        num_workers=cfg.num_workers,
        channels_last=cfg.channels_last,
        progress=cfg.progress,
        desc="val",
        normalization=parts.normalization,
        loader=parts.val_batches,
    ).report


def _select(
    progress: _Progress, epoch: int, val: dict[str, Any] | None, *, metric: str, train: dict[str, float]
) -> bool:
    """Whether ``epoch`` is the best so far on ``metric`` of the validation report (higher is better), or of lowest
    training loss (``metric="train_loss"``); without validation every epoch is (the last one is kept). Updates
    ``progress.best``."""
    value = selection_score(metric, train, val, epoch)
    improved = value > progress.best["value"]
    if improved:
        progress.best = {"epoch": epoch + 1, "value": value, "val": val}
    return improved


def _epoch_record(
    stats: EpochStats,
    train: dict[str, float],
    val: dict[str, Any] | None,
    best: dict[str, Any],
    *,
    lr: float,
    metric: str,
) -> dict[str, Any]:
    """The epoch's line of ``metrics.jsonl`` / ``metrics.csv``."""
    if metric == "train_loss":  # the selection's own number: the lowest training loss so far
        selected = {"best_train_loss": -best["value"]}
    else:
        selected = {f"best_val_{metric}": best["value"] if val else None}
    return {
        "epoch": stats.epoch + 1,
        "lr": lr,
        "train_loss": train["loss"],
        "train_ce": train["ce"],
        "train_lift": train["lift"],
        "train_acc": train["acc"],
        "val_loss": val["loss"] if val else None,
        "val_uar": val["uar"] if val else None,
        "val_war": val["war"] if val else None,
        **selected,
        "best_epoch": best["epoch"],
        "epoch_seconds": round(stats.seconds, 3),
    }


def _log(writer: MetricWriter, stats: EpochStats, record: dict[str, Any], val: dict[str, Any] | None, *,
         improved: bool, epochs: int) -> None:  # fmt: skip
    """Rank 0: the epoch's line in the metric files and on the ``lifting_dfer.training.trainer`` logger."""
    writer.log(record)
    logger.info(
        "epoch %d/%d  lr %.2e  train loss %.4f (ce %.4f, lift %.4f) acc %.3f%s  [%.1fs]",
        stats.epoch + 1,
        epochs,
        record["lr"],
        record["train_loss"],
        record["train_ce"],
        record["train_lift"],
        record["train_acc"],
        f"  val UAR {val['uar']:.4f} WAR {val['war']:.4f} loss {val['loss']:.4f}" + ("  *best*" if improved else "")
        if val
        else "",
        stats.seconds,
    )


def _end_epoch(parts: _Parts, progress: _Progress, checkpoints: _Checkpoints) -> None:
    """``last.pt`` after the finished epoch (every rank takes part), then the ranks wait for each other."""
    if progress.current is None:
        raise RuntimeError("_end_epoch: no epoch was begun")
    epoch = progress.current.epoch
    progress.current = None
    checkpoints.save_last(parts, progress, epoch + 1, None)
    barrier()


def _save_interrupted(parts: _Parts, progress: _Progress, checkpoints: _Checkpoints) -> None:
    """Rank 0 on Ctrl-C / SIGTERM: ``last.pt`` with the steps taken in the epoch being trained, if any."""
    stats = progress.current
    if stats is None:
        logger.warning("interrupted between epochs: %s holds the last finished epoch", checkpoints.last_path)
        return
    checkpoints.save_last(parts, progress, stats.epoch, stats)  # inside epoch `stats.epoch`, after `stats.step` steps
    logger.warning(
        "interrupted in epoch %d after step %d: saved %s", stats.epoch + 1, stats.step, checkpoints.last_path
    )


def _finish(checkpoints: _Checkpoints, progress: _Progress) -> FitResult:
    """The best epoch and the checkpoint paths, once every rank is done."""
    if not checkpoints.best_path.is_file() and checkpoints.ctx.is_main:  # a resumed run whose epochs were all done
        raise FileNotFoundError(f"{checkpoints.best_path} is missing: the run folder is incomplete")
    barrier()
    best = progress.best
    return FitResult(
        best_epoch=best["epoch"],
        best_val=best["val"],
        best_path=checkpoints.best_path,
        last_path=checkpoints.last_path,
        history=progress.history,
    )
