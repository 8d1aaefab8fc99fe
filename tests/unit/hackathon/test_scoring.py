"""Scoring on both splits at once: the numbers against scikit-learn on the same rows, what a probing
team can and cannot learn from what it is shown, and the hidden set read once."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as sk

from workbench.errors import EventError, PredictionsError
from workbench.hackathon.hidden_set import hidden_set
from workbench.hackathon.loader import load_event
from workbench.hackathon.model import Event
from workbench.hackathon.scoring import score
from workbench.hackathon.split import public_mask

from .event_files import VALID, line_of, predictions_csv, write_event


def read(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [r[0] for r in rows], [r[1] for r in rows]


@pytest.fixture(scope="module")
def sample(repo_root: Path) -> Event:
    return load_event(repo_root / "events" / "digits-sprint")


def test_sample_baseline_against_scikit_learn_on_each_split(sample: Event) -> None:
    ids, labels = read(sample.task.hidden_labels)
    by_id = dict(zip(*read(sample.baselines[0].predictions), strict=True))
    predicted = [by_id[i] for i in ids]
    public = public_mask(ids, sample.split.public_share, sample.split.seed)
    assert public.sum() == 300 and len(ids) == 1000
    scores = score(sample, sample.baselines[0].predictions.read_bytes())
    for got, rows in ((scores.public, public), (scores.private, ~public)):
        want = sk.f1_score(np.array(labels)[rows], np.array(predicted)[rows], average="macro")
        assert got == pytest.approx(want, abs=1e-12)


def test_a_probing_team_learns_nothing_beyond_its_public_score(sample: Event) -> None:
    """What a team is shown while the event runs is ``.public`` (the contract in scoring.py): however the
    private rows' predictions vary, it does not move; the public rows' predictions alone decide it."""
    ids, labels = read(sample.task.hidden_labels)
    public = public_mask(ids, sample.split.public_share, sample.split.seed)
    base = np.array(read(sample.baselines[0].predictions)[1])
    by_order = dict(zip(read(sample.baselines[0].predictions)[0], range(len(ids)), strict=True))
    base = base[[by_order[i] for i in ids]]
    shown = score(sample, predictions_csv(ids, base)).public
    rng = np.random.default_rng(1)
    truth = np.array(labels)
    privates = []
    for probe in (truth, (truth.astype(int) + 1) % 10, rng.integers(0, 10, len(ids)), np.zeros(len(ids), int)):
        values = np.where(public, base, np.asarray(probe).astype(str))
        result = score(sample, predictions_csv(ids, values))
        assert result.public == shown
        privates.append(result.private)
    assert len(set(privates)) == 4  # the private score did move: the probes were real
    right_on_public = np.where(public, truth, (truth.astype(int) + 1) % 10)
    assert score(sample, predictions_csv(ids, right_on_public)).public == 1.0
    assert score(sample, predictions_csv(ids, right_on_public)).private == 0.0


def test_a_refusal_reads_the_same_for_a_public_and_a_private_row(sample: Event) -> None:
    ids, _ = read(sample.task.hidden_labels)
    public = public_mask(ids, sample.split.public_share, sample.split.seed)
    messages = []
    for chosen in (ids[int(np.flatnonzero(public)[0])], ids[int(np.flatnonzero(~public)[0])]):
        order = [chosen] + [i for i in ids if i != chosen]  # the bad value on line 2 either way
        values = ["ten"] + ["1"] * (len(ids) - 1)
        with pytest.raises(PredictionsError) as caught:
            score(sample, predictions_csv(order, values))
        messages.append(caught.value.message.replace(f"id {chosen}", "id ?"))
    assert messages[0] == messages[1]
    assert "line 2: (id ?) 'ten' is not a class of this task" in messages[0]


def test_binary_auc_rmse_and_a_custom_scorer_on_both_splits(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    binary = [str(v) for v in rng.integers(0, 2, 200)]
    root = write_event(tmp_path, VALID.format(metric="roc_auc"), binary, name="ev")
    event = load_event(root)
    hidden = hidden_set(event)
    guesses = np.round(rng.random(200), 2)
    got = score(event, predictions_csv(hidden.ids, guesses))
    y = np.array(binary, dtype=int)
    assert got.public == pytest.approx(sk.roc_auc_score(y[hidden.public], guesses[hidden.public]), abs=1e-12)
    assert got.private == pytest.approx(sk.roc_auc_score(y[~hidden.public], guesses[~hidden.public]), abs=1e-12)

    values = rng.normal(size=150)
    (root / "hidden" / "labels.csv").unlink()
    root = write_event(tmp_path, VALID.format(metric="rmse"), [f"{v:.6f}" for v in values], name="ev")
    event = load_event(root)
    hidden = hidden_set(event)
    guesses = rng.normal(size=150)
    got = score(event, predictions_csv(hidden.ids, guesses))
    target = np.round(values, 6)
    assert got.public == pytest.approx(np.sqrt(sk.mean_squared_error(target[hidden.public], guesses[hidden.public])))

    text = VALID.format(metric="accuracy").replace("  metric: accuracy\n", "  scorer: scoring.py\n")
    root = write_event(tmp_path, text, ["cat", "dog", "owl"] * 20, name="ev")
    (root / "scoring.py").write_text("def score(y_true, y_pred):\n    return float(sum(t[0] == p[0] for t, p in "
                                     "zip(y_true, y_pred)) / len(y_true))\n")
    event = load_event(root)
    hidden = hidden_set(event)
    assert hidden.expected.kind == "text"
    guesses = np.array(["cow", "dodo", "ox"] * 20)  # same first letter as the label on every row
    got = score(event, predictions_csv(hidden.ids, guesses))
    assert (got.public, got.private, event.task.higher_is_better) == (1.0, 1.0, True)


def test_the_hidden_set_is_read_once_until_the_labels_change(tmp_path: Path) -> None:
    root = write_event(tmp_path)
    event = load_event(root)
    first = hidden_set(event)
    assert hidden_set(event) is first
    labels = root / "hidden" / "labels.csv"
    labels.write_text(labels.read_text().replace(",2\n", ",1\n"))
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 1_000_000))
    second = hidden_set(event)
    assert second is not first and set(second.expected.classes) == {"0", "1"}


def test_problems_in_the_labels_are_the_organisers_with_their_line(tmp_path: Path) -> None:
    root = write_event(tmp_path)
    labels = root / "hidden" / "labels.csv"
    text = labels.read_text().replace("id0003,0\n", "id0003,\n").replace("id0007,", "id0005,")
    labels.write_text(text)
    with pytest.raises(EventError) as caught:
        hidden_set(load_event(root))
    found = [str(p) for p in caught.value.problems]
    assert found == [f"{labels}:{line_of(text, 'id0003,')}: empty label; every hidden row needs both",
                     f"{labels}:{line_of(text, 'id0005,', after='id0005,')}: id 'id0005' again (first on line "
                     f"{line_of(text, 'id0005,')}); ids must be unique"]


def test_a_split_that_leaves_a_board_empty_is_refused(tmp_path: Path) -> None:
    root = write_event(tmp_path, labels=["1"])
    with pytest.raises(EventError, match=r"public_share 0\.3 of 1 hidden rows leaves the public board with no rows"):
        hidden_set(load_event(root))
