"""A tiny event directory written by the tests: 40 hidden rows, labels 0/1, accuracy, one baseline.

Which hidden ids are public comes from the event's own seeded split (``split.public_mask``), so a
test can write predictions that are right on exactly the public and private rows it chooses and
state the scores it expects as plain fractions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from workbench.hackathon.split import public_mask

ROWS = 40
IDS = [f"r{i:02d}" for i in range(ROWS)]
LABELS = {i: n % 2 for n, i in enumerate(IDS)}


@dataclass
class Spec:
    opens: datetime
    closes: datetime
    phases: list[dict[str, Any]] = field(default_factory=list)
    event_id: str = "tiny"
    timezone: str = "UTC"
    per_day: int = 5
    total: int = 100
    teams: dict[str, Any] = field(default_factory=lambda: {"mode": "self", "max_size": 3})
    selection: dict[str, Any] = field(default_factory=lambda: {"rule": "best_public", "k": 2})
    organisers: list[str] = field(default_factory=list)
    baseline: bool = True
    run_timeout_s: float = 60


def iso(moment: datetime) -> str:
    return moment.isoformat()


def public_ids(seed: int = 3, share: float = 0.5) -> set[str]:
    mask = public_mask(IDS, share, seed)
    return {i for i, public in zip(IDS, mask, strict=True) if public}


def predictions(right: set[str]) -> bytes:
    """A predictions CSV right on exactly the ids in ``right`` and wrong on every other."""
    lines = ["id,label", *(f"{i},{LABELS[i] if i in right else 1 - LABELS[i]}" for i in IDS)]
    return ("\n".join(lines) + "\n").encode()


def right_on(public: int, private: int) -> set[str]:
    """Ids to get right: the first ``public`` public ones and the first ``private`` private ones."""
    pub = sorted(public_ids())
    priv = sorted(set(IDS) - set(pub))
    return set(pub[:public]) | set(priv[:private])


def write(parent: Path, spec: Spec) -> Path:
    root = parent / spec.event_id
    (root / "hidden").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "hidden" / "inputs.csv").write_text("id,x\n" + "".join(f"{i},{LABELS[i] * 2.0 + 0.1}\n" for i in IDS))
    (root / "hidden" / "labels.csv").write_text("id,label\n" + "".join(f"{i},{LABELS[i]}\n" for i in IDS))
    (root / "data" / "train.csv").write_text("id,x,label\n" + "".join(f"t{n},{n % 2 * 2.0},{n % 2}\n"
                                                                       for n in range(10)))
    nbformat.write(new_notebook(cells=[new_code_cell("import pandas as pd")]), root / "starter.ipynb")
    phases = spec.phases or [{"id": "main", "title": "Main", "opens": iso(spec.opens), "closes": iso(spec.closes)}]
    data: dict[str, Any] = {
        "id": spec.event_id, "title": "Tiny event", "timezone": spec.timezone,
        "window": {"opens": iso(spec.opens), "closes": iso(spec.closes)}, "phases": phases,
        "teams": spec.teams,
        "task": {"starter": "starter.ipynb", "train": "data/train.csv", "hidden_inputs": "hidden/inputs.csv",
                 "hidden_labels": "hidden/labels.csv", "id_column": "id", "target_column": "label",
                 "metric": "accuracy"},
        "split": {"public_share": 0.5, "seed": 3},
        "limits": {"per_day": spec.per_day, "total": spec.total, "run_timeout_s": spec.run_timeout_s},
        "selection": spec.selection, "organisers": spec.organisers,
    }
    if spec.baseline:
        (root / "baselines").mkdir(exist_ok=True)
        (root / "baselines" / "half.csv").write_bytes(predictions(right_on(10, 10)))
        data["baselines"] = [{"name": "half", "predictions": "baselines/half.csv"}]
    (root / "event.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root
