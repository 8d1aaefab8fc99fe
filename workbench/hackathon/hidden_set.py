"""The hidden labels of an event, read once and kept: aligned values, classes and the public mask.

Why cached: every submission is scored against the same labels, and reading and checking 100,000
label rows and hashing their ids for the split costs ~0.2 s, more than scoring itself. The cache
key holds the labels file's modification time and size and every event setting the set depends
on, so an organiser who fixes the labels or changes the split gets a fresh set without a restart.
Labels are read only here, in the trusted process (never in a sandbox), and problems in them are
the organiser's: an EventError naming the file and line.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import EventError, ValidationProblem
from workbench.hackathon import split
from workbench.hackathon.metrics import CLASS_METRICS
from workbench.hackathon.model import Event
from workbench.hackathon.predictions import Expected, table

MAX_LISTED = 20


@dataclass(frozen=True)
class HiddenSet:
    """The labels in file order (``y``: class codes, numbers or text) and where each row is shown."""

    ids: tuple[str, ...]
    y: np.ndarray
    public: np.ndarray  # bool per row: on the public board
    expected: Expected  # what a predictions file for this set must hold


def _whole(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def _kind(metric: str, labels: list[str]) -> str:
    if metric in CLASS_METRICS:
        return "class"
    if metric in ("rmse", "roc_auc"):
        return "number"
    try:
        np.array(labels, dtype=np.float64)
    except ValueError:
        return "text"
    return "number"


def _values(kind: str, metric: str, labels: list[str], lines: list[int], problem: list[tuple[int, str]],
            ) -> tuple[np.ndarray, tuple[str, ...]]:
    if kind == "class":
        canonical = [_whole(v) for v in labels]
        names = set(canonical)
        numeric = all(n.lstrip("-").isdigit() for n in names)
        classes = tuple(sorted(names, key=int) if numeric else sorted(names))
        code = {name: i for i, name in enumerate(classes)}
        return np.fromiter((code[v] for v in canonical), dtype=np.int64, count=len(canonical)), classes
    if kind == "text":
        return np.array(labels, dtype=object), ()
    try:
        numbers = np.array(labels, dtype=np.float64)
    except ValueError:  # find the rows at fault, one by one (only now)
        numbers = np.array([_number(v) for v in labels], dtype=np.float64)
    for i in np.flatnonzero(~np.isfinite(numbers)):
        problem.append((lines[i], f"label '{labels[i]}' is not a finite number; the metric {metric} needs one"))
    if metric == "roc_auc":
        for i in np.flatnonzero(np.isfinite(numbers) & (numbers != 0) & (numbers != 1)):
            problem.append((lines[i], f"label '{labels[i]}' is not 0 or 1; roc_auc scores a binary task "
                                      "(1 = positive)"))
    return numbers, ()


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan


def _split_checks(metric: str, y: np.ndarray, public: np.ndarray, share: float, problem: list[tuple[int, str]],
                  ) -> None:
    for name, part in (("public", public), ("private", ~public)):
        if not part.any():
            problem.append((0, f"split: public_share {share} of {len(y)} hidden rows leaves the {name} board "
                              "with no rows; add hidden rows or change the share"))
        elif metric == "roc_auc" and len(np.unique(y[part])) < 2:
            problem.append((0, f"the {name} split has only one class, so ROC-AUC is undefined there; change "
                              "split.seed or add hidden rows of the other class"))


@functools.lru_cache(maxsize=16)
def _load(labels: Path, _version: tuple[int, int], id_column: str, target: str, metric: str, share: float,
          seed: int, inputs_name: str) -> HiddenSet:
    problem: list[tuple[int, str]] = []

    def fail() -> EventError:
        shown = [ValidationProblem(f"{labels}:{line}" if line else str(labels), text)
                 for line, text in problem[:MAX_LISTED]]
        if len(problem) > MAX_LISTED:
            shown.append(ValidationProblem(str(labels), f"… and {len(problem) - MAX_LISTED} more"))
        return EventError(shown)

    try:
        rows = table(labels.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problem.append((0, f"the hidden labels cannot be read as a UTF-8 CSV file ({exc})"))
        raise fail() from exc
    header = [name.strip() for name in rows[0]] if rows else []
    if id_column not in header or target not in header:
        problem.append((1, f"the header must name the columns '{id_column}' and '{target}'"))
        raise fail()
    id_at, label_at, width = header.index(id_column), header.index(target), len(header)
    ids: list[str] = []
    labels_text: list[str] = []
    lines: list[int] = []
    first: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != width:
            problem.append((number, f"{len(row)} values, expected {width}"))
            continue
        hidden_id, label = row[id_at].strip(), row[label_at].strip()
        if not hidden_id or not label:
            problem.append((number, f"empty {id_column if not hidden_id else target}; every hidden row needs both"))
        elif hidden_id in first:
            problem.append((number, f"id '{hidden_id}' again (first on line {first[hidden_id]}); ids must be unique"))
        else:
            first[hidden_id] = number
            ids.append(hidden_id)
            labels_text.append(label)
            lines.append(number)
    kind = _kind(metric, labels_text)
    y, classes = _values(kind, metric, labels_text, lines, problem)
    public = split.public_mask(ids, share, seed)
    _split_checks(metric, y, public, share, problem)
    if problem:
        raise fail()
    index = {hidden_id: i for i, hidden_id in enumerate(ids)}
    return HiddenSet(ids=tuple(ids), y=y, public=public,
                     expected=Expected(id_column, target, kind, index, classes, inputs_name))


def hidden_set(event: Event) -> HiddenSet:
    """The event's hidden set, read on first use and again only when the labels file or a setting changes."""
    task = event.task
    stat = task.hidden_labels.stat()
    inputs_name = str(task.hidden_inputs.relative_to(event.root)) if task.hidden_inputs.is_relative_to(
        event.root) else task.hidden_inputs.name
    return _load(task.hidden_labels, (stat.st_mtime_ns, stat.st_size), task.id_column, task.target_column,
                 task.metric, event.split.public_share, event.split.seed, inputs_name)
