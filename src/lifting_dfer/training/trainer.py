"""``fit``: train one model on one (train, val) split with checkpoints, per-epoch logs and exact resume.

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

import logging
import math
import random
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..checkpoint import check_checkpoint_matches, load_checkpoint, load_model_state, save_checkpoint
from ..loss import LiftLoss
from .config import TrainConfig
from .distributed import DistributedContext, all_gather_objects, barrier, broadcast_buffers
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


def _epoch_batches(
    dataset: Dataset, cfg: TrainConfig, ctx: DistributedContext, epoch: int, start_step: int, steps: int
) -> DataLoader:
    """The DataLoader of epoch ``epoch``, skipping the ``start_step`` batches already trained."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    sampler.set_epoch(epoch)
    order = list(sampler)[: steps * cfg.batch_size] if len(sampler) >= cfg.batch_size else list(sampler)
    order = order[start_step * cfg.batch_size :]
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=order,
        num_workers=cfg.num_workers,
        pin_memory=ctx.device.type == "cuda",
        generator=torch.Generator().manual_seed(cfg.seed * 1000003 + epoch),
    )


def _global_summary(stats: EpochStats) -> dict[str, float]:
    """The epoch's training means over the clips of every rank."""
    parts = all_gather_objects((stats.loss, stats.ce, stats.lift, stats.correct, stats.count))
    loss, ce, lift, correct, count = (sum(p[i] for p in parts) for i in range(5))
    total = EpochStats(stats.epoch, loss=loss, ce=ce, lift=lift, correct=correct, count=count)
    return total.summary()


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
        extra: more top-level checkpoint fields (e.g. ``fold``).
        interrupt: a [`GracefulInterrupt`][lifting_dfer.training.GracefulInterrupt] (default: a new one installed for
            the duration of the call).

    Raises:
        FileExistsError: ``folder`` already holds a run and ``resume`` is false.
        FileNotFoundError, ValueError: ``resume`` with a missing, corrupt or mismatching checkpoint.
        KeyboardInterrupt: after saving ``last.pt`` when interrupted.
    """
    from tqdm.auto import tqdm

    from .distributed import resolve_device

    ctx = ctx or DistributedContext(device=resolve_device(cfg.device))
    folder = Path(folder)
    last_path, best_path = folder / "last.pt", folder / "best.pt"
    device = ctx.device
    class_names = list(class_names)
    val_set = val_set if val_set is not None and len(cast(Sized, val_set)) > 0 else None
    if resume and not last_path.is_file():
        raise FileNotFoundError(f"cannot resume: {last_path} does not exist (the run never finished an epoch?)")
    if not resume and last_path.exists():
        raise FileExistsError(
            f"{folder} already holds a run ({last_path.name}); resume it with --resume "
            f"{folder.parent} or choose another --output-dir"
        )

    raw = model.to(device)
    if cfg.channels_last:
        to_channels_last(raw)
    optimizer = torch.optim.AdamW(raw.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = steps_per_epoch(len(cast(Sized, train_set)), cfg.batch_size, ctx.world_size)
    scheduler = WarmupCosine(
        optimizer,
        total_steps=cfg.epochs * steps,
        warmup_steps=cfg.warmup_epochs * steps,
        warmup_lr=cfg.warmup_lr,
        min_lr=cfg.min_lr,
    )
    amp_dtype = autocast_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    lift_loss = LiftLoss(weight=cfg.lift_weight).to(device) if cfg.lift_weight > 0 else None
    select = f"val_{cfg.select_metric}"

    start_epoch, partial = 0, None
    best: dict[str, Any] = {"epoch": 0, "value": -math.inf, "val": None}
    history: list[dict[str, Any]] = []
    if resume:
        ckpt = load_checkpoint(last_path, map_location="cpu")
        check_checkpoint_matches(
            ckpt, arch=arch, num_classes=len(class_names), class_names=class_names, source=f"checkpoint {last_path}"
        )
        load_model_state(raw, ckpt, source=f"checkpoint {last_path}")
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt.get("scaler") or {})
        except (KeyError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"checkpoint {last_path} cannot resume this run (optimizer/schedule state): {err}"
            ) from err
        start_epoch = int(ckpt["epoch"])
        partial = EpochStats.from_dict(ckpt["partial"]) if ckpt.get("partial") else None
        best = dict(ckpt["best"])
        history = list(ckpt.get("history", []))
        rng = ckpt.get("rng") or []
        if len(rng) == ctx.world_size:
            set_rng_state(rng[ctx.rank], device)
        else:
            logger.warning(
                "checkpoint has RNG states of %d process(es), this run has %d: re-seeding (the resumed "
                "run will not match an uninterrupted one exactly)",
                len(rng),
                ctx.world_size,
            )
            torch.manual_seed(cfg.seed + 7919 * (ctx.rank + 1) + start_epoch)
        where = f"epoch {start_epoch + 1}, step {partial.step}" if partial else f"epoch {start_epoch + 1}"
        logger.info("resuming %s from %s", where, last_path)

    train_model: nn.Module = raw
    eval_model: nn.Module = raw
    if cfg.compile:
        train_model = eval_model = cast(nn.Module, torch.compile(raw))  # an OptimizedModule for a module
    if ctx.distributed:
        ddp_ids = [device.index] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(train_model, device_ids=ddp_ids)

    writer = MetricWriter(folder, tensorboard=cfg.tensorboard) if ctx.is_main else None
    if writer is not None and (resume or writer.jsonl_path.exists()):
        writer.rewrite(history)  # drop lines of epochs that were logged but not checkpointed (trained again)

    def checkpoint_state(epoch_done: int, stats: EpochStats | None) -> dict[str, Any]:
        rng = all_gather_objects(get_rng_state(device)) if stats is None else [get_rng_state(device)]
        return {
            "epoch": epoch_done,
            "partial": stats.to_dict() if stats is not None else None,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng,
            "best": best,
            "history": history,
            "config": cfg.to_dict(),
            "input_size": cfg.size,
            "world_size": ctx.world_size,
            **dict(extra or {}),
        }

    def save_last(epoch_done: int, stats: EpochStats | None) -> None:
        state = checkpoint_state(epoch_done, stats)  # collective when stats is None: every rank calls it
        if ctx.is_main:
            save_checkpoint(last_path, raw, arch=arch, arch_kwargs=arch_kwargs, class_names=class_names, **state)

    own_interrupt = interrupt is None
    interrupt = interrupt or GracefulInterrupt()
    eval_bs = cfg.eval_batch_size or 2 * cfg.batch_size
    epoch = start_epoch
    stats: EpochStats | None = None
    try:
        if own_interrupt:
            interrupt.__enter__()
        for epoch in range(start_epoch, cfg.epochs):
            stats = partial if partial is not None and partial.epoch == epoch else EpochStats(epoch)
            partial = None
            loader = _epoch_batches(train_set, cfg, ctx, epoch, stats.step, steps)
            bar = tqdm(
                total=steps,
                initial=stats.step,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                leave=False,
                dynamic_ncols=True,
                disable=not (cfg.progress and ctx.is_main),
            )
            try:
                train_one_epoch(
                    train_model,
                    loader,
                    optimizer,
                    stats=stats,
                    device=device,
                    scheduler=scheduler,
                    lift_loss=lift_loss,
                    amp_dtype=amp_dtype,
                    scaler=scaler,
                    grad_clip=cfg.grad_clip,
                    channels_last=cfg.channels_last,
                    interrupt=interrupt,
                    progress=bar,
                )
            finally:
                bar.close()
            train = _global_summary(stats)
            broadcast_buffers(raw)  # every rank evaluates (and stores) rank 0's BatchNorm statistics
            val = None
            if val_set is not None:
                val = evaluate(
                    eval_model,
                    val_set,
                    class_names=class_names,
                    device=device,
                    batch_size=eval_bs,
                    ctx=ctx,
                    amp_dtype=amp_dtype,
                    num_workers=cfg.num_workers,
                    channels_last=cfg.channels_last,
                    progress=cfg.progress,
                    desc="val",
                ).report
            if interrupt.requested:
                raise TrainingInterrupted
            value = val[cfg.select_metric] if val is not None else float(epoch)
            improved = value > best["value"]
            if improved:
                best = {"epoch": epoch + 1, "value": value, "val": val}
            record = {
                "epoch": epoch + 1,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": train["loss"],
                "train_ce": train["ce"],
                "train_lift": train["lift"],
                "train_acc": train["acc"],
                "val_loss": val["loss"] if val else None,
                "val_uar": val["uar"] if val else None,
                "val_war": val["war"] if val else None,
                f"best_{select}": best["value"] if val else None,
                "best_epoch": best["epoch"],
                "epoch_seconds": round(stats.seconds, 3),
            }
            history.append(record)
            if ctx.is_main and writer is not None:  # the writer exists on the main rank only
                if improved:
                    save_checkpoint(
                        best_path,
                        raw,
                        arch=arch,
                        arch_kwargs=arch_kwargs,
                        class_names=class_names,
                        epoch=epoch + 1,
                        val=val,
                        config=cfg.to_dict(),
                        input_size=cfg.size,
                        **dict(extra or {}),
                    )
                writer.log(record)
                logger.info(
                    "epoch %d/%d  lr %.2e  train loss %.4f (ce %.4f, lift %.4f) acc %.3f%s  [%.1fs]",
                    epoch + 1,
                    cfg.epochs,
                    record["lr"],
                    train["loss"],
                    train["ce"],
                    train["lift"],
                    train["acc"],
                    f"  val UAR {val['uar']:.4f} WAR {val['war']:.4f} loss {val['loss']:.4f}"
                    + ("  *best*" if improved else "")
                    if val
                    else "",
                    stats.seconds,
                )
            stats = None
            save_last(epoch + 1, None)
            barrier()
    except KeyboardInterrupt as err:
        if isinstance(err, TrainingInterrupted) and ctx.is_main:
            if stats is not None:  # inside epoch `epoch`, after `stats.step` whole steps
                save_checkpoint(
                    last_path,
                    raw,
                    arch=arch,
                    arch_kwargs=arch_kwargs,
                    class_names=class_names,
                    **checkpoint_state(epoch, stats),
                )
                logger.warning("interrupted in epoch %d after step %d: saved %s", epoch + 1, stats.step, last_path)
            else:
                logger.warning("interrupted between epochs: %s holds the last finished epoch", last_path)
        raise
    finally:
        if own_interrupt:
            interrupt.__exit__(None, None, None)
        if writer is not None:
            writer.close()
    if not best_path.is_file() and ctx.is_main:  # a resumed run whose epochs were all done already
        raise FileNotFoundError(f"{best_path} is missing: the run folder is incomplete")
    barrier()
    return FitResult(
        best_epoch=best["epoch"], best_val=best["val"], best_path=best_path, last_path=last_path, history=history
    )
