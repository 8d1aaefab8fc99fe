"""The small sections of event.yaml (teams, split, limits, selection) and the reader they share.

Why apart from ``loader.py``: these sections are plain numbers and names checked the same way
(a whole number at least 1, a share strictly between 0 and 1, a name from a fixed list); the
``Reader`` carries what every check needs (the event directory, the key lines, the problems found,
the event's time zone) so each problem is reported with its line without threading five arguments.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from workbench.hackathon.model import SELECTION_RULES, TEAM_MODES, Limits, Selection, Split, TeamRules
from workbench.yaml_source import KeyPath, Lines, Problems, unknown_keys

TEAM_KEYS = {"mode", "max_size", "merge_deadline", "declared"}
SPLIT_KEYS = {"public_share", "seed"}
LIMIT_KEYS = {"per_day", "total", "run_timeout_s", "memory_mb"}
SELECTION_KEYS = {"rule", "k"}
MIN_MEMORY_MB = 64  # below this not even the sandbox's Python starts


@dataclass
class Reader:
    """Where event.yaml is and what has been found wrong in it so far."""

    root: Path
    lines: Lines
    problems: Problems
    zone: tzinfo

    def add(self, path: KeyPath, message: str) -> None:
        """A problem at the line of ``path`` (or of its nearest written parent)."""
        while path and path not in self.lines:
            path = path[:-1]
        self.problems.add(self.lines.get(path), message)

    def unknown(self, data: dict[str, Any], known: set[str], what: str, path: KeyPath) -> None:
        unknown_keys(data, known, what, path, self.lines, self.problems)

    def mapping(self, data: dict[str, Any], key: str, known: set[str], what: str,
                example: str) -> dict[str, Any] | None:
        """``data[key]`` as a checked mapping ({} when absent), or None when it is not a mapping."""
        raw = data.get(key, {})
        if not isinstance(raw, dict):
            self.add((key,), f"{what} must be a mapping such as {example}")
            return None
        self.unknown(raw, known, what, (key,))
        return raw

    def whole(self, raw: dict[str, Any], key: str, default: int, path: KeyPath, what: str, least: int = 1) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            self.add((*path, key), f"{what}: {key} must be a whole number ≥ {least}, not {value!r}")
            return default
        return value

    def number(self, raw: dict[str, Any], key: str, default: float, path: KeyPath, what: str) -> float:
        value = raw.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            self.add((*path, key), f"{what}: {key} must be a number > 0, not {value!r}")
            return default
        return float(value)

    def boolean(self, raw: dict[str, Any], key: str, default: bool, path: KeyPath, what: str) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.add((*path, key), f"{what}: {key} must be true or false, not {value!r}")
            return default
        return value

    def file(self, raw: dict[str, Any], key: str, path: KeyPath, what: str, required: bool = True) -> Path | None:
        """A file named relative to the event directory, which must exist and lie inside it."""
        if key not in raw:
            if required:
                self.add(path, f"{what}: missing required key '{key}'")
            return None
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            self.add((*path, key), f"{what}: {key} must be a file path relative to the event directory")
            return None
        target = (self.root / value).resolve()
        if not target.is_relative_to(self.root):
            self.add((*path, key), f"{what}: {key} {value} lies outside the event directory {self.root}; "
                     "keep every file of the event inside it")
            return None
        if not target.is_file():
            self.add((*path, key), f"{what}: {key} {value} not found (looked for {target}); fix the path "
                     "or add the file")
            return None
        return target


def check_header(r: Reader, file: Path, path: KeyPath, must: set[str], must_not: set[str] | None = None) -> None:
    """The CSV's header row names the columns the scorer needs, and none it must not show."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            header = [name.strip() for name in next(csv.reader(handle), [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        r.add(path, f"task: {file.name} is not a readable UTF-8 CSV file ({exc})")
        return
    for name in sorted(must - set(header)):
        r.add(path, f"task: {file.name} has no column '{name}' in its header row "
              f"({', '.join(header) or 'empty'}); add it or set task.id_column / task.target_column")
    for name in sorted((must_not or set()) & set(header)):
        r.add(path, f"task: {file.name} has the target column '{name}', which every team's run would "
              "read; move the labels to hidden_labels only")


def teams(r: Reader, data: dict[str, Any], opens: datetime | None, closes: datetime | None,
          moment: Callable[[Any, KeyPath, str], datetime | None]) -> TeamRules:
    raw = r.mapping(data, "teams", TEAM_KEYS, "teams", "{mode: self, max_size: 3}")
    if raw is None:
        return TeamRules()
    mode = raw.get("mode", TeamRules.mode)
    if mode not in TEAM_MODES:
        r.add(("teams", "mode"), f"teams: mode '{mode}' is not one of {', '.join(TEAM_MODES)} (declared: the "
              "organiser lists the teams; self: people register and merge teams themselves)")
        mode = TeamRules.mode
    max_size = r.whole(raw, "max_size", TeamRules.max_size, ("teams",), "teams")
    deadline = None
    if raw.get("merge_deadline") is not None:
        deadline = moment(raw["merge_deadline"], ("teams", "merge_deadline"), "teams: merge_deadline")
        if deadline and opens and closes and not opens <= deadline <= closes:
            r.add(("teams", "merge_deadline"), f"teams: merge_deadline {deadline.isoformat()} lies outside the "
                  "window; teams merge while the event runs")
    declared = _declared(r, raw.get("declared", {}), max_size)
    if mode == "declared" and not declared and "declared" not in raw:
        r.add(("teams",), "teams: mode declared needs declared: {team-id: [account, ...], ...}")
    return TeamRules(mode=mode, max_size=max_size, merge_deadline=deadline, declared=declared)


def _declared(r: Reader, raw: Any, max_size: int) -> dict[str, tuple[str, ...]]:
    path = ("teams", "declared")
    if not isinstance(raw, dict):
        r.add(path, "teams: declared must map each team id to its members, e.g. {owls: [alice, bob]}")
        return {}
    declared: dict[str, tuple[str, ...]] = {}
    member_of: dict[str, str] = {}
    for team, members in raw.items():
        where = (*path, team)
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            r.add(where, f"teams: team '{team}' must list its members' account names, e.g. [alice, bob]")
            continue
        if len(members) > max_size:
            r.add(where, f"teams: team '{team}' has {len(members)} members, more than max_size {max_size}")
        for member in members:
            if member in member_of:
                first = member_of[member]
                r.add(where, f"teams: '{member}' is in team '{first}' (line {r.lines.get((*path, first))}) and in "
                      f"team '{team}'; a person belongs to one team")
            member_of.setdefault(member, str(team))
        declared[str(team)] = tuple(dict.fromkeys(members))
    return declared


def split(r: Reader, data: dict[str, Any]) -> Split:
    raw = r.mapping(data, "split", SPLIT_KEYS, "split", "{public_share: 0.3, seed: 7}")
    if raw is None:
        return Split()
    share = raw.get("public_share", Split.public_share)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        r.add(("split", "public_share"), f"split: public_share must be a share strictly between 0 and 1 "
              f"(e.g. 0.3 puts 30 % of the hidden rows on the public board), not {share!r}")
        share = Split.public_share
    seed = raw.get("seed", Split.seed)
    if not isinstance(seed, int) or isinstance(seed, bool):
        r.add(("split", "seed"), f"split: seed must be a whole number, not {seed!r}")
        seed = Split.seed
    return Split(public_share=float(share), seed=seed)


def limits(r: Reader, data: dict[str, Any]) -> Limits:
    raw = r.mapping(data, "limits", LIMIT_KEYS, "limits", "{per_day: 5, total: 100, run_timeout_s: 600}")
    if raw is None:
        return Limits()
    at = ("limits",)
    found = Limits(per_day=r.whole(raw, "per_day", Limits.per_day, at, "limits"),
                   total=r.whole(raw, "total", Limits.total, at, "limits"),
                   run_timeout_s=r.number(raw, "run_timeout_s", Limits.run_timeout_s, at, "limits"),
                   memory_mb=r.whole(raw, "memory_mb", Limits.memory_mb, at, "limits", least=MIN_MEMORY_MB))
    if found.per_day > found.total:
        r.add((*at, "per_day"), f"limits: per_day {found.per_day} is more than total {found.total}; a team "
              "could never use it")
    return found


def selection(r: Reader, data: dict[str, Any]) -> Selection:
    raw = r.mapping(data, "selection", SELECTION_KEYS, "selection", "{rule: best_public, k: 2}")
    if raw is None:
        return Selection()
    rule = raw.get("rule", Selection.rule)
    if rule not in SELECTION_RULES:
        hint = difflib.get_close_matches(str(rule), SELECTION_RULES, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"use one of {', '.join(SELECTION_RULES)}"
        r.add(("selection", "rule"), f"selection: rule '{rule}' is not a selection rule — {fix}")
        rule = Selection.rule
    return Selection(rule=rule, k=r.whole(raw, "k", Selection.k, ("selection",), "selection"))
