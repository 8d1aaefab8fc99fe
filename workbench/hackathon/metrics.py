"""The documented metrics, vectorised with NumPy, and an organiser's own scoring function.

Supported (``Task.metric``):

- ``accuracy``: share of rows whose predicted class equals the label.
- ``macro_f1``: unweighted mean over classes of 2·TP / (2·TP + FP + FN); the classes are those that
  occur in the labels or the predictions (scikit-learn's default), a class with no TP, FP or FN
  never counts, one with a zero denominator scores 0.
- ``mean_iou``: unweighted mean over the same classes of TP / (TP + FP + FN), the Jaccard index
  (scikit-learn's ``jaccard_score(average="macro")``); segmentation masks flattened to one row
  per pixel are scored the same way.
- ``roc_auc``: binary only: labels 0/1, predictions a real-valued score (higher means class 1);
  ties share their average rank (the Mann-Whitney form, equal to the trapezoidal ROC area).
  One-vs-rest multiclass AUC over probability columns is not supported.
- ``rmse``: root of the mean squared difference.

The three class metrics are computed from a confusion matrix, made for both board splits in one
``np.bincount`` (``confusion``), which is what lets ``scoring.py`` score 100,000 rows on both splits
in a few milliseconds. An organiser's ``scorer:`` file defines ``score(y_true, y_pred) -> float``
and runs in the trusted service process (organiser code is trusted; team code never runs there).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workbench.errors import EventError, ValidationProblem

Scorer = Callable[[np.ndarray, np.ndarray], float]
CLASS_METRICS = ("accuracy", "macro_f1", "mean_iou")
_scorers: dict[tuple[str, int, int], Scorer] = {}


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, group: np.ndarray | None = None,
              n_groups: int = 1) -> np.ndarray:
    """Confusion matrices ``[group, true, predicted]`` of integer class codes in ``[0, n_classes)``;
    ``group`` (codes in ``[0, n_groups)``) gives one matrix per group from the same single pass."""
    k = n_classes
    flat = y_true.astype(np.int64) * k + y_pred
    if group is not None:
        flat = flat + group.astype(np.int64) * (k * k)
    return np.bincount(flat, minlength=n_groups * k * k).reshape(n_groups, k, k)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    return tp, cm.sum(axis=0) - tp, cm.sum(axis=1) - tp  # TP, FP, FN


def accuracy_from(cm: np.ndarray) -> float:
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def macro_f1_from(cm: np.ndarray) -> float:
    tp, fp, fn = _per_class(cm)
    present = (tp + fp + fn) > 0
    if not present.any():
        return 0.0
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1[present].mean())


def mean_iou_from(cm: np.ndarray) -> float:
    tp, fp, fn = _per_class(cm)
    union = tp + fp + fn
    present = union > 0
    return float((tp[present] / union[present]).mean()) if present.any() else 0.0


FROM_CONFUSION: dict[str, Callable[[np.ndarray], float]] = {
    "accuracy": accuracy_from, "macro_f1": macro_f1_from, "mean_iou": mean_iou_from,
}


def _codes(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Any labels (numbers or text) as integer codes over the classes both arrays use."""
    classes, codes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]), return_inverse=True)
    n = len(np.asarray(y_true))
    return codes[:n], codes[n:], len(classes)


def _class_metric(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p, k = _codes(y_true, y_pred)
    return FROM_CONFUSION[name](confusion(t, p, k)[0])


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _class_metric("accuracy", y_true, y_pred)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _class_metric("macro_f1", y_true, y_pred)


def mean_iou(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _class_metric("mean_iou", y_true, y_pred)


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Binary ROC-AUC from average ranks: (rank sum of positives - P(P+1)/2) / (P·N)."""
    positive = np.asarray(y_true) == 1
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both classes (0 and 1) among the labels scored")
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")
    ordered = s[order]
    starts = np.concatenate([[0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1])
    ends = np.concatenate([starts[1:], [len(s)]])
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)  # ties share their mean rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff * diff)))


METRIC_FUNCTIONS: dict[str, Scorer] = {
    "accuracy": accuracy, "macro_f1": macro_f1, "mean_iou": mean_iou, "roc_auc": roc_auc, "rmse": rmse,
}


def load_scorer(path: Path) -> Scorer:
    """The organiser's ``score`` from ``path``, imported once per version of the file; a scorer that
    cannot be imported is an EventError naming the file, for the organiser (teams see a failed run)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _scorers:
        name = "workbench_event_scorer_" + hashlib.sha256(str(key).encode()).hexdigest()[:16]
        spec = importlib.util.spec_from_file_location(name, path)
        try:
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            function = module.score
        except Exception as exc:
            raise EventError([ValidationProblem(str(path), f"the scorer cannot be imported "
                                                f"({type(exc).__name__}: {exc}); fix it")]) from exc
        _scorers[key] = _checked(function, path)
    return _scorers[key]


def _checked(function: Callable[..., object], path: Path) -> Scorer:
    """The organiser's function, with what it returns or raises turned into a message naming the file."""
    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        try:
            value = float(function(y_true, y_pred))  # type: ignore[arg-type]
        except Exception as exc:
            raise EventError([ValidationProblem(str(path), f"score(y_true, y_pred) raised {type(exc).__name__}: "
                                                f"{exc}; fix the scorer")]) from exc
        if not math.isfinite(value):
            raise EventError([ValidationProblem(str(path), f"score(y_true, y_pred) returned {value}; it must "
                                                "return a finite number")])
        return value
    return score
