"""The run configuration of the training scripts: a dataclass, its presets and the shared argument parser.

Two presets:

- **paper** (whenever ``--data-root`` is given): the IFDD paper's protocol: the paper's pretrained backbone
  (ImageNet MobileNetV2 / Kinetics-400 MViT-v2-S, downloaded on first use; ``--pretrained none`` trains from
  scratch), AdamW, lr 1e-4, weight decay 1e-3, 100 epochs with 10 warm-up epochs from 1e-6 then cosine, batch 16,
  16 frames (32 for MAFW) at 224x224, CE + LiftLoss (weight 0.1), a stratified 4:1 train/val split, best-on-val
  (UAR) checkpoint, test metrics.
- **demo** (no ``--data-root``, or ``--demo``): a synthetic DFEW (moving blobs, 7 classes) written to
  ``runs/synthetic_dfew`` and a small IFDD-2DCNN (8 frames at 64x64) trained for 10 epochs
  (batch 4, lr 2e-3) in about two minutes, from scratch and offline, to show the pipeline end to end
  ([`DEMO_PRESET`][lifting_dfer.training.DEMO_PRESET]).

``--recipe authors`` applies the authors' released recipe instead of the paper's
([`lifting_dfer.training.recipes`][lifting_dfer.training.recipes]). Any value given on the command line overrides
the presets.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._arguments import parse_key_values
from .recipes import RECIPES

__all__ = [
    "DATASETS",
    "DEMO_PRESET",
    "RESUME_OVERRIDABLE",
    "TrainConfig",
    "build_parser",
    "config_from_args",
    "parse_key_values",
]

DATASETS: dict[str, dict[str, Any]] = {
    "dfew": {"folds": (1, 2, 3, 4, 5), "num_frames": 16, "num_classes": 7},
    "ferv39k": {"folds": None, "num_frames": 16, "num_classes": 7},
    "mafw": {"folds": (1, 2, 3, 4, 5), "num_frames": 32, "num_classes": 11},
    "folder": {"folds": None, "num_frames": 16, "num_classes": None},  # lifting-dfer prepare: classes from its labels
}
"""Per-dataset facts: folds (``None`` for one train/test split), default frames per clip, classes."""

DEMO_PRESET: dict[str, Any] = {
    "model": "ifdd_2dcnn",
    "num_frames": 8,
    "size": 64,
    "epochs": 10,
    "warmup_epochs": 1,
    "batch_size": 4,
    "lr": 2e-3,
    "num_workers": 0,
    "synthetic_clips_per_class": 40,
}
"""Settings of the CPU demo on the synthetic DFEW (used when no ``--data-root`` is given)."""

# ``--size`` rule of each registered model: ``(stride, cells)``: the frame side must be a multiple of the
# backbone's coarsest stride (MobileNetV2 16, MViT 32) and give a last stage of at least ``cells x cells``
# (IFDD's ISSM pools it 2x2, Eq. 1; the baselines need 1x1).
_SIZE_RULES: dict[str, tuple[int, int]] = {
    "ifdd_2dcnn": (16, 2),
    "baseline_2dcnn": (16, 1),
    "ifdd_3dvit": (32, 2),
    "baseline_3dvit": (32, 1),
    "ifdd_3dvit_authors": (32, 1),
}
# Model arguments that change the backbone's stages, and with them the rule (the builder then checks the size).
_STAGE_ARGS = ("out_indices", "out_stages", "model_name")

_SYNTHETIC_ROOT = os.path.join("runs", "synthetic_dfew")

_CHOICES = {
    "recipe": ("paper", "authors"),
    "augment": ("crop_flip", "authors"),
    "schedule": ("warmup_cosine", "authors"),
    "lift_reduction": ("mean", "batch_sum"),
}

RESUME_OVERRIDABLE = frozenset(
    {"device", "num_workers", "progress", "tensorboard", "compile", "output_dir", "resume", "eval_batch_size"}
    | {"data_output", "test_clips"}
)
"""Settings a resumed run may change (they do not alter the computation on the CPU; ``data_output="jpeg"``
resizes in float, which moves pixel values by less than one grey level)."""

DATA_OUTPUTS = ("uint8", "float", "jpeg")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``config.json`` and inside every checkpoint.

    ``None`` means "the dataset's default" for ``num_frames`` and "a new timestamped folder under ``runs/``" for
    ``output_dir``. ``pretrained`` is ``True`` for the paper's backbone weights, a weights file or name, or
    ``None`` (from scratch). ``init`` names a model to fine-tune and ``freeze`` the parts kept fixed
    ([`lifting_dfer.training.finetune`][lifting_dfer.training.finetune]). ``data_manifest`` is not a setting: the
    run fills it with the data it found (dataset, frame folder, the fingerprint of ``lifting-dfer check-data``, clip
    and frame counts).
    """

    dataset: str = "dfew"
    data_root: str | None = None
    data_args: dict[str, Any] = field(default_factory=dict)
    fold: str = "1"
    model: str = "ifdd_2dcnn"
    model_args: dict[str, Any] = field(default_factory=dict)
    pretrained: str | bool | None = None
    init: str | None = None
    freeze: list[str] = field(default_factory=list)
    num_frames: int | None = None
    size: int = 224
    epochs: int = 100
    warmup_epochs: int = 10
    batch_size: int = 16
    eval_batch_size: int | None = None
    lr: float = 1e-4
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6
    weight_decay: float = 1e-3
    grad_clip: float | None = None
    lift_weight: float = 0.1
    lift_reduction: str = "mean"
    recipe: str = "paper"
    augment: str = "crop_flip"
    mixup: float = 0.0
    cutmix: float = 0.0
    label_smoothing: float = 0.0
    schedule: str = "warmup_cosine"
    test_clips: int = 1
    val_fraction: float = 0.2
    select_metric: str = "uar"
    seed: int = 0
    num_workers: int = 4
    data_output: str = "uint8"
    device: str = "auto"
    amp: str = "auto"
    compile: bool = False
    channels_last: bool = False
    output_dir: str | None = None
    resume: str | None = None
    progress: bool = True
    tensorboard: bool = False
    demo: bool = False
    synthetic_root: str = _SYNTHETIC_ROOT
    synthetic_clips_per_class: int = 40
    data_manifest: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # absolute data paths, so that a run can be resumed or evaluated from another working directory
        if self.data_root is not None:
            self.data_root = os.path.abspath(self.data_root)
        if self.init is not None and os.path.exists(self.init):
            self.init = os.path.abspath(self.init)
        self.synthetic_root = os.path.abspath(self.synthetic_root)
        self.validate()

    @property
    def folds(self) -> list[int]:
        """The folds this run trains: one, or all of the dataset's (``fold="all"``); ``[1]`` for FERV39k."""
        folds = DATASETS[self.dataset]["folds"] or (1,)
        return list(folds) if self.fold == "all" else [int(self.fold)]

    @property
    def frames(self) -> int:
        """Frames per clip: ``num_frames`` or the dataset's default."""
        return self.num_frames if self.num_frames is not None else DATASETS[self.dataset]["num_frames"]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid setting."""
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")
        folds = DATASETS[self.dataset]["folds"] or (1,)
        if self.fold != "all" and (not str(self.fold).isdigit() or int(self.fold) not in folds):
            raise ValueError(
                f"fold: expected 'all' or one of {', '.join(map(str, folds))} for {self.dataset}, got {self.fold!r}"
            )
        positive = {
            "size": self.size,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "test_clips": self.test_clips,
        }
        if self.num_frames is not None:
            positive["num_frames"] = self.num_frames
        if self.eval_batch_size is not None:
            positive["eval_batch_size"] = self.eval_batch_size
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        self._check_size()
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs: expected 0..epochs ({self.epochs}), got {self.warmup_epochs}")
        for name in ("lr", "warmup_lr", "min_lr", "weight_decay", "lift_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.lr == 0:
            raise ValueError("lr: expected > 0, got 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip: expected > 0 (or None to disable), got {self.grad_clip}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {self.val_fraction}")
        if self.select_metric not in ("uar", "war", "train_loss"):
            raise ValueError(f"select_metric: expected 'uar', 'war' or 'train_loss', got {self.select_metric!r}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: expected one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("mixup", "cutmix"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected an alpha >= 0 (0: off), got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {self.label_smoothing}")
        if self.amp not in ("auto", "bf16", "fp16", "none"):
            raise ValueError(f"amp: expected auto, bf16, fp16 or none, got {self.amp!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers: expected >= 0, got {self.num_workers}")
        if self.data_output not in DATA_OUTPUTS:
            raise ValueError(f"data_output: expected one of {', '.join(DATA_OUTPUTS)}, got {self.data_output!r}")
        if self.synthetic_clips_per_class < 5:
            raise ValueError(
                f"synthetic_clips_per_class: expected >= 5 (5 folds), got {self.synthetic_clips_per_class}"
            )

    def _check_size(self) -> None:
        """``--size`` against the model's backbone strides, before any data is written or model built."""
        if self.model not in _SIZE_RULES or any(key in self.model_args for key in _STAGE_ARGS):
            return
        stride, cells = _SIZE_RULES[self.model]
        smallest = stride * cells
        if self.size < smallest or self.size % stride:
            why = " and ISSM pools that stage 2x2" if cells == 2 else ""
            raise ValueError(
                f"--size {self.size}: {self.model} needs a frame side of at least {smallest} pixels and a multiple "
                f"of {stride} (its backbone's last stage has stride {stride}{why})"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (for ``config.json`` and checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Inverse of [`to_dict`][lifting_dfer.training.TrainConfig.to_dict]; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}")
        return cls(**dict(values))


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "off", "0") else float(text)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: X)`` once: not for flags, not for ``None`` defaults, not where the help gives it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.nargs == 0 or action.default is None or "default" in text:
            return text
        return super()._get_help_string(action) or text


def _demo_epilog() -> str:
    settings = ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in DEMO_PRESET.items())
    return (
        f"Without --data-root (or with --demo) the demo preset replaces these defaults: {settings}; options "
        "given on the command line still win."
    )


def build_parser(dataset: str | None = None) -> argparse.ArgumentParser:
    """The argument parser shared by ``examples/train_*.py`` and ``lifting-dfer train``.

    ``dataset`` fixes the ``--dataset`` default (the per-dataset example scripts pass theirs).
    """
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog=f"train_{dataset}.py" if dataset else "lifting-dfer train",
        description="Train IFDD (or a baseline) on DFEW, FERV39k or MAFW with the paper's protocol; without "
        "--data-root, a short CPU demo on a synthetic DFEW.",
        epilog=_demo_epilog(),
        formatter_class=_HelpFormatter,
    )
    _data_arguments(p.add_argument_group("data"), d, dataset)
    _model_arguments(p.add_argument_group("model"), d)
    _optimisation_arguments(p.add_argument_group("optimisation (paper protocol)"), d)
    _recipe_arguments(
        p.add_argument_group("recipe (--recipe authors sets the authors' values; explicit options win)"), d
    )
    _hardware_arguments(p.add_argument_group("hardware"), d)
    _output_arguments(p.add_argument_group("outputs"), d)
    return p


def _data_arguments(g: argparse._ArgumentGroup, d: TrainConfig, dataset: str | None) -> None:
    """Which dataset, fold and clips (or the synthetic demo)."""
    g.add_argument("--dataset", choices=sorted(DATASETS), default=dataset or d.dataset, help="dataset")
    g.add_argument(
        "--data-root",
        default=None,
        metavar="DIR",
        help="dataset folder (DFEW/, FERV39k/, MAFW/, or a folder written by lifting-dfer prepare for --dataset "
        "folder); omit for the synthetic CPU demo",
    )
    g.add_argument(
        "--data-arg",
        action="append",
        metavar="KEY=VALUE",
        default=None,
        help="extra dataset argument, e.g. frames_dir=clip_224x224_16f or class_order=alphabetical (repeatable)",
    )
    g.add_argument("--fold", default=d.fold, help="fold 1..5, or 'all' for the 5-fold runner (FERV39k: 1)")
    g.add_argument("--num-frames", type=int, default=None, help="frames per clip (default: 16; 32 for MAFW)")
    g.add_argument("--size", type=int, default=d.size, help="frame side in pixels")
    g.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="part of the training split held out for model selection (4:1)",
    )
    g.add_argument("--num-workers", type=int, default=d.num_workers, help="DataLoader worker processes")
    g.add_argument(
        "--data-output",
        choices=DATA_OUTPUTS,
        default=d.data_output,
        help="what the workers deliver: uint8 clips normalised on the device, float clips normalised in the "
        "workers, or the JPEG files undecoded, decoded on the device in batches (for GPUs with few CPU cores)",
    )
    g.add_argument("--demo", action="store_true", help="force the synthetic CPU demo preset")
    g.add_argument("--synthetic-root", default=_SYNTHETIC_ROOT, help="where the synthetic DFEW is written (demo)")
    g.add_argument(
        "--synthetic-clips-per-class",
        type=int,
        default=d.synthetic_clips_per_class,
        help="size of the synthetic DFEW (demo)",
    )


def _model_arguments(g: argparse._ArgumentGroup, d: TrainConfig) -> None:
    """Which model, its builder overrides and backbone weights."""
    g.add_argument(
        "--model", default=d.model, help="ifdd_2dcnn, ifdd_3dvit, baseline_2dcnn, baseline_3dvit or ifdd_3dvit_authors"
    )
    g.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        default=None,
        help="builder override, e.g. offset_range=2 or use_ladm=false (repeatable)",
    )
    g.add_argument(
        "--pretrained",
        default=None,
        metavar="WEIGHTS",
        help="backbone weights: 'default' (the paper's: ImageNet MobileNetV2 / Kinetics-400 MViT-v2-S, "
        "downloaded into the timm / torchvision cache on first use; used whenever --data-root is given), "
        "'none' (from scratch, as the synthetic demo trains), a weights file, or a timm / torchvision weights name",
    )
    g.add_argument(
        "--init",
        default=None,
        metavar="SOURCE",
        help="fine-tune: start from every weight of this model but a classifier whose class count differs: a "
        "lifting_dfer checkpoint, a checkpoint of the authors' code, a save_pretrained folder or a Hub repository "
        "id; --model, --model-arg, --num-frames and --size default to its, no backbone download",
    )
    g.add_argument(
        "--freeze",
        action="append",
        default=[],
        metavar="PART",
        help="keep a part of the model fixed (no gradient, eval mode), e.g. backbone; repeatable (default: none)",
    )


def _optimisation_arguments(g: argparse._ArgumentGroup, d: TrainConfig) -> None:
    """The optimisation of the paper's protocol (AdamW, warm-up then cosine) and the model selection."""
    g.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    g.add_argument(
        "--warmup-epochs",
        type=int,
        default=d.warmup_epochs,
        help="epochs of linear warm-up from --warmup-lr, then cosine",
    )
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="clips per step and process")
    g.add_argument(
        "--eval-batch-size", type=int, default=None, help="clips per evaluation step (default: 2 x --batch-size)"
    )
    g.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (AdamW)")
    g.add_argument("--warmup-lr", type=float, default=d.warmup_lr, help="learning rate at step 0")
    g.add_argument("--min-lr", type=float, default=d.min_lr, help="learning rate at the end of the cosine")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay, on all parameters")
    g.add_argument("--grad-clip", type=_optional_float, default=None, help="max gradient norm (default: off)")
    g.add_argument("--lift-weight", type=float, default=d.lift_weight, help="LiftLoss weight (0 disables it)")
    g.add_argument(
        "--select-metric",
        choices=("uar", "war", "train_loss"),
        default=d.select_metric,
        help="what the best checkpoint maximises: validation UAR or WAR, or minus the training loss",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seed of the train/val split, the clip order, crops and flips, and the weights",
    )


def _recipe_arguments(g: argparse._ArgumentGroup, d: TrainConfig) -> None:
    """The recipe (``--recipe authors``: [`lifting_dfer.training.recipes`][lifting_dfer.training.recipes]) and its
    settings, and multi-clip testing."""
    g.add_argument(
        "--recipe",
        choices=_CHOICES["recipe"],
        default=d.recipe,
        help="'paper' (the defaults above) or 'authors': their released recipe (docs/reproduce.md)",
    )
    g.add_argument("--augment", choices=_CHOICES["augment"], default=d.augment, help="training augmentation")
    g.add_argument("--mixup", type=float, default=d.mixup, help="mixup alpha (timm Mixup; 0: off)")
    g.add_argument("--cutmix", type=float, default=d.cutmix, help="CutMix alpha (timm Mixup; 0: off)")
    g.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help="label smoothing")
    g.add_argument("--schedule", choices=_CHOICES["schedule"], default=d.schedule, help="learning-rate schedule")
    g.add_argument(
        "--lift-reduction",
        choices=_CHOICES["lift_reduction"],
        default=d.lift_reduction,
        help="LiftLoss over a batch: 'mean', or 'batch_sum' (per-clip means summed, as the authors' code)",
    )
    g.add_argument(
        "--test-clips", type=int, default=d.test_clips, help="temporal views per test video, logits averaged"
    )


def _hardware_arguments(g: argparse._ArgumentGroup, d: TrainConfig) -> None:
    """Where and in which precision it runs."""
    g.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N")
    g.add_argument(
        "--amp",
        choices=("auto", "bf16", "fp16", "none"),
        default=d.amp,
        help="autocast dtype; auto = bf16 on CUDA, none on CPU",
    )
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--channels-last", action="store_true", help="channels-last memory format (2D CNN on GPU)")


def _output_arguments(g: argparse._ArgumentGroup, d: TrainConfig) -> None:
    """The run folder, resuming, progress and logs."""
    g.add_argument(
        "--output-dir", default=None, metavar="DIR", help="run folder (default: runs/<dataset>-<model>-<timestamp>)"
    )
    g.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="continue a run: its folder or a checkpoint in it (settings come from the run)",
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    g.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars")


def _explicit(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> set[str]:
    """Destinations the user actually passed on the command line."""
    probe = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    for action in parser._actions:  # same options, no defaults
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            kwargs: dict[str, Any] = {"dest": action.dest, "default": argparse.SUPPRESS}
            if action.nargs == 0:
                kwargs["action"] = "store_const"
                kwargs["const"] = True
            else:
                kwargs["action"] = "append" if isinstance(action, argparse._AppendAction) else "store"
            probe.add_argument(*action.option_strings, **kwargs)
    known, _ = probe.parse_known_args(argv)
    return set(vars(known))


def config_from_args(argv: Sequence[str] | None = None, *, dataset: str | None = None) -> tuple[TrainConfig, set[str]]:
    """Parse ``argv`` into a [`TrainConfig`][lifting_dfer.training.TrainConfig] with the preset applied; also return the
    options given.

    The demo preset applies when ``--demo`` is given or no ``--data-root`` is (then the dataset must be DFEW,
    whose layout the synthetic data copies); explicit options override the preset. With ``--init``, the model
    settings not given come from that checkpoint ([`init_preset`][lifting_dfer.training.finetune.init_preset]).
    """
    parser = build_parser(dataset)
    args = parser.parse_args(argv)
    given = _explicit(parser, argv)
    values = vars(args)
    try:
        values["data_args"] = parse_key_values(values.pop("data_arg"), "--data-arg")
        values["model_args"] = parse_key_values(values.pop("model_arg"), "--model-arg")
    except ValueError as err:
        parser.error(str(err))
    given = {"data_args" if g == "data_arg" else "model_args" if g == "model_arg" else g for g in given}
    demo = values["demo"] or (values["data_root"] is None and values["resume"] is None)
    choice = values["pretrained"]
    if choice is None:
        values["pretrained"] = None if demo else True  # the paper's weights with real data; the demo stays offline
    elif choice.lower() == "default":
        values["pretrained"] = True
    elif choice.lower() == "none":
        values["pretrained"] = None
    for key, value in RECIPES[values["recipe"]].items():
        if key not in given:
            values[key] = value
    if demo:
        if values["data_root"] is None and values["dataset"] != "dfew":
            parser.error(
                f"--data-root is required for {values['dataset']}: the synthetic demo has DFEW's layout "
                "(lifting-dfer train --demo runs the demo, as examples/train_dfew.py without arguments does; the "
                "examples/ folder is in the source repository and the sdist, not in the installed wheel)"
            )
        values["demo"] = True
        for key, value in DEMO_PRESET.items():
            if key not in given:
                values[key] = value
    if values["init"] is not None:  # the architecture of the checkpoint to fine-tune, unless given
        from .finetune import init_preset

        try:
            values = init_preset(values, given)
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
    try:
        config = TrainConfig(**values)
    except ValueError as err:
        parser.error(str(err))
    return config, given
