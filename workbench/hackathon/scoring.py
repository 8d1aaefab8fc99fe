"""Score a predictions file on both board splits at once, in the trusted process.

What a team may learn, and the contract callers keep: ``score`` returns ``Scores(public, private)``;
while the event runs a team is shown ``public`` only (the store keeps ``private`` for the board
revealed at finalize). ``public`` is computed from the public rows alone — the predictions for
private rows do not enter it, so however a team varies them, what it sees does not move (tested in
tests/unit/hackathon/test_scoring.py). A refused file's message depends only on the file and the
hidden ids every team has (``predictions.py``), never on labels or on which rows are public.
Showing ``private``, a per-row result or a message that names public rows would break this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.hackathon.hidden_set import HiddenSet, hidden_set
from workbench.hackathon.metrics import FROM_CONFUSION, METRIC_FUNCTIONS, confusion, load_scorer
from workbench.hackathon.model import Event
from workbench.hackathon.predictions import parse


@dataclass(frozen=True)
class Scores:
    """A submission's score on the public rows (shown while the event runs) and on the private rows."""

    public: float
    private: float


def score(event: Event, csv_bytes: bytes, name: str = "predictions.csv") -> Scores:
    """Validate ``csv_bytes`` against the hidden ids (PredictionsError listing what is wrong, headed by
    ``name``) and score it on both splits. The labels are read here, in the trusted process, once per
    event (``hidden_set``)."""
    hidden = hidden_set(event)
    return score_aligned(event, hidden, parse(csv_bytes, hidden.expected, name))


def score_aligned(event: Event, hidden: HiddenSet, y_pred: np.ndarray) -> Scores:
    """Both splits' scores of predictions already in the hidden order: one confusion-matrix pass for
    the class metrics, one call per split otherwise (each split is scored on its own rows only)."""
    metric = event.task.metric
    if metric in FROM_CONFUSION:
        private_group = (~hidden.public).astype(np.int64)
        matrices = confusion(hidden.y, y_pred, len(hidden.expected.classes), private_group, n_groups=2)
        return Scores(FROM_CONFUSION[metric](matrices[0]), FROM_CONFUSION[metric](matrices[1]))
    function = load_scorer(event.task.scorer) if event.task.scorer is not None else METRIC_FUNCTIONS[metric]
    public, private = hidden.public, ~hidden.public
    return Scores(function(hidden.y[public], y_pred[public]), function(hidden.y[private], y_pred[private]))
