"""Event directories written by the tests: event.yaml as literal text (so a test can point at its
lines), a starter notebook, and train / hidden inputs / hidden labels CSVs from the labels given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

VALID = """\
id: ev
title: A test event
timezone: Asia/Shanghai
window:
  opens: 2026-12-01T09:00
  closes: 2026-12-20T18:00
phases:
  - id: dev
    opens: 2026-12-01T09:00
    closes: 2026-12-15T00:00
  - id: final
    opens: 2026-12-15T00:00
    closes: 2026-12-20T18:00
    migrate_from: dev
teams:
  mode: self
  max_size: 3
task:
  starter: starter.ipynb
  train: data/train.csv
  hidden_inputs: hidden/inputs.csv
  hidden_labels: hidden/labels.csv
  metric: {metric}
split:
  public_share: 0.3
  seed: 5
"""


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of ``text`` holding ``needle`` (the first one after the line holding ``after``)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) + 1 if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def write_event(parent: Path, text: str = VALID.format(metric="accuracy"), labels: Sequence[str] = (),
                name: str = "ev") -> Path:
    """An event directory ``parent/name``; ``labels`` default to 100 rows of classes 0, 1, 2."""
    labels = list(labels) or [str(i * 7 % 3) for i in range(100)]
    ids = [f"id{i:04d}" for i in range(len(labels))]
    root = parent / name
    for folder in ("data", "hidden"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "data" / "train.csv").write_text("id,x,label\n" + "".join(f"t{i},{i},{i % 3}\n" for i in range(30)))
    (root / "hidden" / "inputs.csv").write_text("id,x\n" + "".join(f"{i},{n}\n" for n, i in enumerate(ids)))
    (root / "hidden" / "labels.csv").write_text("id,label\n" + "".join(
        f"{i},{label}\n" for i, label in zip(ids, labels, strict=True)))
    nbformat.write(new_notebook(cells=[new_code_cell("print('starter')")]), root / "starter.ipynb")
    (root / "event.yaml").write_text(text)
    return root


def predictions_csv(ids: Sequence[str], values: Sequence[object], header: str = "id,label") -> bytes:
    return (header + "\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values, strict=True))).encode()
