"""check_event on the shipped sample (its data checksums, its summary) and on broken data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from workbench.errors import EventError
from workbench.hackathon.check import check_event
from workbench.hackathon.loader import load_event

from .event_files import write_event


def test_sample_data_matches_its_checksums(repo_root: Path) -> None:
    root = repo_root / "events" / "digits-sprint"
    listed = [line.split() for line in (root / "SHA256SUMS").read_text().splitlines()]
    assert {name for _, name in listed} == {"data/train.csv", "hidden/inputs.csv", "hidden/labels.csv",
                                            "baselines/nearest_centroid.csv"}
    for digest, name in listed:
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name


def test_sample_summary(repo_root: Path) -> None:
    lines = check_event(repo_root / "events" / "digits-sprint")
    assert lines[0] == "digits-sprint: Digits sprint"
    assert "window: 2026-12-03 00:00 to 2027-12-31 00:00 (Asia/Shanghai)" in lines
    assert "phase final: 2027-12-01 00:00 to 2027-12-31 00:00 (re-scores development's submissions)" in lines
    assert "task: macro_f1 (higher is better) on 1000 hidden rows: 300 public, 700 private (seed 20261203)" in lines
    assert "teams: self-registration, at most 3 members, merges until 2027-11-15 00:00" in lines
    [baseline] = [line for line in lines if line.startswith("baseline ")]
    assert baseline.startswith("baseline Nearest centroid: public 0.9")


def test_the_starter_reads_the_files_the_sandbox_places(repo_root: Path) -> None:
    """notebook_run puts train and hidden inputs at their event-relative paths: the starter must use them."""
    event = load_event(repo_root / "events" / "digits-sprint")
    source = "\n".join(c.source for c in nbformat.read(event.task.starter, as_version=4).cells)
    for path in (event.task.train, event.task.hidden_inputs):
        assert f"'{path.relative_to(event.root)}'" in source
    assert "hidden/labels" not in source and "predictions.csv" in source


def test_data_problems_are_listed_together(tmp_path: Path) -> None:
    root = write_event(tmp_path)
    inputs = root / "hidden" / "inputs.csv"
    inputs.write_text(inputs.read_text().replace("id0002,", "extra1,"))
    (root / "baselines").mkdir()
    (root / "baselines" / "b.csv").write_text("id,label\nid0000,1\n")
    event_yaml = root / "event.yaml"
    event_yaml.write_text(event_yaml.read_text() + "baselines:\n  - name: broken\n    predictions: baselines/b.csv\n")
    (root / "starter.ipynb").write_text("{not json")
    with pytest.raises(EventError) as caught:
        check_event(root)
    found = [str(p) for p in caught.value.problems]
    assert found[0] == (f"{inputs}: 1 id(s) in the hidden inputs are not in the hidden labels (extra1); both files "
                        "must hold the same ids")
    assert found[1].startswith(f"{root / 'hidden' / 'labels.csv'}: 1 id(s) in the hidden labels are not in the "
                               "hidden inputs (id0002)")
    assert found[2].startswith(f"{root / 'starter.ipynb'}: the starter is not a valid notebook")
    assert found[3].startswith(f"{root / 'baselines' / 'b.csv'}: baseline 'broken' cannot be scored: "
                               "b.csv: 1 problem")
    assert "99 hidden ids have no row" in found[3]
