"""Evaluate a checkpoint on a dataset split: ``metrics.json`` (UAR, WAR, per-class recall, confusion) and a
confusion-matrix PNG. Entry point of ``examples/evaluate.py`` and ``lifting-dfer evaluate``.

The dataset, fold, frames and size default to what the checkpoint was trained with (its stored config), so
``python examples/evaluate.py runs/<run>/fold1/best.pt`` re-scores the test split of that run; the synthetic
demo's checkpoints find their synthetic data again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import DATASETS, TrainConfig, parse_key_values
from .distributed import DistributedContext, cleanup_distributed, setup_distributed
from .engine import autocast_dtype, evaluate
from .history import atomic_write_text

__all__ = ["build_eval_parser", "evaluate_checkpoint", "evaluate_main"]

logger = logging.getLogger(__name__)


def build_eval_parser() -> argparse.ArgumentParser:
    """The argument parser of ``examples/evaluate.py``."""
    p = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Evaluate a lifting_dfer checkpoint on a dataset split; writes metrics.json and confusion.png.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("checkpoint", help="a checkpoint written by the training scripts (best.pt / last.pt)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default=None, help="default: the checkpoint's")
    p.add_argument("--data-root", default=None, help="dataset folder (default: the checkpoint's)")
    p.add_argument("--data-arg", action="append", metavar="KEY=VALUE", default=None, help="extra dataset argument")
    p.add_argument("--fold", type=int, default=None, help="fold 1..5 (default: the checkpoint's)")
    p.add_argument(
        "--split",
        choices=("test", "val", "train"),
        default="test",
        help="test split, or the held-out val / remaining train part of the 4:1 split",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "none"), default="auto")
    p.add_argument("--output-dir", default=None, help="default: <checkpoint folder>/eval-<split>")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def _stored_config(ckpt: dict[str, Any]) -> TrainConfig:
    stored = ckpt.get("config")
    if isinstance(stored, dict):
        try:
            return TrainConfig.from_dict(stored)
        except (TypeError, ValueError):
            logger.warning("the checkpoint's stored config is unreadable; using defaults")
    kwargs = ckpt.get("arch_kwargs", {})
    return TrainConfig(num_frames=kwargs.get("num_frames"), size=int(ckpt.get("input_size", 224)))


def _evaluation_config(
    ckpt: dict[str, Any],
    *,
    dataset: str | None,
    data_root: str | os.PathLike | None,
    data_args: dict[str, Any] | None,
    fold: int | None,
    device: str,
    amp: str,
) -> TrainConfig:
    """The checkpoint's training config with what this evaluation changes: the data, the fold, the hardware, and
    the clip geometry of the checkpoint's model."""
    cfg = _stored_config(ckpt)
    changes: dict[str, Any] = {
        "fold": str(fold if fold is not None else ckpt.get("fold", 1)),
        "device": device,
        "amp": amp,
    }
    if dataset is not None and dataset != cfg.dataset:
        changes["dataset"] = dataset
    if data_root is not None:
        changes["data_root"] = str(data_root)
    elif "dataset" in changes:
        raise ValueError(
            f"--data-root is needed to evaluate on {dataset} (the checkpoint was trained on {cfg.dataset})"
        )
    if data_args:
        changes["data_args"] = {**cfg.data_args, **data_args}
    arch_kwargs = ckpt["arch_kwargs"]
    changes["num_frames"] = int(arch_kwargs.get("num_frames", cfg.frames))
    changes["size"] = int(ckpt.get("input_size", arch_kwargs.get("image_size", cfg.size)))
    return TrainConfig.from_dict({**cfg.to_dict(), **changes})


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_root: str | os.PathLike | None = None,
    data_args: dict[str, Any] | None = None,
    fold: int | None = None,
    split: str = "test",
    batch_size: int = 32,
    num_workers: int = 2,
    device: str = "auto",
    amp: str = "auto",
    output_dir: str | os.PathLike | None = None,
    progress: bool = False,
    ctx: DistributedContext | None = None,
) -> dict[str, Any]:
    """Score ``checkpoint`` on a split; write ``metrics.json`` and ``confusion.png``; return the metrics dict.

    Returns:
        ``classification_report`` (``uar``, ``war``, ``per_class``, ``support``, ``confusion``, ``class_names``),
        plus ``loss``, ``checkpoint``, ``dataset``, ``fold``, ``split``, ``num_clips`` and the file paths.

    Raises:
        FileNotFoundError, ValueError: a missing/corrupt checkpoint, missing data, or a checkpoint whose classes
            do not match the dataset's.
    """
    from ..checkpoint import model_from_checkpoint
    from ..normalization import checkpoint_normalization
    from .runner import build_datasets, dataset_root

    ctx = ctx or setup_distributed(device)
    checkpoint = Path(checkpoint)
    model, ckpt = model_from_checkpoint(checkpoint, map_location="cpu")
    cfg = _evaluation_config(
        ckpt, dataset=dataset, data_root=data_root, data_args=data_args, fold=fold, device=device, amp=amp
    )
    root = dataset_root(cfg, ctx)
    train, val, test = build_datasets(cfg, cfg.folds[0], root)
    data = {"test": test, "val": val, "train": train}[split]
    if data is None:
        raise ValueError("--split val: this run used no validation split (val_fraction 0)")
    if list(data.class_names) != list(ckpt["class_names"]):
        raise ValueError(
            f"checkpoint {checkpoint} predicts {len(ckpt['class_names'])} classes ({', '.join(ckpt['class_names'])}); "
            f"{cfg.dataset} has {len(data.class_names)} ({', '.join(data.class_names)})"
        )
    model.to(ctx.device)
    result = evaluate(
        model,
        data,
        class_names=list(data.class_names),
        device=ctx.device,
        batch_size=batch_size,
        ctx=ctx,
        amp_dtype=autocast_dtype(cfg.amp, ctx.device),
        num_workers=num_workers,
        progress=progress,
        desc=split,
        normalization=checkpoint_normalization(ckpt),
    )
    out = Path(output_dir) if output_dir is not None else checkpoint.parent / f"eval-{split}"
    metrics = {
        **result.report,
        "checkpoint": str(checkpoint),
        "model": ckpt["arch"],
        "dataset": cfg.dataset,
        "data_root": str(root),
        "fold": cfg.folds[0],
        "split": split,
        "num_clips": len(data),
        "metrics_json": str(out / "metrics.json"),
        "confusion_png": str(out / "confusion.png"),
    }
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        try:
            from ..viz import plot_confusion_matrix

            plot_confusion_matrix(
                result.report["confusion"],
                result.report["class_names"],
                out / "confusion.png",
                title=f"{ckpt['arch']} on {cfg.dataset} fold {cfg.folds[0]} ({split})",
            )
        except ImportError as err:  # matplotlib is the optional [viz] extra: keep the metrics anyway
            logger.warning("no confusion-matrix plot: %s", err)
            metrics["confusion_png"] = None
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``examples/evaluate.py`` / ``lifting-dfer evaluate``; returns the exit status."""
    parser = build_eval_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stdout, format="%(message)s")
    logging.getLogger("lifting_dfer").setLevel(logging.INFO)
    try:
        data_args = parse_key_values(args.data_arg, "--data-arg")
        metrics = evaluate_checkpoint(
            args.checkpoint,
            dataset=args.dataset,
            data_root=args.data_root,
            data_args=data_args,
            fold=args.fold,
            split=args.split,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            device=args.device,
            amp=args.amp,
            output_dir=args.output_dir,
            progress=args.progress,
        )
    except (FileNotFoundError, ValueError, ImportError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    finally:
        cleanup_distributed()
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            f"{metrics['model']} on {metrics['dataset']} fold {metrics['fold']} {metrics['split']} "
            f"({metrics['num_clips']} clips): UAR {100 * metrics['uar']:.2f}  WAR {100 * metrics['war']:.2f}"
        )
        plot = f" and {metrics['confusion_png']}" if metrics["confusion_png"] else ""
        print(f"wrote {metrics['metrics_json']}{plot}")
    return 0
