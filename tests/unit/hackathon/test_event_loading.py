"""event.yaml through load_event: the sample event, and every kind of problem reported at once with
its file and line, as an organiser reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workbench.errors import EventError
from workbench.hackathon.loader import load_event

from .event_files import VALID, line_of, write_event

SHANGHAI = ZoneInfo("Asia/Shanghai")


def problems(root: Path) -> list[str]:
    with pytest.raises(EventError) as caught:
        load_event(root)
    return [str(p) for p in caught.value.problems]


def has(found: list[str], file: Path, line: int, *words: str) -> None:
    """One problem located at ``file:line`` mentions every word."""
    at = [p for p in found if p.startswith(f"{file}:{line}: ")]
    assert any(all(w in p for w in words) for p in at), f"no problem at line {line} with {words}: {found}"


def test_sample_event_loads_in_its_time_zone(repo_root: Path) -> None:
    event = load_event(repo_root / "events" / "digits-sprint")
    assert event.id == "digits-sprint" and event.timezone == "Asia/Shanghai"
    assert event.opens == datetime(2026, 12, 3, 0, 0, tzinfo=SHANGHAI)
    assert event.opens.utcoffset() == timedelta(hours=8)
    assert [p.id for p in event.phases] == ["development", "final"]
    assert event.phases[1].migrate_from == "development"
    assert event.phase_at(event.phases[1].opens) == event.phases[1]  # opens inclusive, closes exclusive
    assert event.task.metric == "macro_f1" and event.task.higher_is_better
    assert event.task.hidden_labels == repo_root / "events" / "digits-sprint" / "hidden" / "labels.csv"
    assert (event.teams.mode, event.teams.max_size) == ("self", 3)
    assert (event.quota.kind, event.quota.devices) == ("cpu", 1)
    assert (event.split.public_share, event.selection.rule, event.selection.k) == (0.3, "best_public", 2)
    assert [b.name for b in event.baselines] == ["Nearest centroid"]


def test_offsets_win_over_the_zone_and_utc_is_the_default(tmp_path: Path) -> None:
    text = VALID.format(metric="accuracy").replace("timezone: Asia/Shanghai\n", "").replace(
        "opens: 2026-12-01T09:00\n  closes", "opens: 2026-12-01T09:00+08:00\n  closes")
    event = load_event(write_event(tmp_path, text))
    assert event.timezone == "UTC"
    assert event.opens == datetime(2026, 12, 1, 1, 0, tzinfo=ZoneInfo("UTC"))
    assert event.closes == datetime(2026, 12, 20, 18, 0, tzinfo=ZoneInfo("UTC"))


BROKEN = """\
id: ev
titel: Typo in a key
timezone: Asia/Shangai
window:
  opens: 2026-12-01T09:00
  closes: next tuesday
phases:
  - id: dev
    opens: 2026-11-30T09:00
    closes: 2026-12-15T00:00
  - id: final
    opens: 2026-12-14T00:00
    closes: 2026-12-20T18:00
    migrate_from: devel
teams:
  mode: self
  max_size: 2
  declared:
    owls: [alice, bob]
    larks: [carol, alice, dave]
quota:
  kind: tpu
  devices: 0
task:
  starter: starter.ipynb
  train: data/missing.csv
  hidden_inputs: hidden/inputs.csv
  hidden_labels: ../outside.csv
  metric: acuracy
split:
  public_share: 1.5
limits:
  per_day: 10
  total: 5
  memory_mb: 16
selection:
  rule: best-public
  k: 0
kinds: [predictions, model]
"""


def test_every_problem_at_once_with_its_line(tmp_path: Path) -> None:
    root = write_event(tmp_path, BROKEN)
    (tmp_path / "outside.csv").write_text("id,label\n")
    file = root / "event.yaml"
    found = problems(root)
    has(found, file, line_of(BROKEN, "titel"), "unknown key 'titel'", "did you mean 'title'?")
    assert f"{file}: event: missing required key 'title'" in found
    has(found, file, line_of(BROKEN, "timezone"), "Asia/Shangai", "did you mean 'Asia/Shanghai'?")
    has(found, file, line_of(BROKEN, "next tuesday"), "window closes 'next tuesday' is not a time", "2026-12-03T09:00")
    has(found, file, line_of(BROKEN, "2026-11-30T09:00"), "phase 'dev'", "before the window opens")
    has(found, file, line_of(BROKEN, "2026-12-14T00:00"), "phase 'final' opens", "before phase 'dev' closes",
        "must not overlap")
    has(found, file, line_of(BROKEN, "migrate_from"), "migrate_from 'devel'", "did you mean 'dev'?")
    has(found, file, line_of(BROKEN, "larks"), "'alice' is in team 'owls'", f"line {line_of(BROKEN, 'owls')}",
        "one team")
    has(found, file, line_of(BROKEN, "larks"), "3 members, more than max_size 2")
    has(found, file, line_of(BROKEN, "kind: tpu"), "kind 'tpu' is not one of npu, gpu, cpu")
    has(found, file, line_of(BROKEN, "devices: 0"), "devices must be a whole number ≥ 1")
    has(found, file, line_of(BROKEN, "missing.csv"), "train data/missing.csv not found", "fix the path")
    has(found, file, line_of(BROKEN, "outside.csv"), "lies outside the event directory")
    has(found, file, line_of(BROKEN, "acuracy"), "metric 'acuracy'", "did you mean 'accuracy'?")
    has(found, file, line_of(BROKEN, "public_share"), "strictly between 0 and 1", "1.5")
    has(found, file, line_of(BROKEN, "per_day"), "per_day 10 is more than total 5")
    has(found, file, line_of(BROKEN, "memory_mb"), "memory_mb must be a whole number ≥ 64")
    has(found, file, line_of(BROKEN, "rule: best"), "rule 'best-public'", "did you mean 'best_public'?")
    has(found, file, line_of(BROKEN, "k: 0"), "k must be a whole number ≥ 1")
    has(found, file, line_of(BROKEN, "kinds"), "kinds must be", "predictions, notebook", "model")
    assert len(found) == 20, found  # nothing reported twice, nothing left out


def test_missing_sections_and_keys(tmp_path: Path) -> None:
    text = ("id: ev\ntitle: T\nwindow:\n  opens: 2026-12-01T09:00\nphases:\n  - id: dev\n    opens: 2026-12-01\n"
            "task:\n  starter: starter.ipynb\n")
    root = write_event(tmp_path, text)
    found = problems(root)
    file = root / "event.yaml"
    has(found, file, 3, "window: missing required key 'closes'")
    has(found, file, 6, "phase 'dev': missing required key 'closes'")
    has(found, file, 7, "a date without a time")
    for key in ("train", "hidden_inputs", "hidden_labels"):
        has(found, file, 8, f"task: missing required key '{key}'")


def test_id_names_its_directory_and_yaml_errors_have_a_line(tmp_path: Path) -> None:
    root = write_event(tmp_path, VALID.format(metric="accuracy"), name="other")
    assert problems(root) == [f"{root / 'event.yaml'}:1: event id 'ev' differs from its directory's name 'other'; "
                              "make them the same"]
    (root / "event.yaml").write_text("id: other\ntitle: [unclosed\n")
    [problem] = problems(root)
    assert problem.startswith(f"{root / 'event.yaml'}:") and "not valid YAML" in problem
    assert problems(tmp_path / "nowhere")[0].endswith("does not exist); an event directory holds event.yaml, "
                                                      "the starter notebook and the data")
    (root / "event.yaml").write_text("just a sentence\n")
    assert problems(root) == [f"{root / 'event.yaml'}:1: event.yaml must be a mapping with id, title, window, "
                              "phases and task"]


def test_label_column_in_the_hidden_inputs_is_refused(tmp_path: Path) -> None:
    root = write_event(tmp_path)
    (root / "hidden" / "inputs.csv").write_text("id,x,label\nid0000,1,2\n")
    text = VALID.format(metric="accuracy")
    has(problems(root), root / "event.yaml", line_of(text, "hidden_inputs"), "inputs.csv has the target column "
        "'label'", "move the labels to hidden_labels only")


def test_scorer_is_checked_without_running_it(tmp_path: Path) -> None:
    text = VALID.format(metric="accuracy").replace("  metric: accuracy\n",
                                                   "  scorer: scoring.py\n  higher_is_better: false\n")
    root = write_event(tmp_path, text)
    (root / "scoring.py").write_text("raise SystemExit('never run by the loader')\ndef grade(a, b):\n    return 0\n")
    has(problems(root), root / "event.yaml", line_of(text, "scorer"), "defines no top-level function score")
    (root / "scoring.py").write_text("def score(y_true, y_pred):\n    return 0.0\n")
    event = load_event(root)
    assert (event.task.metric, event.task.scorer, event.task.higher_is_better) == ("custom", root / "scoring.py", False)
    both = text.replace("  scorer:", "  metric: rmse\n  scorer:")
    (root / "event.yaml").write_text(both)
    has(problems(root), root / "event.yaml", line_of(both, "metric: rmse"), "metric 'rmse' and a scorer both given")


def test_migration_must_come_from_an_earlier_phase(tmp_path: Path) -> None:
    text = VALID.format(metric="accuracy").replace("    migrate_from: dev\n", "").replace(
        "    closes: 2026-12-15T00:00\n", "    closes: 2026-12-15T00:00\n    migrate_from: final\n")
    root = write_event(tmp_path, text)
    has(problems(root), root / "event.yaml", line_of(text, "migrate_from"), "migrate_from 'final'",
        "does not close before this phase opens")
