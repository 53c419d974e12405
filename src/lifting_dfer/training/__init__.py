"""Training and evaluation of IFDD and the baselines on DFEW, FERV39k and MAFW (the paper's protocol).

- [`main`][lifting_dfer.training.main] / [`evaluate_main`][lifting_dfer.training.evaluate_main]: the command-line entry
  points (``examples/train_*.py``, ``examples/evaluate.py``, ``lifting-dfer train|evaluate``).
- [`TrainConfig`][lifting_dfer.training.TrainConfig]: every setting of a run; [`run`][lifting_dfer.training.run] trains
  its folds; [`fit`][lifting_dfer.training.fit] trains one split.
- [`train_one_epoch`][lifting_dfer.training.train_one_epoch], [`evaluate`][lifting_dfer.training.evaluate]: the loops;
  [`WarmupCosine`][lifting_dfer.training.WarmupCosine]: the learning-rate schedule.

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
