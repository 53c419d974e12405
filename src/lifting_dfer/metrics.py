"""Classification metrics of DFER papers: UAR, WAR, per-class recall and the confusion matrix.

- confusion ``C[i, j]``: clips of true class ``i`` predicted as ``j`` (rows = truth).
- per-class recall ``C[i, i] / sum_j C[i, j]`` (NaN for a class absent from ``y_true``).
- UAR (unweighted average recall): mean per-class recall over the classes present in ``y_true``.
- WAR (weighted average recall): ``trace(C) / sum(C)``, i.e. accuracy.

Values are fractions in ``[0, 1]`` (papers print percentages). ``y_pred`` may be class indices ``(n,)`` or
scores/logits ``(n, k)``, which are reduced by ``argmax``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["classification_report", "confusion_matrix", "per_class_recall", "uar", "war"]

ArrayLike = Tensor | np.ndarray | Sequence[int]


def _as_labels(y: Any, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y).detach().cpu()
    if t.ndim == 2 and name == "y_pred":
        t = t.argmax(dim=1)
    if t.ndim != 1:
        raise ValueError(f"{name}: expected shape (n,) class indices, got {tuple(t.shape)}")
    if t.is_floating_point() and not torch.equal(t, t.round()):
        raise ValueError(f"{name}: expected integer class indices, got non-integer values")
    return t.long()


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> Tensor:
    """Counts ``C[i, j]`` of clips with true class ``i`` predicted as ``j``.

    Shape:
        ``y_true: (n,)``, ``y_pred: (n,)`` or ``(n, k)`` -> ``(k, k)`` int64 with ``k = num_classes``.

    Examples:
        >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3).tolist()
        [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true, y_pred: expected the same number of clips, got {t.numel()} and {p.numel()}")
    for name, v in (("y_true", t), ("y_pred", p)):
        if v.numel() and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(
                f"{name}: expected class indices in [0, {num_classes}), got values in [{int(v.min())}, {int(v.max())}]"
            )
    return torch.bincount(t * num_classes + p, minlength=num_classes * num_classes).view(num_classes, num_classes)


def _recall_from_confusion(cm: Tensor) -> Tensor:
    support = cm.sum(dim=1).double()
    diag = cm.diagonal().double()
    return torch.where(support > 0, diag / support.clamp_min(1), torch.full_like(diag, math.nan))


def per_class_recall(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> Tensor:
    """Recall of each class (NaN where the class never occurs in ``y_true``).

    Shape:
        -> ``(k,)`` float64.

    Examples:
        >>> per_class_recall([0, 0, 1, 2], [0, 1, 1, 1], 4).tolist()
        [0.5, 1.0, 0.0, nan]
    """
    return _recall_from_confusion(confusion_matrix(y_true, y_pred, num_classes))


def uar(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> float:
    """Unweighted average recall: the mean recall over classes present in ``y_true``.

    Examples:
        >>> uar([0, 0, 1, 2], [0, 1, 1, 1], 3)
        0.5
    """
    recall = per_class_recall(y_true, y_pred, num_classes)
    present = recall[~recall.isnan()]
    if present.numel() == 0:
        raise ValueError("y_true: expected at least one clip, got none")
    return float(present.mean())


def war(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Weighted average recall = overall accuracy.

    Examples:
        >>> war([0, 0, 1, 2], [0, 1, 1, 1])
        0.5
    """
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true, y_pred: expected the same number of clips, got {t.numel()} and {p.numel()}")
    if t.numel() == 0:
        raise ValueError("y_true: expected at least one clip, got none")
    return float((t == p).double().mean())


def classification_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """UAR, WAR, per-class recall and confusion in one JSON-serialisable dict.

    ``num_classes`` defaults to ``len(class_names)``. Keys: ``uar``, ``war`` (floats), ``per_class``
    (class name -> recall, ``None`` for absent classes), ``support`` (class name -> clips),
    ``confusion`` (list of rows, truth by prediction), ``class_names``.

    Examples:
        >>> r = classification_report([0, 0, 1], [0, 1, 1], class_names=["a", "b"])
        >>> r["uar"], r["war"], r["per_class"]
        (0.75, 0.6666666666666666, {'a': 0.5, 'b': 1.0})
    """
    if num_classes is None:
        if class_names is None:
            raise ValueError("num_classes: pass num_classes or class_names")
        num_classes = len(class_names)
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"class_names: expected {num_classes} names, got {len(class_names)}")
    cm = confusion_matrix(y_true, y_pred, num_classes)
    recall = _recall_from_confusion(cm)
    present = recall[~recall.isnan()]
    if present.numel() == 0:
        raise ValueError("y_true: expected at least one clip, got none")
    return {
        "uar": float(present.mean()),
        "war": float(cm.diagonal().sum().double() / cm.sum()),
        "per_class": {n: (None if math.isnan(r) else float(r)) for n, r in zip(class_names, recall.tolist())},
        "support": {n: int(s) for n, s in zip(class_names, cm.sum(dim=1).tolist())},
        "confusion": cm.tolist(),
        "class_names": list(class_names),
    }
