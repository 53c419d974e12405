"""Training and evaluation of IFDD and the baselines on DFEW, FERV39k and MAFW (the paper's protocol).

- :func:`main` / :func:`evaluate_main`: the command-line entry points (``examples/train_*.py``,
  ``examples/evaluate.py``, ``lifting-dfer train|evaluate``).
- :class:`TrainConfig`: every setting of a run; :func:`run` trains its folds; :func:`fit` trains one split.
- :func:`train_one_epoch`, :func:`evaluate`: the loops; :class:`WarmupCosine`: the learning-rate schedule.

See ``docs/training.md``.
"""

from .config import DATASETS, DEMO_PRESET, TrainConfig, build_parser, config_from_args
from .distributed import DistributedContext, setup_distributed
from .engine import EpochStats, EvalResult, GracefulInterrupt, evaluate, train_one_epoch, training_loss
from .evaluation import evaluate_checkpoint, evaluate_main
from .history import MetricWriter
from .runner import main, run, summarize_folds
from .schedule import WarmupCosine, warmup_cosine_lr
from .trainer import FitResult, fit

__all__ = [
    "DATASETS",
    "DEMO_PRESET",
    "DistributedContext",
    "EpochStats",
    "EvalResult",
    "FitResult",
    "GracefulInterrupt",
    "MetricWriter",
    "TrainConfig",
    "WarmupCosine",
    "build_parser",
    "config_from_args",
    "evaluate",
    "evaluate_checkpoint",
    "evaluate_main",
    "fit",
    "main",
    "run",
    "setup_distributed",
    "summarize_folds",
    "train_one_epoch",
    "training_loss",
    "warmup_cosine_lr",
]
