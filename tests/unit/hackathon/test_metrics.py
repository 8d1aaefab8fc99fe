"""The metrics against values worked out by hand, and against scikit-learn's own on random arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from workbench.errors import EventError
from workbench.hackathon import metrics

TRUE = np.array([0, 0, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 1, 2, 0])


def test_class_metrics_by_hand() -> None:
    assert metrics.accuracy(TRUE, PRED) == pytest.approx(4 / 6)
    # per class (TP, FP, FN): 0 -> (1, 1, 1), 1 -> (2, 1, 0), 2 -> (1, 0, 1)
    assert metrics.macro_f1(TRUE, PRED) == pytest.approx((2 / 4 + 4 / 5 + 2 / 3) / 3)
    assert metrics.mean_iou(TRUE, PRED) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_text_labels_and_a_class_only_predicted() -> None:
    # 'cat' never occurs in the labels: it still counts as a class with F1 0, as scikit-learn does
    y_true = np.array(["dog", "dog", "owl"])
    y_pred = np.array(["dog", "cat", "owl"])
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert metrics.mean_iou(y_true, y_pred) == pytest.approx((1 / 2 + 0 + 1) / 3)


def test_roc_auc_by_hand_with_ties() -> None:
    assert metrics.roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    # pairs (positive, negative): (0.5, 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1
    assert metrics.roc_auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9])) == pytest.approx(3.5 / 4)
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))


def test_rmse_by_hand() -> None:
    assert metrics.rmse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])) == pytest.approx(math.sqrt(4 / 3))


@pytest.mark.parametrize("seed", range(6))
def test_against_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(50, 3000)), int(rng.integers(2, 12))
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k + 1, n))  # k+1: a class only predicted
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-12)
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(
        sk.f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    assert metrics.mean_iou(y_true, y_pred) == pytest.approx(
        sk.jaccard_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12)
    binary = rng.integers(0, 2, n)
    scores = np.round(rng.random(n) + binary * 0.3, 1)  # rounded: many ties
    assert metrics.roc_auc(binary, scores) == pytest.approx(sk.roc_auc_score(binary, scores), abs=1e-12)
    target, estimate = rng.normal(size=n), rng.normal(size=n)
    assert metrics.rmse(target, estimate) == pytest.approx(math.sqrt(sk.mean_squared_error(target, estimate)),
                                                           abs=1e-12)


def test_grouped_confusion_is_each_group_on_its_own() -> None:
    rng = np.random.default_rng(7)
    y_true, y_pred, group = rng.integers(0, 4, 500), rng.integers(0, 4, 500), rng.integers(0, 2, 500)
    both = metrics.confusion(y_true, y_pred, 4, group, n_groups=2)
    for g in (0, 1):
        alone = metrics.confusion(y_true[group == g], y_pred[group == g], 4)[0]
        assert (both[g] == alone).all()
        assert (alone == sk.confusion_matrix(y_true[group == g], y_pred[group == g], labels=range(4))).all()


def test_an_organisers_scorer(tmp_path: Path) -> None:
    path = tmp_path / "scoring.py"
    path.write_text("import numpy as np\n\ndef score(y_true, y_pred):\n"
                    "    return float(np.mean(np.abs(y_true - y_pred)))\n")
    scorer = metrics.load_scorer(path)
    assert scorer(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(1.5)
    path.write_text("def score(y_true, y_pred):\n    raise ValueError('shapes differ')\n")
    with pytest.raises(EventError) as caught:
        metrics.load_scorer(path)(np.array([1.0]), np.array([1.0]))
    assert str(path) in caught.value.message and "raised ValueError: shapes differ" in caught.value.message
    path.write_text("def score(y_true, y_pred):\n    return float('nan')\n")
    with pytest.raises(EventError, match="returned nan; it must return a finite number"):
        metrics.load_scorer(path)(np.array([1.0]), np.array([1.0]))
    path.write_text("def score(y_true, y_pred) return 1\n")
    with pytest.raises(EventError, match="the scorer cannot be imported"):
        metrics.load_scorer(path)
