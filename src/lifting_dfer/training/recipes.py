"""Training recipes: the paper's protocol (the default) and the authors' released one (``--recipe authors``).

A recipe is a preset of [`TrainConfig`][lifting_dfer.training.TrainConfig] values
([`RECIPES`][lifting_dfer.training.recipes.RECIPES]) plus the small parts those values select, which the trainer
and the data pipeline call:

| setting | paper (default) | authors (``exps/EXP_IFDD_DFEW.py``, ``core/train/trainer.py`` at 1a1f557) |
|---|---|---|
| model | ``--model`` | ``ifdd_3dvit_authors`` (RGB in ``[0, 1]``) |
| ``augment`` | ``crop_flip``: random square crop (0.8-1 of the side), flip | ``authors``: flip, ``RandomResizedCrop(scale=(0.5, 1))``, ``ColorJitter(0.4, 0.4, 0.4, 0.4)`` ([`AuthorsAugment`][lifting_dfer.training.recipes.AuthorsAugment]) |
| ``mixup``, ``cutmix`` | off | timm's ``Mixup`` (alpha 0.8, CutMix alpha 1.0, switch 0.5, every batch), soft-target cross entropy ([`ClipMixup`][lifting_dfer.training.recipes.ClipMixup]) |
| ``label_smoothing`` | 0 | 0.1 |
| ``lift_reduction`` | ``mean`` | ``batch_sum``: LiftLoss summed over the clips of a batch |
| ``schedule`` | ``warmup_cosine`` per step | ``authors``: their per-epoch rates ([`authors_lr`][lifting_dfer.training.recipes.authors_lr]) |
| ``val_fraction`` | 0.2 (a 4:1 split) | 0: the whole training split |
| ``select_metric`` | ``uar`` on the held-out part | ``train_loss``: the epoch of lowest training loss |

Both: AdamW (lr 1e-4, weight decay 1e-3 on all parameters), 100 epochs, 10 warm-up, batch 16, LiftLoss weight 0.1.
Options given on the command line override the recipe's values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from einops import rearrange
from torch import Tensor
from torch.optim import Optimizer

from ..normalization import UNIT, Normalization
from .schedule import StepSchedule

__all__ = [
    "RECIPES",
    "AuthorsAugment",
    "AuthorsSchedule",
    "ClipMixup",
    "authors_lr",
    "clip_transform",
    "make_mix",
    "make_scheduler",
    "selection_score",
]

RECIPES: dict[str, dict[str, Any]] = {
    "paper": {},
    "authors": {
        "model": "ifdd_3dvit_authors",
        "augment": "authors",
        "mixup": 0.8,
        "cutmix": 1.0,
        "label_smoothing": 0.1,
        "lift_reduction": "batch_sum",
        "schedule": "authors",
        "val_fraction": 0.0,
        "select_metric": "train_loss",
    },
}
"""The configuration values of each recipe (the paper's are ``TrainConfig``'s defaults)."""


def selection_score(metric: str, train: Mapping[str, float], val: Mapping[str, Any] | None, epoch: int) -> float:
    """The number ``fit`` keeps the largest of: ``-train loss`` (``"train_loss"``), else the validation
    ``metric`` (UAR or WAR); without a validation set, the epoch (the last one is kept).

    Examples:
        >>> selection_score("train_loss", {"loss": 0.7}, None, 3)
        -0.7
        >>> selection_score("uar", {"loss": 0.7}, {"uar": 0.5}, 3), selection_score("uar", {"loss": 0.7}, None, 3)
        (0.5, 3.0)
    """
    if metric == "train_loss":
        return -float(train["loss"])
    return float(val[metric]) if val is not None else float(epoch)


class ClipMixup:
    """timm's ``Mixup`` / CutMix on clips, with one box for every frame: ``(clips, labels) -> (mixed, targets)``.

    timm cuts its box out of the last two axes of a 4-D batch, so the clips are viewed as
    ``(b, c t, h, w)`` (their own copy of timm's code, ``core/utils/mixup.py``, indexes ``x[..., y, x]`` for the
    same effect). The targets are soft (label smoothing included); ``F.cross_entropy`` with them is timm's
    soft-target cross entropy. The batch size must be even (timm mixes each clip with its mirror in the batch).

    Shape:
        - clips: ``(b, c, t, h, w)``, labels: ``(b,)`` -> clips ``(b, c, t, h, w)``, targets ``(b, k)``

    Args:
        num_classes: ``k``.
        mixup: mixup's Beta alpha (0: off).
        cutmix: CutMix's Beta alpha (0: off).
        label_smoothing: smoothing of the targets.
        switch_prob: probability of CutMix instead of mixup when both are on.
    """

    def __init__(
        self, num_classes: int, *, mixup: float = 0.8, cutmix: float = 1.0, label_smoothing: float = 0.1,
        switch_prob: float = 0.5,
    ) -> None:  # fmt: skip
        from timm.data import Mixup

        self.mix = Mixup(
            mixup_alpha=mixup, cutmix_alpha=cutmix, prob=1.0, switch_prob=switch_prob, mode="batch",
            label_smoothing=label_smoothing, num_classes=num_classes,
        )  # fmt: skip

    def __call__(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        if clips.shape[0] % 2:
            raise ValueError(f"mixup: expected an even batch size (timm mixes pairs), got {clips.shape[0]} clips")
        frames = rearrange(clips, "b c t h w -> b (c t) h w").clone()  # timm mixes in place
        frames, targets = self.mix(frames, labels)
        return rearrange(frames, "b (c t) h w -> b c t h w", c=clips.shape[1]), targets


class AuthorsAugment:
    """The authors' "strong" augmentation (``DFEW_CLS(strong_aug=True)``), one draw for every frame of a clip.

    Train: horizontal flip (p 0.5), ``RandomResizedCrop(size, scale=(0.5, 1), ratio=(3/4, 4/3))`` (bilinear,
    antialiased), ``ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4)`` on the uint8 frames,
    then ``/ 255`` and clamped to ``[0, 1]``. Test: a bicubic resize to ``size`` (none for their 224 px frames).
    Then the model's normalisation (their model: [`UNIT`][lifting_dfer.normalization.UNIT], i.e. none).

    Called as a [`ClipDataset`][lifting_dfer.data.ClipDataset] transform: ``transform(frames, generator)``, with the
    random draws made from ``generator`` when one is given (torchvision's transforms draw from torch's global RNG,
    which is forked and seeded from it), so a seeded dataset replays its epochs. ``output="uint8"`` stops before
    the scaling: the uint8 clip is normalised on the device ([`ClipNormalize`][lifting_dfer.data.ClipNormalize]),
    with the same values.

    Shape:
        - frames: ``(t, 3, h, w)`` uint8 -> ``(3, t, size, size)`` float32 (or uint8)
    """

    def __init__(
        self, size: int = 224, *, train: bool = True, normalization: Normalization = UNIT,
        output: Literal["float", "uint8"] = "float",
    ) -> None:  # fmt: skip
        from torchvision.transforms import v2

        if output not in ("float", "uint8"):
            raise ValueError(f"output: expected 'float' or 'uint8', got {output!r}")
        self.size, self.train, self.normalization, self.output = size, train, normalization, output
        if train:
            self.transform = v2.Compose([
                v2.RandomHorizontalFlip(0.5),
                v2.RandomResizedCrop((size, size), scale=(0.5, 1.0), interpolation=v2.InterpolationMode.BILINEAR,
                                     antialias=True),
                v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.4),
            ])  # fmt: skip
        else:
            self.transform = v2.Resize(size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
        self._mean = torch.tensor(normalization.mean).view(3, 1, 1, 1)
        self._std = torch.tensor(normalization.std).view(3, 1, 1, 1)

    def __call__(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
            got = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
            raise ValueError(f"frames: expected shape 't c h w' with c=3, got {got}")
        if generator is None:
            out = self.transform(frames)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
                out = self.transform(frames)
        if self.output == "uint8":
            return rearrange(out, "t c h w -> c t h w").contiguous()
        clip = rearrange(out.float().div(255).clamp(0, 1), "t c h w -> c t h w")
        if self.normalization != UNIT:
            clip = (clip - self._mean) / self._std
        return clip.contiguous()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, train={self.train})"


def authors_lr(epoch: int, *, lr: float, batch_size: int, epochs: int, warmup_epochs: int) -> float:
    """The learning rate of epoch ``epoch`` (0-based) in the authors' trainer, set once at the start of the epoch.

    Their trainer builds AdamW with ``lr``, then resets the base rate to ``lr / 32 * batch_size`` (5e-5 for lr
    1e-4 and batch 16) and sets each epoch's rate from a per-epoch cosine from that base to 1% of it, after the
    warm-up epochs. The warm-up rises linearly from 1e-6 towards the cosine's value at ``warmup_epochs``
    computed with their function's defaults (base 1e-4, end 1e-6, a 1-epoch offset), not with the run's base, so
    the rate drops when the cosine takes over (8.8e-5 in epoch 9, 5e-5 in epoch 10 of their DFEW run).

    Examples:
        >>> [f"{authors_lr(e, lr=1e-4, batch_size=16, epochs=100, warmup_epochs=10):.4g}" for e in (0, 9, 10, 99)]
        ['1e-06', '8.83e-05', '5e-05', '5.151e-07']
    """
    base = lr / 32 * batch_size
    end = base * 0.01

    def cosine(e: float, offset: float, top: float, bottom: float) -> float:
        return bottom + (top - bottom) * (math.cos(math.pi * (e - offset) / (epochs - offset)) + 1.0) * 0.5

    if epoch < warmup_epochs:
        target = cosine(warmup_epochs, 1.0, 1e-4, 1e-6)  # their lr_func_cosine(cur_epoch=warmup, max_epoch) defaults
        return 1e-6 + epoch * (target - 1e-6) / warmup_epochs
    return cosine(epoch, warmup_epochs if warmup_epochs > 0 else 0.0, base, end)


class AuthorsSchedule(StepSchedule):
    """[`authors_lr`][lifting_dfer.training.recipes.authors_lr] per epoch, with the interface of
    [`WarmupCosine`][lifting_dfer.training.WarmupCosine] (``step()`` after each batch, ``state_dict``).

    Args:
        optimizer: every parameter group gets the same rate.
        steps_per_epoch: batches per epoch.
        lr, batch_size, epochs, warmup_epochs: as for ``authors_lr`` (``batch_size``: over all processes).
    """

    def __init__(
        self, optimizer: Optimizer, *, steps_per_epoch: int, lr: float, batch_size: int, epochs: int,
        warmup_epochs: int,
    ) -> None:  # fmt: skip
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch: expected >= 1, got {steps_per_epoch}")
        self.optimizer, self.steps_per_epoch = optimizer, steps_per_epoch
        self.settings: dict[str, Any] = {
            "lr": lr, "batch_size": batch_size, "epochs": epochs, "warmup_epochs": warmup_epochs,
        }  # fmt: skip
        self.last_step = 0
        self._apply()

    def lr_at(self, step: int) -> list[float]:
        return [authors_lr(step // self.steps_per_epoch, **self.settings)] * len(self.optimizer.param_groups)

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "steps_per_epoch": self.steps_per_epoch, **self.settings}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_per_epoch = int(state.get("steps_per_epoch", self.steps_per_epoch))
        self.settings.update({k: state[k] for k in self.settings if k in state})
        self.last_step = int(state["last_step"])
        self._apply()


# ------------------------------------------------------------------------------------ the hooks fit calls
def make_mix(cfg: Any, num_classes: int) -> ClipMixup | None:
    """The batch mixing of ``cfg`` (``mixup``, ``cutmix``, ``label_smoothing``), or ``None`` when both alphas are 0."""
    if cfg.mixup <= 0 and cfg.cutmix <= 0:
        return None
    return ClipMixup(num_classes, mixup=cfg.mixup, cutmix=cfg.cutmix, label_smoothing=cfg.label_smoothing)


def make_scheduler(cfg: Any, optimizer: Optimizer, steps_per_epoch: int, world_size: int) -> AuthorsSchedule | None:
    """``cfg.schedule == "authors"``: their per-epoch schedule; else ``None`` (the paper's warm-up and cosine)."""
    if cfg.schedule != "authors":
        return None
    return AuthorsSchedule(
        optimizer, steps_per_epoch=steps_per_epoch, lr=cfg.lr, batch_size=cfg.batch_size * world_size,
        epochs=cfg.epochs, warmup_epochs=cfg.warmup_epochs,
    )  # fmt: skip


def clip_transform(cfg: Any, *, train: bool, normalization: Normalization) -> Any:
    """The clip transform of ``cfg.augment`` for a dataset split, giving ``cfg.data_output`` items: uint8, or floats
    in the model's ``normalization``."""
    from ..data.transforms import ClipTransform

    output: Literal["float", "uint8"] = "uint8" if cfg.data_output == "uint8" else "float"
    if cfg.augment == "authors":
        return AuthorsAugment(cfg.size, train=train, normalization=normalization, output=output)
    return ClipTransform(cfg.size, train=train, mean=normalization.mean, std=normalization.std, output=output)
