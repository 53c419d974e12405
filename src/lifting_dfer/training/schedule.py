"""Learning-rate schedule of the paper's protocol: linear warm-up from ``warmup_lr`` to ``base_lr``, then cosine.

With ``s`` the optimisation step (one batch), ``W`` warm-up steps and ``S`` total steps::

    lr(s) = warmup_lr + (base_lr - warmup_lr) * s / W                              for s < W
    lr(s) = min_lr + (base_lr - min_lr) * (1 + cos(pi * (s - W) / (S - W))) / 2     for W <= s < S
    lr(s) = min_lr                                                                for s >= S

The rate is updated every step (epochs are ``steps_per_epoch`` steps), so warm-up is smooth even for short runs.
Its only state is the step counter, stored in checkpoints through ``state_dict``.
"""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer

__all__ = ["WarmupCosine", "warmup_cosine_lr"]


def warmup_cosine_lr(
    step: int,
    *,
    base_lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    warmup_lr: float = 1e-6,
    min_lr: float = 0.0,
) -> float:
    """The learning rate at ``step`` (0-based) under linear warm-up followed by cosine decay.

    Examples:
        >>> warmup_cosine_lr(0, base_lr=1e-4, total_steps=100, warmup_steps=10)
        1e-06
        >>> warmup_cosine_lr(10, base_lr=1e-4, total_steps=100, warmup_steps=10)
        0.0001
        >>> warmup_cosine_lr(55, base_lr=1.0, total_steps=100, warmup_steps=10)
        0.5
    """
    if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(
            f"total_steps, warmup_steps: expected 0 <= warmup <= total >= 1, got {total_steps}, {warmup_steps}"
        )
    if step < 0:
        raise ValueError(f"step: expected >= 0, got {step}")
    if step < warmup_steps:
        return warmup_lr + (base_lr - warmup_lr) * step / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


class StepSchedule:
    """The interface the trainer steps (after each batch): the rates of ``lr_at(last_step)`` set on the
    optimizer's groups, ``get_last_lr``. Subclasses set ``optimizer`` and ``last_step`` and give ``lr_at``."""

    optimizer: Optimizer
    last_step: int

    def lr_at(self, step: int) -> list[float]:
        """Rates of every group at ``step``."""
        raise NotImplementedError

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.lr_at(self.last_step)):
            group["lr"] = lr

    def step(self) -> None:
        """Advance one optimisation step and set the new rates."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class WarmupCosine(StepSchedule):
    """Set every parameter group's ``lr`` from [`warmup_cosine_lr`][lifting_dfer.training.warmup_cosine_lr]; call
    [`step`][lifting_dfer.training.WarmupCosine.step] after each batch.

    Each group keeps its own ``base_lr`` (its ``lr`` when the schedule was built, saved as ``initial_lr``);
    ``warmup_lr`` and ``min_lr`` are shared. The optimizer's rate is set for step 0 at construction.

    Args:
        optimizer: the optimizer whose groups are scheduled.
        total_steps: steps of the whole run (epochs x steps per epoch).
        warmup_steps: steps of linear warm-up.
        warmup_lr: rate at step 0 (1e-6 in the paper's protocol).
        min_lr: rate at the end of the cosine.

    Examples:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = WarmupCosine(opt, total_steps=4, warmup_steps=2, warmup_lr=0.0)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(opt.param_groups[0]["lr"]); sched.step()
        >>> [round(lr, 3) for lr in lrs]
        [0.0, 0.5, 1.0, 0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        total_steps: int,
        warmup_steps: int = 0,
        warmup_lr: float = 1e-6,
        min_lr: float = 0.0,
    ) -> None:
        warmup_cosine_lr(0, base_lr=1.0, total_steps=total_steps, warmup_steps=warmup_steps)  # validates
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.warmup_lr = warmup_lr
        self.min_lr = min_lr
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, step: int) -> list[float]:
        """Rates of every group at ``step``."""
        return [
            warmup_cosine_lr(
                step,
                base_lr=base,
                total_steps=self.total_steps,
                warmup_steps=self.warmup_steps,
                warmup_lr=self.warmup_lr,
                min_lr=self.min_lr,
            )
            for base in self.base_lrs
        ]

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_step": self.last_step,
            "base_lrs": list(self.base_lrs),
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_lr": self.warmup_lr,
            "min_lr": self.min_lr,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("total_steps", "warmup_steps", "warmup_lr", "min_lr", "base_lrs"):
            if key in state:
                setattr(self, key, list(state[key]) if key == "base_lrs" else state[key])
        self.last_step = int(state["last_step"])
        self._apply()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(total_steps={self.total_steps}, warmup_steps={self.warmup_steps}, "
            f"warmup_lr={self.warmup_lr}, min_lr={self.min_lr}, base_lrs={self.base_lrs})"
        )
