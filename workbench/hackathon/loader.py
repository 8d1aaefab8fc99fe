"""Load ``events/<id>/event.yaml`` and validate it, reporting every problem at once with its line.

An organiser fixes an event in one pass when told all of it, as an instructor fixes a course
(``curriculum/loader.py``; both read YAML through ``workbench.yaml_source``). This module checks the
file's structure and cheap facts about the files it names (they exist, lie inside the event
directory, the hidden CSVs' header rows); ``check.py`` reads the data itself. Times without an
offset are in the event's ``timezone`` (UTC when none is given), through ``zoneinfo``.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import re
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from workbench.devices.inventory import KINDS
from workbench.errors import EventError
from workbench.hackathon import event_sections
from workbench.hackathon.event_sections import Reader
from workbench.hackathon.model import (
    LOWER_IS_BETTER,
    METRICS,
    SUBMISSION_KINDS,
    Baseline,
    Event,
    Phase,
    Task,
    TeamQuota,
)
from workbench.yaml_source import open_mapping

EVENT_FILE = "event.yaml"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
EVENT_KEYS = {"id", "title", "description", "timezone", "window", "phases", "teams", "quota", "task",
              "split", "limits", "selection", "baselines", "organisers", "kinds"}
WINDOW_KEYS = {"opens", "closes"}
PHASE_KEYS = {"id", "title", "opens", "closes", "blind", "migrate_from"}
QUOTA_KEYS = {"kind", "devices", "device_hours"}
TASK_KEYS = {"starter", "train", "hidden_inputs", "hidden_labels", "id_column", "target_column", "metric",
             "scorer", "higher_is_better"}
BASELINE_KEYS = {"name", "predictions"}
CUSTOM = "custom"  # Task.metric when an organiser's scorer decides


def _zone(r: Reader, data: dict[str, Any]) -> tzinfo:
    name = data.get("timezone")
    if name is None:
        return timezone.utc
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        hint = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else "write an IANA zone such as Asia/Shanghai or UTC"
        r.add(("timezone",), f"timezone '{name}' is not a known time zone — {fix}")
        return timezone.utc


def _moment(r: Reader, value: Any, path: tuple[Any, ...], what: str) -> datetime | None:
    """A time as written: with an offset it is that instant; without one it is in the event's zone."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        plain_date = isinstance(value, date)
        r.add(path, f"{what} {value!r} is {'a date without a time' if plain_date else 'not a time'}; "
              "write e.g. 2026-12-03T09:00 (in the event's timezone) or 2026-12-03T09:00+08:00")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=r.zone)


def _window(r: Reader, data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    raw = r.mapping(data, "window", WINDOW_KEYS, "window", "{opens: 2026-12-03T09:00, closes: 2026-12-17T18:00}")
    if raw is None:
        return None, None
    opens, closes = (_moment(r, raw[k], ("window", k), f"window {k}") if k in raw else None
                     for k in ("opens", "closes"))
    for key in WINDOW_KEYS - set(raw):
        r.add(("window",), f"window: missing required key '{key}'")
    if opens and closes and opens >= closes:
        r.add(("window", "closes"), f"window closes ({closes.isoformat()}) before it opens "
              f"({opens.isoformat()}); the window must close after it opens")
    return opens, closes


def _phases(r: Reader, data: dict[str, Any], opens: datetime | None, closes: datetime | None) -> list[Phase]:
    raw = data.get("phases")
    if not isinstance(raw, list) or not raw:
        if "phases" in data:
            r.add(("phases",), "phases must be a non-empty list, e.g. a development and a final phase")
        return []
    phases: list[tuple[Phase, tuple[Any, ...]]] = []
    for i, item in enumerate(raw):
        path = ("phases", i)
        if not isinstance(item, dict):
            r.add(path, f"phase {i + 1}: must be a mapping with id, opens and closes")
            continue
        what = f"phase '{item['id']}'" if "id" in item else f"phase {i + 1}"
        r.unknown(item, PHASE_KEYS, what, path)
        for key in ("id", "opens", "closes"):
            if key not in item:
                r.add(path, f"{what}: missing required key '{key}'")
        phase_id = str(item.get("id", ""))
        if "id" in item and not SLUG.match(phase_id):
            r.add((*path, "id"), f"{what}: id must be lowercase letters, digits, '-' or '_'")
        if any(p.id == phase_id for p, _ in phases):
            r.add((*path, "id"), f"{what}: duplicate phase id; give each phase its own id")
        start = _moment(r, item["opens"], (*path, "opens"), f"{what} opens") if "opens" in item else None
        end = _moment(r, item["closes"], (*path, "closes"), f"{what} closes") if "closes" in item else None
        blind = r.boolean(item, "blind", False, path, what)
        migrate = item.get("migrate_from")
        if start is None or end is None:
            continue
        if start >= end:
            r.add((*path, "closes"), f"{what}: closes before it opens; a phase must close after it opens")
        if opens and start < opens:
            r.add((*path, "opens"), f"{what}: opens {start.isoformat()}, before the window opens "
                  f"({opens.isoformat()}); phases lie inside the window")
        if closes and end > closes:
            r.add((*path, "closes"), f"{what}: closes {end.isoformat()}, after the window closes "
                  f"({closes.isoformat()}); phases lie inside the window")
        phases.append((Phase(id=phase_id, title=str(item.get("title", phase_id)), opens=start, closes=end,
                             blind=blind, migrate_from=None if migrate is None else str(migrate)), path))
    ordered = sorted(phases, key=lambda pair: pair[0].opens)
    for (earlier, _), (later, later_path) in itertools.pairwise(ordered):
        if later.opens < earlier.closes:
            r.add((*later_path, "opens"), f"phase '{later.id}' opens {later.opens.isoformat()}, before phase "
                  f"'{earlier.id}' closes ({earlier.closes.isoformat()}); phases must not overlap")
    for phase, path in phases:
        if phase.migrate_from is None:
            continue
        source = next((p for p, _ in phases if p.id == phase.migrate_from), None)
        if source is None:
            names = [p.id for p, _ in phases if p.id != phase.id]
            hint = difflib.get_close_matches(phase.migrate_from, names, n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"phases: {', '.join(names) or 'none other'}"
            r.add((*path, "migrate_from"), f"phase '{phase.id}': migrate_from '{phase.migrate_from}' is not a "
                  f"phase — {fix}")
        elif source.closes > phase.opens:
            r.add((*path, "migrate_from"), f"phase '{phase.id}': migrate_from '{source.id}', which does not "
                  "close before this phase opens; submissions migrate from an earlier phase")
    return [p for p, _ in ordered]


def _quota(r: Reader, data: dict[str, Any]) -> TeamQuota:
    raw = r.mapping(data, "quota", QUOTA_KEYS, "quota", "{kind: npu, devices: 1, device_hours: 40}")
    if raw is None:
        return TeamQuota()
    kind = raw.get("kind", TeamQuota.kind)
    if kind not in KINDS:
        r.add(("quota", "kind"), f"quota: kind '{kind}' is not one of {', '.join(KINDS)}")
        kind = TeamQuota.kind
    return TeamQuota(kind=kind, devices=r.whole(raw, "devices", TeamQuota.devices, ("quota",), "quota"),
                     device_hours=r.number(raw, "device_hours", TeamQuota.device_hours, ("quota",), "quota"))


def _scorer(r: Reader, path: Path, key: tuple[Any, ...]) -> None:
    """The organiser's scorer must define ``score``: checked by parsing, not running, the file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        r.add(key, f"task: scorer {path.name} is not valid Python ({exc}); fix it so it imports")
        return
    if not any(isinstance(n, ast.FunctionDef) and n.name == "score" for n in tree.body):
        r.add(key, f"task: scorer {path.name} defines no top-level function score(y_true, y_pred) -> float")


def _task(r: Reader, data: dict[str, Any]) -> Task | None:
    raw = r.mapping(data, "task", TASK_KEYS, "task", "{starter: starter.ipynb, train: data/train.csv, ...}")
    if raw is None:
        return None
    files = {key: r.file(raw, key, ("task",), "task") for key in ("starter", "train", "hidden_inputs",
                                                                     "hidden_labels")}
    id_column, target = (str(raw.get(k, default)) for k, default in (("id_column", Task.id_column),
                                                                     ("target_column", Task.target_column)))
    if id_column == target:
        r.add(("task", "target_column"), f"task: id_column and target_column are both '{id_column}'; "
              "name two different columns")
    scorer = r.file(raw, "scorer", ("task",), "task", required=False)
    metric = str(raw.get("metric", CUSTOM if "scorer" in raw else Task.metric))
    higher = r.boolean(raw, "higher_is_better", True, ("task",), "task")
    if "scorer" in raw:
        if metric != CUSTOM:
            r.add(("task", "metric"), f"task: metric '{metric}' and a scorer both given; remove metric "
                  "(the scorer decides) or the scorer")
        if scorer is not None:
            _scorer(r, scorer, ("task", "scorer"))
    else:
        if metric not in METRICS:
            hint = difflib.get_close_matches(metric, METRICS, n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"use one of {', '.join(METRICS)} or a scorer"
            r.add(("task", "metric"), f"task: metric '{metric}' is not a known metric — {fix}")
        if "higher_is_better" in raw:
            r.add(("task", "higher_is_better"), "task: higher_is_better is only for a scorer; the metric "
                  f"'{metric}' has its own direction")
        higher = metric not in LOWER_IS_BETTER
    inputs, labels = files["hidden_inputs"], files["hidden_labels"]
    if inputs is not None and inputs == labels:
        r.add(("task", "hidden_labels"), "task: hidden_inputs and hidden_labels are the same file; the "
              "labels must be a file of their own that no team's run can read")
    if inputs is not None:
        event_sections.check_header(r, inputs, ("task", "hidden_inputs"), must={id_column}, must_not={target})
    if labels is not None:
        event_sections.check_header(r, labels, ("task", "hidden_labels"), must={id_column, target})
    if any(files[k] is None for k in files):
        return None
    return Task(starter=files["starter"], train=files["train"], hidden_inputs=inputs,  # type: ignore[arg-type]
                hidden_labels=labels, id_column=id_column, target_column=target,  # type: ignore[arg-type]
                metric=metric, scorer=scorer, higher_is_better=higher)


def _baselines(r: Reader, data: dict[str, Any]) -> tuple[Baseline, ...]:
    raw = data.get("baselines", [])
    if not isinstance(raw, list):
        r.add(("baselines",), "baselines must be a list of {name, predictions}")
        return ()
    found: list[Baseline] = []
    for i, item in enumerate(raw):
        path = ("baselines", i)
        if not isinstance(item, dict) or "name" not in item:
            r.add(path, f"baseline {i + 1}: must be a mapping with name and predictions")
            continue
        what = f"baseline '{item['name']}'"
        r.unknown(item, BASELINE_KEYS, what, path)
        if any(b.name == str(item["name"]) for b in found):
            r.add((*path, "name"), f"{what}: duplicate name; give each baseline its own")
        predictions = r.file(item, "predictions", path, what)
        if predictions is not None:
            found.append(Baseline(name=str(item["name"]), predictions=predictions))
    return tuple(found)


def _kinds(r: Reader, data: dict[str, Any]) -> tuple[str, ...]:
    raw = data.get("kinds", list(SUBMISSION_KINDS))
    if not isinstance(raw, list) or not raw or any(k not in SUBMISSION_KINDS for k in raw):
        r.add(("kinds",), f"kinds must be a non-empty list drawn from {', '.join(SUBMISSION_KINDS)}; got {raw!r}")
        return SUBMISSION_KINDS
    return tuple(dict.fromkeys(raw))


def load_event(directory: str | Path) -> Event:
    """Read and validate ``directory/event.yaml``; raise EventError listing every problem found."""
    root, data, lines, problems = open_mapping(
        directory, EVENT_FILE, "an event directory holds event.yaml, the starter notebook and the data",
        "id, title, window, phases and task", EventError)
    r = Reader(root, lines, problems, timezone.utc)
    r.unknown(data, EVENT_KEYS, "event", ())
    for key in ("id", "title", "window", "phases", "task"):
        if key not in data:
            problems.add(None, f"event: missing required key '{key}'")
    event_id = str(data.get("id", ""))
    if "id" in data and not SLUG.match(event_id):
        r.add(("id",), f"event id '{event_id}' must be lowercase letters, digits, '-' or '_' (e.g. digits-sprint)")
    elif "id" in data and event_id != root.name:
        r.add(("id",), f"event id '{event_id}' differs from its directory's name '{root.name}'; make them the same")
    r.zone = _zone(r, data)
    opens, closes = _window(r, data)
    phases = _phases(r, data, opens, closes)
    teams = event_sections.teams(r, data, opens, closes, lambda v, p, w: _moment(r, v, p, w))
    quota = _quota(r, data)
    task = _task(r, data)
    split, limits = event_sections.split(r, data), event_sections.limits(r, data)
    selection = event_sections.selection(r, data)
    baselines, kinds = _baselines(r, data), _kinds(r, data)
    organisers = data.get("organisers", [])
    if not isinstance(organisers, list) or not all(isinstance(o, str) for o in organisers):
        r.add(("organisers",), "organisers must be a list of account names, e.g. [alice, bob]")
        organisers = []
    if problems.items or task is None or opens is None or closes is None:
        raise EventError(problems.items)
    return Event(id=event_id, title=str(data["title"]), root=root, timezone=str(data.get("timezone", "UTC")),
                 opens=opens, closes=closes, phases=tuple(phases), task=task, teams=teams, quota=quota,
                 split=split, limits=limits, selection=selection, baselines=baselines,
                 organisers=tuple(organisers), description=str(data.get("description", "")), kinds=kinds)
