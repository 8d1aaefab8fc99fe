"""Check an event end to end, as the organiser's ``workbench event check`` does, and summarise it.

``loader.load_event`` checks event.yaml and cheap facts about its files; this also reads the data:
the hidden labels (through the same cached ``hidden_set`` the scorer uses, so what passes here
scores), that the hidden inputs and labels hold the same ids, that the starter is a notebook, and
that every baseline scores. It returns plain lines for a CLI or an API to show, and raises
EventError with every problem found, each naming its file.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import nbformat

from workbench.errors import EventError, ValidationProblem, WorkbenchError
from workbench.hackathon.hidden_set import HiddenSet, hidden_set
from workbench.hackathon.loader import load_event
from workbench.hackathon.model import Event
from workbench.hackathon.scoring import score


def _input_ids(event: Event) -> list[str]:
    with event.task.hidden_inputs.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        header = [name.strip() for name in next(rows, [])]
        at = header.index(event.task.id_column)
        return [row[at].strip() for row in rows if len(row) > at]


def _same_ids(event: Event, hidden: HiddenSet, problems: list[ValidationProblem]) -> None:
    inputs = set(_input_ids(event))
    labels = set(hidden.ids)
    for name, extra in (("hidden inputs", inputs - labels), ("hidden labels", labels - inputs)):
        if extra:
            sample = ", ".join(sorted(extra)[:5])
            other = "labels" if name == "hidden inputs" else "inputs"
            problems.append(ValidationProblem(
                str(event.task.hidden_inputs if name == "hidden inputs" else event.task.hidden_labels),
                f"{len(extra)} id(s) in the {name} are not in the hidden {other} ({sample}); both files "
                "must hold the same ids"))


def _starter(path: Path, problems: list[ValidationProblem]) -> None:
    if path.suffix != ".ipynb":
        return
    try:
        nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        problems.append(ValidationProblem(str(path), f"the starter is not a valid notebook ({exc}); save it "
                                          "again from JupyterLab"))


def check_event(directory: str | Path) -> list[str]:
    """A summary of the event in lines, after checking it and its data; EventError listing every problem."""
    event = load_event(directory)
    problems: list[ValidationProblem] = []
    try:
        hidden: HiddenSet | None = hidden_set(event)
    except EventError as exc:
        problems += exc.problems
        hidden = None
    if hidden is not None:
        _same_ids(event, hidden, problems)
    _starter(event.task.starter, problems)
    baseline_lines = []
    for baseline in event.baselines if hidden is not None else ():
        try:
            scores = score(event, baseline.predictions.read_bytes(), baseline.predictions.name)
        except WorkbenchError as exc:
            problems.append(ValidationProblem(str(baseline.predictions), f"baseline '{baseline.name}' cannot be "
                                              f"scored: {exc.message}"))
            continue
        baseline_lines.append(f"baseline {baseline.name}: public {scores.public:.4f}, private {scores.private:.4f}")
    if problems:
        raise EventError(problems)
    assert hidden is not None
    return _summary(event, hidden) + baseline_lines


def _summary(event: Event, hidden: HiddenSet) -> list[str]:
    def when(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M")

    task, teams, limits = event.task, event.teams, event.limits
    lines = [f"{event.id}: {event.title}",
             f"window: {when(event.opens)} to {when(event.closes)} ({event.timezone})"]
    for phase in event.phases:
        notes = [f"re-scores {phase.migrate_from}'s submissions"] if phase.migrate_from else []
        notes += ["blind: teams see only 'received'"] if phase.blind else []
        lines.append(f"phase {phase.id}: {when(phase.opens)} to {when(phase.closes)}"
                     + (f" ({'; '.join(notes)})" if notes else ""))
    if teams.mode == "self":
        merge = f", merges until {when(teams.merge_deadline)}" if teams.merge_deadline else ""
        lines.append(f"teams: self-registration, at most {teams.max_size} members{merge}")
    else:
        lines.append(f"teams: {len(teams.declared)} declared, at most {teams.max_size} members")
    lines.append(f"quota per team: {event.quota.devices} {event.quota.kind} at once, "
                 f"{event.quota.device_hours:g} device-hours")
    public = int(hidden.public.sum())
    metric = f"scorer {task.scorer.name}" if task.scorer else task.metric
    direction = "higher" if task.higher_is_better else "lower"
    lines.append(f"task: {metric} ({direction} is better) on {len(hidden.ids)} hidden rows: {public} public, "
                 f"{len(hidden.ids) - public} private (seed {event.split.seed})")
    lines.append(f"submissions: {', '.join(event.kinds)}; {limits.per_day} a day, {limits.total} in all; "
                 f"notebook runs: {limits.run_timeout_s:g} s, {limits.memory_mb} MB")
    lines.append(f"final selection: {event.selection.rule}, k {event.selection.k}")
    return lines
