"""UAR, WAR, per-class recall and confusion matrix against hand-computed examples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lifting_dfer.metrics import classification_report, confusion_matrix, per_class_recall, uar, war

# 10 clips, 3 classes. Truth: 4 x class 0, 3 x class 1, 3 x class 2.
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 1, 2, 1, 1, 0, 2, 0, 0]
# By hand: class 0 -> 2 right (pred 0,0), 1 as class 1, 1 as class 2; class 1 -> 2 right, 1 as 0;
# class 2 -> 1 right, 2 as 0.
CONFUSION = [[2, 1, 1], [1, 2, 0], [2, 0, 1]]
RECALL = [2 / 4, 2 / 3, 1 / 3]
UAR = (2 / 4 + 2 / 3 + 1 / 3) / 3  # = 0.5
WAR = (2 + 2 + 1) / 10  # = 0.5; see the imbalanced example below for UAR != WAR


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.dtype == torch.int64 and cm.tolist() == CONFUSION


def test_per_class_recall_uar_war_by_hand():
    torch.testing.assert_close(per_class_recall(Y_TRUE, Y_PRED, 3), torch.tensor(RECALL, dtype=torch.float64))
    assert uar(Y_TRUE, Y_PRED, 3) == pytest.approx(UAR)
    assert war(Y_TRUE, Y_PRED) == pytest.approx(WAR)


def test_uar_differs_from_war_on_imbalanced_data():
    # 8 clips of class 0 all right, 2 clips of class 1 all wrong: WAR 0.8, UAR (1 + 0) / 2 = 0.5
    y_true = [0] * 8 + [1] * 2
    y_pred = [0] * 10
    assert war(y_true, y_pred) == pytest.approx(0.8)
    assert uar(y_true, y_pred, 2) == pytest.approx(0.5)
    assert confusion_matrix(y_true, y_pred, 2).tolist() == [[8, 0], [2, 0]]


def test_uar_is_recall_not_precision():
    # recall per class (1/3, 1, 1) -> UAR 7/9; precision per class would be (1, 1/2, 1/2) -> 2/3
    y_true = [0, 0, 0, 1, 2]
    y_pred = [0, 1, 2, 1, 2]
    assert uar(y_true, y_pred, 3) == pytest.approx(7 / 9)


def test_absent_class_is_nan_and_left_out_of_uar():
    recall = per_class_recall([0, 0, 2], [0, 1, 2], 4)
    assert recall[0] == 0.5 and recall[2] == 1.0
    assert math.isnan(recall[1]) and math.isnan(recall[3])
    assert uar([0, 0, 2], [0, 1, 2], 4) == pytest.approx(0.75)


def test_logits_are_reduced_by_argmax_and_inputs_may_be_numpy_or_tensors():
    logits = torch.full((10, 3), -1.0)
    logits[torch.arange(10), torch.tensor(Y_PRED)] = 2.0
    assert confusion_matrix(torch.tensor(Y_TRUE), logits, 3).tolist() == CONFUSION
    assert uar(np.array(Y_TRUE), np.array(Y_PRED), 3) == pytest.approx(UAR)
    assert war(torch.tensor(Y_TRUE), logits) == pytest.approx(WAR)


def test_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 7, (200,), generator=g)
    y_pred = torch.where(torch.rand(200, generator=g) < 0.5, y_true, torch.randint(0, 7, (200,), generator=g))
    assert (
        confusion_matrix(y_true, y_pred, 7).tolist()
        == sklearn_metrics.confusion_matrix(y_true, y_pred, labels=list(range(7))).tolist()
    )
    assert uar(y_true, y_pred, 7) == pytest.approx(sklearn_metrics.balanced_accuracy_score(y_true, y_pred))
    assert war(y_true, y_pred) == pytest.approx(sklearn_metrics.accuracy_score(y_true, y_pred))


def test_classification_report_is_json_ready():
    report = classification_report(Y_TRUE, Y_PRED, class_names=["Happy", "Sad", "Neutral"])
    assert report["uar"] == pytest.approx(UAR) and report["war"] == pytest.approx(WAR)
    assert report["per_class"] == pytest.approx({"Happy": 0.5, "Sad": 2 / 3, "Neutral": 1 / 3})
    assert report["support"] == {"Happy": 4, "Sad": 3, "Neutral": 3}
    assert report["confusion"] == CONFUSION
    assert json.loads(json.dumps(report)) == report
    absent = classification_report([0], [0], 2)
    assert absent["per_class"] == {"0": 1.0, "1": None} and absent["uar"] == 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: confusion_matrix([0, 1], [0], 2), "same number of clips"),
        (lambda: confusion_matrix([0, 3], [0, 1], 3), r"y_true: expected class indices in \[0, 3\)"),
        (lambda: confusion_matrix([0, 1], [0, -1], 3), "y_pred: expected class indices"),
        (lambda: confusion_matrix([[0, 1]], [0, 1], 3), r"y_true: expected shape \(n,\)"),
        (lambda: confusion_matrix([0.5], [0], 2), "integer class indices"),
        (lambda: confusion_matrix([0], [0], 0), "num_classes"),
        (lambda: uar([], [], 3), "at least one clip"),
        (lambda: war([], []), "at least one clip"),
        (lambda: classification_report([0], [0], 2, class_names=["a"]), "expected 2 names"),
        (lambda: classification_report([0], [0]), "num_classes"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
