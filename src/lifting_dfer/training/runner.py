"""The training scripts' driver: datasets and model from a [`TrainConfig`][lifting_dfer.training.TrainConfig], one or
all folds, test metrics, the fold summary table, resume, and the command-line entry point
[`main`][lifting_dfer.training.main].

Run folder (``--output-dir``, default ``runs/<dataset>-<model>-<YYYYmmdd-HHMMSS>``)::

    config.json                 the full configuration (a resumed run reads it back) and data_manifest: the
                                frame folder and fingerprint of the data (see lifting-dfer check-data)
    fold1/  last.pt best.pt metrics.jsonl metrics.csv test_metrics.json test_confusion.png
    fold2/  ...                 (with --fold all)
    summary.json summary.md     each finished fold and the mean (updated after every fold)
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..normalization import IMAGENET, Normalization
from .config import DATASETS, RESUME_OVERRIDABLE, TrainConfig, config_from_args
from .distributed import DistributedContext, barrier, broadcast_object, cleanup_distributed, setup_distributed
from .engine import autocast_dtype, evaluate
from .history import atomic_write_text
from .trainer import fit

__all__ = ["build_datasets", "build_model", "main", "record_data", "resolve_resume", "run", "summarize_folds"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed torch, Python and NumPy global RNGs."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def dataset_root(cfg: TrainConfig, ctx: DistributedContext | None = None) -> Path:
    """``cfg.data_root``, or the synthetic DFEW of the demo (written by rank 0 if missing)."""
    if cfg.data_root is not None:
        return Path(cfg.data_root)
    from ..data import make_synthetic_dfew

    root = Path(cfg.synthetic_root)
    if ctx is None or ctx.is_main:
        overwrite = (root / "synthetic_dfew.json").is_file()  # only ever replace our own synthetic data
        make_synthetic_dfew(
            root, clips_per_class=cfg.synthetic_clips_per_class, size=max(cfg.size, 64), overwrite=overwrite
        )
    barrier()
    return root


def build_datasets(cfg: TrainConfig, fold: int, root: Path) -> tuple[Any, Any, Any]:
    """``(train, val, test)`` of ``fold``: the official training split divided 4:1 (stratified) and the test split."""
    from ..data import DFEW, MAFW, FERV39k, train_val_split

    common = {"num_frames": cfg.frames, "size": cfg.size, "output": cfg.data_output, **cfg.data_args}
    transforms = _transforms(cfg)
    if cfg.dataset == "folder":  # your own videos, prepared by lifting-dfer prepare: its manifest gives the splits
        from ..data.folder import folder_datasets

        return folder_datasets(root, val_fraction=cfg.val_fraction, seed=cfg.seed, **common)
    make: Callable[[Literal["train", "test"]], Any]
    if cfg.dataset == "dfew":
        make = lambda split, **kw: DFEW(root, fold=fold, split=split, seed=cfg.seed, **common, **kw)  # noqa: E731
    elif cfg.dataset == "mafw":
        make = lambda split, **kw: MAFW(root, fold=fold, split=split, seed=cfg.seed, **common, **kw)  # noqa: E731
    else:
        make = lambda split, **kw: FERV39k(root, split=split, seed=cfg.seed, **common, **kw)  # noqa: E731
    try:
        train_full, test = make("train", **transforms(True)), make("test", **transforms(False))
    except TypeError as err:  # an unknown --data-arg
        raise ValueError(f"--data-arg: {err}") from err
    if cfg.val_fraction > 0:
        train, val = train_val_split(train_full, cfg.val_fraction, seed=cfg.seed)
        val.transform = transforms(False).get("transform", val.transform)
    else:
        train, val = train_full, None
    return train, val, test


def _transforms(cfg: TrainConfig):
    """``train -> {"transform": ...}`` for the datasets: the default ``ClipTransform`` (``{}``) unless the recipe's
    augmentation differs from the paper's, or the items are normalised floats and the model's input normalisation
    is not ImageNet's (uint8 and JPEG items are normalised on the device with the run's)."""
    from ..models import input_normalization
    from .recipes import clip_transform

    normalization = input_normalization(cfg.model)
    if cfg.augment == "crop_flip" and (cfg.data_output != "float" or normalization == IMAGENET):
        return lambda train: {}
    if cfg.data_output == "jpeg" or cfg.dataset == "folder":
        raise ValueError(
            f"--augment {cfg.augment}: needs decoded frames of DFEW, FERV39k or MAFW; use --data-output uint8 or "
            f"float (got --data-output {cfg.data_output}, --dataset {cfg.dataset})"
        )
    return lambda train: {"transform": clip_transform(cfg, train=train, normalization=normalization)}


def build_model(cfg: TrainConfig, num_classes: int) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of ``cfg.model`` and the builder arguments that rebuild it from a checkpoint."""
    from ..models import create_model

    arch_kwargs: dict[str, Any] = {
        "num_classes": num_classes,
        "num_frames": cfg.frames,
        "image_size": cfg.size,
        **cfg.model_args,
    }
    if cfg.pretrained is not None:
        arch_kwargs["pretrained"] = cfg.pretrained
    try:
        model = create_model(cfg.model, **arch_kwargs)
    except TypeError as err:  # an unknown --model-arg
        raise ValueError(f"--model {cfg.model} with {cfg.model_args}: {err}") from err
    return model, arch_kwargs


def _normalization(cfg: TrainConfig) -> dict[str, list[float]]:
    """The input normalisation of ``cfg.model``, as checkpoints record it."""
    from ..models import input_normalization

    return input_normalization(cfg.model).to_dict()


def _fold_dir(run_dir: Path, fold: int) -> Path:
    return run_dir / f"fold{fold}"


def summarize_folds(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rows ``fold, best_epoch, val_uar, test_uar, test_war`` per fold, their mean and (sample) std, and markdown.

    Examples:
        >>> s = summarize_folds([{"fold": 1, "best_epoch": 3, "val_uar": 0.5, "test_uar": 0.4, "test_war": 0.6},
        ...                      {"fold": 2, "best_epoch": 2, "val_uar": 0.7, "test_uar": 0.6, "test_war": 0.8}])
        >>> round(s["mean"]["test_uar"], 6), round(s["mean"]["test_war"], 6)
        (0.5, 0.7)
    """
    keys = ("val_uar", "test_uar", "test_war")
    rows = [dict(r) for r in results]
    given = {k: [r[k] for r in rows if r[k] is not None] for k in keys}  # no val_uar without a validation split
    mean = {k: float(np.mean(v)) if v else math.nan for k, v in given.items()}
    std = {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in given.items()}

    def pct(v: float | None) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"

    lines = ["| fold | best epoch | val UAR | test UAR | test WAR |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [
        f"| {r['fold']} | {r['best_epoch']} | {pct(r['val_uar'])} | {pct(r['test_uar'])} | {pct(r['test_war'])} |"
        for r in rows
    ]
    if len(rows) > 1:
        lines.append(f"| mean | | {pct(mean['val_uar'])} | {pct(mean['test_uar'])} | {pct(mean['test_war'])} |")
        lines.append(f"| std | | {pct(std['val_uar'])} | {pct(std['test_uar'])} | {pct(std['test_war'])} |")
    return {"folds": rows, "mean": mean, "std": std, "markdown": "\n".join(lines) + "\n"}


def _plot_confusion(report: dict[str, Any], path: Path, title: str) -> None:
    try:
        from ..viz import plot_confusion_matrix

        plot_confusion_matrix(report["confusion"], report["class_names"], path, title=title)
    except ImportError as err:  # matplotlib is an optional extra
        logger.warning("no confusion-matrix plot: %s", err)


def _train_fold(
    cfg: TrainConfig, fold: int, run_dir: Path, root: Path, ctx: DistributedContext, resume: bool
) -> dict[str, Any]:
    folder = _fold_dir(run_dir, fold)
    done = folder / "test_metrics.json"
    if resume and done.is_file():
        logger.info("fold %d already finished (%s)", fold, done)
        return json.loads(done.read_text())["summary"]
    resume_fold = resume and (folder / "last.pt").is_file()
    seed_everything(cfg.seed)
    train, val, test = build_datasets(cfg, fold, root)
    class_names = list(train.class_names)
    model, arch_kwargs = build_model(cfg, len(class_names))
    if cfg.init is not None or cfg.freeze:
        from .finetune import start_from

        start_from(model, cfg, class_names, resume=resume_fold)
    seed_everything(cfg.seed + 1 + ctx.rank)  # dropout etc.: different streams per rank
    fold_label = f"fold {fold}" if DATASETS[cfg.dataset]["folds"] else "train/test split"
    logger.info(
        "%s %s: %d train / %d val / %d test clips, %s (%s)",
        cfg.dataset.upper(),
        fold_label,
        len(train),
        len(val) if val is not None else 0,
        len(test),
        cfg.model,
        ", ".join(f"{k}={v}" for k, v in arch_kwargs.items()),
    )
    from ..video.sampling import training_sampling  # the clips' frame rate, for predict (None: synthetic data)

    if hasattr(train, "training_sampling"):  # a folder of your own videos: T0 over its clips' mean duration
        sampling = train.training_sampling(cfg.frames).to_dict()
    else:
        sampling = training_sampling(cfg.dataset if cfg.data_root is not None else None, cfg.frames).to_dict()
    result = fit(
        model,
        train,
        val,
        cfg=cfg,
        folder=folder,
        arch=cfg.model,
        arch_kwargs=arch_kwargs,
        class_names=class_names,
        ctx=ctx,
        resume=resume_fold,
        extra={"fold": fold, "dataset": cfg.dataset, "sampling": sampling, "normalization": _normalization(cfg)},
    )

    from ..checkpoint import load_checkpoint, load_model_state

    load_model_state(model, load_checkpoint(result.best_path), source=str(result.best_path))
    eval_bs = cfg.eval_batch_size or 2 * cfg.batch_size
    amp_dtype = autocast_dtype(cfg.amp, ctx.device)
    report = evaluate(
        model,
        test,
        class_names=class_names,
        device=ctx.device,
        batch_size=eval_bs,
        ctx=ctx,
        amp_dtype=amp_dtype,
        num_workers=cfg.num_workers,
        progress=cfg.progress,
        desc="test",
        normalization=Normalization.from_dict(_normalization(cfg)),
        views=cfg.test_clips,
    ).report
    summary = {
        "fold": fold,
        "best_epoch": result.best_epoch,
        "val_uar": result.best_val["uar"] if result.best_val else None,
        "test_uar": report["uar"],
        "test_war": report["war"],
    }
    if ctx.is_main:
        _plot_confusion(report, folder / "test_confusion.png", f"{cfg.model} {cfg.dataset} {fold_label} (test)")
        payload = {
            "summary": summary,
            "test": report,
            "val": result.best_val,
            "checkpoint": str(result.best_path),
            "dataset": cfg.dataset,
            "model": cfg.model,
        }
        atomic_write_text(done, json.dumps(payload, indent=2) + "\n")
        logger.info(
            "%s: test UAR %.2f  WAR %.2f  (best epoch %d)",
            fold_label,
            100 * report["uar"],
            100 * report["war"],
            result.best_epoch,
        )
    barrier()
    return summary


def record_data(cfg: TrainConfig, root: Path) -> None:
    """Check the data as ``lifting-dfer check-data`` does (names and sizes, no decoding), log it, and store the
    frame folder and fingerprint in ``cfg.data_manifest`` (a resumed run whose data changed gets a warning)."""
    from ..data.check import check_dataset

    report = check_dataset(cfg.dataset, root, num_frames=cfg.frames, **cfg.data_args)
    record = report.record()
    logger.info(
        "data: %s at %s, frame folder %s (%s), %d clips, %d frames, fingerprint %s (%.1f s)",
        report.dataset,
        report.root,
        report.frames_dir,
        report.frames_note or "given",
        report.clips,
        report.frames,
        report.fingerprint,
        report.seconds,
    )
    if report.problems:
        logger.warning(
            "the data has %d problem(s), e.g. %s; `lifting-dfer check-data %s %s` lists them all",
            len(report.problems),
            report.problems[0].message,
            cfg.dataset,
            report.root,
        )
    previous = cfg.data_manifest
    if previous and (previous.get("fingerprint"), previous.get("frames_dir")) != (
        record["fingerprint"],
        record["frames_dir"],
    ):
        logger.warning(
            "the data differ from when this run started: frame folder %s, fingerprint %s then; %s, %s now",
            previous.get("frames_dir"),
            previous.get("fingerprint"),
            record["frames_dir"],
            record["fingerprint"],
        )
    cfg.data_manifest = record


def _fetch_backbone_weights(cfg: TrainConfig) -> None:
    """Log the backbone's starting point; download the pretrained weights now (once, before other ranks load)."""
    if cfg.pretrained is None or cfg.pretrained is False:
        if cfg.init is not None:
            logger.info("weights: from --init %s", cfg.init)
        elif cfg.demo:
            logger.info("backbone: from scratch (the demo runs offline)")
        else:
            logger.warning(
                "training %s from scratch (--pretrained none): the paper starts from ImageNet (2DCNN) / "
                "Kinetics-400 (3DViT) backbone weights; expect much lower accuracy",
                cfg.model,
            )
        return
    from ..backbones import resolve_weights
    from ..models import paper_weights

    name = paper_weights(cfg.model) if cfg.pretrained is True else cfg.pretrained
    logger.info("backbone weights: %s (%s)", name, resolve_weights(name, progress=cfg.progress))


def _default_run_dir(cfg: TrainConfig) -> Path:
    name = "demo" if cfg.demo else cfg.dataset
    return Path("runs") / f"{name}-{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def run(cfg: TrainConfig, *, ctx: DistributedContext | None = None) -> dict[str, Any]:
    """Train every fold of ``cfg`` (resuming when ``cfg.resume`` is set) and return
    [`summarize_folds`][lifting_dfer.training.summarize_folds].

    Raises:
        FileExistsError: the run folder already holds a run and ``cfg.resume`` is not set.
    """
    ctx = ctx or setup_distributed(cfg.device)
    resume = cfg.resume is not None
    run_dir = (
        Path(cfg.output_dir) if cfg.output_dir else broadcast_object(_default_run_dir(cfg) if ctx.is_main else None)
    )
    cfg.output_dir = str(run_dir)
    if not resume and (run_dir / "config.json").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --output-dir"
        )
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        logger.info("run folder: %s%s", run_dir, " (demo preset: synthetic DFEW on the CPU)" if cfg.demo else "")
    root = dataset_root(cfg, ctx)
    if ctx.is_main:
        record_data(cfg, root)
        _fetch_backbone_weights(cfg)
        atomic_write_text(run_dir / "config.json", json.dumps({**cfg.to_dict(), "resume": None}, indent=2) + "\n")
    barrier()
    results = []
    for fold in cfg.folds:
        results.append(_train_fold(cfg, fold, run_dir, root, ctx, resume))
        summary = summarize_folds(results)
        if ctx.is_main:
            atomic_write_text(
                run_dir / "summary.json",
                json.dumps({k: v for k, v in summary.items() if k != "markdown"}, indent=2) + "\n",
            )
            atomic_write_text(run_dir / "summary.md", summary["markdown"])
    summary = summarize_folds(results)
    summary["run_dir"] = str(run_dir)
    if ctx.is_main:
        logger.info("\n%s", summary["markdown"])
        logger.info(
            "test UAR %.2f  WAR %.2f  (%s, %d fold%s; outputs in %s)",
            100 * summary["mean"]["test_uar"],
            100 * summary["mean"]["test_war"],
            cfg.dataset,
            len(results),
            "s" if len(results) > 1 else "",
            run_dir,
        )
    return summary


def resolve_resume(path: str | Path) -> Path:
    """The run folder of ``--resume PATH``: a run folder, one of its fold folders, or a checkpoint inside it.

    Raises:
        FileNotFoundError: nothing to resume at ``path``.
        ValueError: a checkpoint that is corrupt or not a lifting_dfer checkpoint.
    """
    from ..checkpoint import load_checkpoint

    p = Path(path)
    if p.is_file():
        load_checkpoint(p)  # clear errors for a corrupt file now rather than later
        p = p.parent
    if p.is_dir() and not (p / "config.json").is_file() and (p.parent / "config.json").is_file():
        p = p.parent  # a fold folder
    if not (p / "config.json").is_file():
        raise FileNotFoundError(
            f"--resume: {path} is not a run folder (no config.json), a fold folder or a checkpoint inside a run folder"
        )
    return p


def resume_config(cfg: TrainConfig, given: set[str]) -> TrainConfig:
    """The stored configuration of ``cfg.resume``'s run, with the options in ``given`` that may change applied.

    Raises:
        ValueError: ``given`` changes a setting that would alter the run (model, lr, epochs, ...).
    """
    if cfg.resume is None:
        raise ValueError("resume_config: cfg.resume names no run")
    run_dir = resolve_resume(cfg.resume)
    try:
        stored = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (json.JSONDecodeError, ValueError, TypeError) as err:
        raise ValueError(f"--resume: {run_dir / 'config.json'} is not a readable run configuration: {err}") from err
    current, previous = cfg.to_dict(), stored.to_dict()
    changed = sorted(k for k in given - RESUME_OVERRIDABLE - {"demo"} if current[k] != previous[k])
    if changed:
        diffs = ", ".join(f"{k}: {previous[k]!r} -> {current[k]!r}" for k in changed)
        raise ValueError(
            f"--resume continues {run_dir} with its own settings; these options differ: {diffs}. "
            f"Only {', '.join(sorted(RESUME_OVERRIDABLE - {'resume', 'output_dir'}))} may change"
        )
    merged = {**previous, **{k: current[k] for k in given & RESUME_OVERRIDABLE}}
    merged.update(resume=str(run_dir), output_dir=str(run_dir))
    return TrainConfig.from_dict(merged)


def _configure_logging(ctx_rank: int) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stdout, format="%(message)s")
    logging.getLogger("lifting_dfer").setLevel(logging.INFO if ctx_rank == 0 else logging.WARNING)


def main(argv: Sequence[str] | None = None, *, dataset: str | None = None) -> int:
    """Entry point of ``examples/train_<dataset>.py`` and ``lifting-dfer train``; returns the exit status.

    User errors (missing data, a corrupt or mismatching checkpoint, an existing run folder, bad options) print one
    line to stderr and return 2; a file that cannot be written (disk full) prints one line and returns 1; an
    interruption saves ``last.pt`` and returns 130.
    """
    import os

    _configure_logging(int(os.environ.get("RANK", "0")))
    cfg, given = config_from_args(argv, dataset=dataset)
    prog = f"train_{dataset}.py" if dataset else "lifting-dfer train"
    ctx = None
    try:
        if cfg.resume is not None:
            cfg = resume_config(cfg, given)
        ctx = setup_distributed(cfg.device)
        run(cfg, ctx=ctx)
    except KeyboardInterrupt:
        where = cfg.output_dir or "the run folder"
        print(f"{prog}: interrupted; continue with --resume {where}", file=sys.stderr)
        return 130
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError, ImportError) as err:
        logger.debug("error details", exc_info=True)
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the disk is full, a file-size limit, ...: not a usage error, but one line too
        logger.debug("error details", exc_info=True)
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    finally:
        cleanup_distributed()
    return 0
