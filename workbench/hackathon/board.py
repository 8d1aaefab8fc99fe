"""Leaderboards: the public board of a phase, final entries at finalize, the private board and shake-up.

A team's place on the public board is its best public score (the metric's direction from the
event's task); equal scores rank by the earlier submission, then the lower id, so a board never
changes order on its own. Baselines are listed among the teams, marked, without a rank. A blind
phase shows teams only how many submissions each team has had received. At finalize each team's
final entries are picked by the event's rule, and the private board ranks teams by the best
private score among them, with the shake-up (public rank minus private rank: positive = climbed).
The ranking itself (``rank``, ``final_entries``) is plain functions over ``Entry`` rows.

Each process keeps, per event and phase, every team's best public entry and count, and the board
it rendered from them. A request first reads the event's version (the newest scoring time of its
submissions, by one index probe; its merged-team count; its registration time): unchanged, the
rendered board is served; a newer scoring time, only the rows scored since are read and folded in;
a merge or a registration, all is read again. Scores never change once given, and scoring times
follow commit order (``scoring_runs`` stamps them inside the write lock), so folding in is exact;
a margin and the ids already folded in guard equal and clock-skewed times. Blind boards count
queued rows too, so they are read each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from workbench.errors import SubmissionRefused, WorkbenchError
from workbench.hackathon import scoring_runs
from workbench.hackathon.catalog import higher_is_better
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store import events_models as e
from workbench.store.models import utcnow

S = e.EventSubmission
MARGIN = timedelta(minutes=5)  # rows scored this close to the newest are read again (ids dedupe them)


@dataclass
class _Kept:
    """One process's running best per team of an event's phase, and the board rendered from it."""

    key: tuple[Any, ...]
    newest: datetime | None
    best: dict[str, Entry]
    counts: dict[str, int]
    recent: dict[int, datetime]  # ids already folded in, scored within MARGIN of ``newest``
    rendered: dict[str, Any] | None = None


_kept: dict[tuple[str, str, bool], _Kept] = {}


def _version(s: Session, event_id: str) -> tuple[Any, ...]:
    newest = select(func.max(S.scored)).where(S.event_id == event_id).scalar_subquery()
    merged = select(func.count()).select_from(e.Team).where(
        e.Team.event_id == event_id, e.Team.merged_into.is_not(None)).scalar_subquery()
    row = s.execute(select(newest, merged, e.EventRow.registered, e.EventRow.finalized)
                    .where(e.EventRow.id == event_id)).one()
    return tuple(row)


@dataclass(frozen=True)
class Entry:
    """A scored submission as the board sees it."""

    team: str
    id: int
    created: datetime
    public: float
    private: float
    chosen: bool = False


def _key(higher: bool, score: float, entry: Entry) -> tuple[float, datetime, int]:
    return (-score if higher else score, entry.created, entry.id)


def best(entries: list[Entry], higher: bool, private: bool = False) -> dict[str, Entry]:
    """Each team's best entry by the public (or private) score; ties go to the earlier submission."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        score = entry.private if private else entry.public
        held = chosen.get(entry.team)
        if held is None or _key(higher, score, entry) < _key(higher, held.private if private else held.public, held):
            chosen[entry.team] = entry
    return chosen


def rank(entries: list[Entry], higher: bool, private: bool = False) -> list[tuple[int, Entry]]:
    """Teams in board order with their rank (1 = first), each by its best entry."""
    bests = best(entries, higher, private)
    order = sorted(bests.values(), key=lambda x: _key(higher, x.private if private else x.public, x))
    return [(position, entry) for position, entry in enumerate(order, start=1)]


def final_entries(entries: list[Entry], rule: str, k: int, higher: bool) -> dict[str, list[Entry]]:
    """Each team's final entries: its ``k`` best public, its ``k`` last, or what it chose (at most ``k``;
    a team that chose none gets its ``k`` best public, as Kaggle does)."""
    by_team: dict[str, list[Entry]] = {}
    for entry in entries:
        by_team.setdefault(entry.team, []).append(entry)
    picked: dict[str, list[Entry]] = {}
    for team, own in by_team.items():
        chosen = [x for x in own if x.chosen]
        if rule == "last":
            picked[team] = sorted(own, key=lambda x: (x.created, x.id), reverse=True)[:k]
        elif rule == "chosen" and chosen:
            picked[team] = chosen[:k]
        else:
            picked[team] = sorted(own, key=lambda x: _key(higher, x.public, x))[:k]
    return picked


def final_phase(event: Event) -> str:
    """The phase whose board is final: the one that closes last."""
    return max(event.phases, key=lambda p: p.closes).id


def current_phase(event: Event, now: datetime) -> str:
    """The board shown by default: the phase open now, else the latest that has opened (the final
    one after the window), else the first."""
    opened = [p for p in event.phases if p.opens <= now]
    found = event.phase_at(now) or (max(opened, key=lambda p: p.opens) if opened else None)
    return (found or min(event.phases, key=lambda p: p.opens)).id


def _entries(s: Session, event_id: str, phase: str) -> list[Entry]:
    rows = s.execute(select(S.team_id, S.id, S.created, S.public_score, S.private_score, S.chosen).where(
        S.event_id == event_id, S.phase == phase, S.status == "scored")).all()
    return [Entry(r.team_id, r.id, r.created, r.public_score, r.private_score, r.chosen) for r in rows]


def _best_public(s: Session, event_id: str, phase: str, higher: bool) -> tuple[list[Entry], dict[str, int]]:
    """Each team's best public entry (ties: earlier, then lower id) and its count of scored entries,
    picked in SQL so a board of 1,000 teams x 50 submissions moves 1,000 rows, not 50,000, into
    Python. The plan suits each store: SQLite finds each team's best score by a grouped pass over an
    index of migration 0009 and joins back to the rows holding it (its planner always probes the
    index); PostgreSQL takes ``DISTINCT ON (team_id)`` over one sort, which no missing table
    statistics can turn into a nested loop (a join there can be, on a freshly filled table)."""
    scored = (S.event_id == event_id, S.phase == phase, S.status == "scored")
    columns = (S.team_id, S.id, S.created, S.public_score, S.private_score, S.chosen)
    if s.get_bind().dialect.name == "postgresql":
        order = S.public_score.desc() if higher else S.public_score.asc()
        rows = s.execute(select(*columns, func.count().over(partition_by=S.team_id).label("n")).where(*scored)
                         .ext(distinct_on(S.team_id)).order_by(S.team_id, order, S.created, S.id)).all()
    else:
        best = select(S.team_id, (func.max if higher else func.min)(S.public_score).label("best"),
                      func.count().label("n")).where(*scored).group_by(S.team_id).subquery()
        rows = s.execute(select(*columns, best.c.n).join(
            best, (S.team_id == best.c.team_id) & (S.public_score == best.c.best)).where(*scored)).all()
    first: dict[str, Entry] = {}
    counts: dict[str, int] = {}
    for r in rows:  # SQLite's join returns every row holding a team's best score: the earliest wins
        entry = Entry(r.team_id, r.id, r.created, r.public_score, r.private_score, r.chosen)
        held = first.get(r.team_id)
        if held is None or (entry.created, entry.id) < (held.created, held.id):
            first[r.team_id] = entry
        counts[r.team_id] = r.n
    return list(first.values()), counts


def _names(s: Session, event_id: str) -> dict[str, str]:
    return {t: n for t, n in s.execute(select(e.Team.team_id, e.Team.name).where(e.Team.event_id == event_id))}


def _baselines(s: Session, event_id: str) -> list[e.EventBaseline]:
    return list(s.scalars(select(e.EventBaseline).where(e.EventBaseline.event_id == event_id)
                          .order_by(e.EventBaseline.name)))


def _with_baselines(rows: list[dict[str, Any]], baselines: list[dict[str, Any]], higher: bool) -> list[dict[str, Any]]:
    """Baselines placed among the team rows by score (after teams with the same score)."""
    out = list(rows)
    for base in baselines:
        at = next((i for i, r in enumerate(out) if not r["baseline"] and
                   (r["score"] < base["score"] if higher else r["score"] > base["score"])), len(out))
        out.insert(at, base)
    return out


def public_board(store: Store, event: Event, phase: str | None = None, organiser: bool = False) -> dict[str, Any]:
    """The public board of ``phase`` (by default the phase open now, ``current_phase``); blind phases
    show teams counts only."""
    phase = phase or current_phase(event, utcnow())
    found = event.phase(phase)
    if found is None:
        raise WorkbenchError(f"event '{event.id}' has no phase '{phase}'; its phases: "
                             f"{', '.join(p.id for p in event.phases)}")
    higher = higher_is_better(event)
    with store.session() as s:
        names = _names(s, event.id)
        if found.blind and not organiser:
            received = s.execute(select(S.team_id, func.count()).where(
                S.event_id == event.id, S.phase == phase, S.status != "failed").group_by(S.team_id)).all()
            rows = [{"team": t, "name": names.get(t, t), "received": n} for t, n in sorted(received)]
            return {"event": event.id, "phase": phase, "blind": True, "metric": event.task.metric, "rows": rows}
        kept = _brought_up_to_date(s, event.id, phase, higher)
        if kept.rendered is not None:
            return kept.rendered
        entries, counts = list(kept.best.values()), kept.counts
        baselines = [{"rank": None, "team": b.name, "name": b.name, "baseline": True, "score": b.public_score,
                      "submission": None, "submitted": None, "entries": 0}
                     for b in _baselines(s, event.id) if b.public_score is not None]
    rows = [{"rank": place, "team": x.team, "name": names.get(x.team, x.team), "baseline": False,
             "score": x.public, "submission": x.id, "submitted": x.created.isoformat(),
             "entries": counts.get(x.team, 0)} for place, x in rank(entries, higher)]
    result = {"event": event.id, "phase": phase, "blind": found.blind, "metric": event.task.metric,
              "higher_is_better": higher, "rows": _with_baselines(rows, baselines, higher)}
    kept.rendered = result
    return result


def _brought_up_to_date(s: Session, event_id: str, phase: str, higher: bool) -> _Kept:
    newest, merged, registered, _finalized = _version(s, event_id)
    kept = _kept.get((event_id, phase, higher))
    if kept is not None and kept.key == (merged, registered) and kept.newest == newest:
        return kept
    scored = (S.event_id == event_id, S.phase == phase, S.status == "scored")
    if kept is None or kept.key != (merged, registered) or kept.newest is None or newest is None:
        best, counts = _best_public(s, event_id, phase, higher)
        kept = _kept[(event_id, phase, higher)] = _Kept((merged, registered), newest, {x.team: x for x in best},
                                                        counts, {})
        since = newest - MARGIN if newest is not None else None
        if since is not None:
            kept.recent = {i: t for i, t in s.execute(select(S.id, S.scored).where(*scored, S.scored >= since))
                           if t is not None}
        return kept
    rows = s.execute(select(S.team_id, S.id, S.created, S.public_score, S.private_score, S.chosen, S.scored)
                     .where(*scored, S.scored >= kept.newest - MARGIN)).all()
    for r in rows:
        if r.id in kept.recent:
            continue
        entry = Entry(r.team_id, r.id, r.created, r.public_score, r.private_score, r.chosen)
        held = kept.best.get(r.team_id)
        if held is None or _key(higher, entry.public, entry) < _key(higher, held.public, held):
            kept.best[r.team_id] = entry
        kept.counts[r.team_id] = kept.counts.get(r.team_id, 0) + 1
        kept.recent[r.id] = r.scored
    kept.newest, kept.rendered = newest, None
    kept.recent = {i: t for i, t in kept.recent.items() if t >= newest - MARGIN}
    return kept


def finalize(store: Store, event: Event, now: datetime) -> dict[str, Any]:
    """After the window: mark each team's final entries by the rule and reveal the private board."""
    if now < event.closes:
        raise SubmissionRefused(f"event '{event.id}' runs until {event.closes.isoformat()}; finalize after it closes")
    higher, phase = higher_is_better(event), final_phase(event)
    scoring_runs.migrate(store, event, now)  # a final phase's copies must exist (and be scored) first

    def work(s: Session) -> None:
        running = s.scalar(select(func.count()).select_from(S).where(
            S.event_id == event.id, S.status.in_(("queued", "running"))))
        if running:
            raise SubmissionRefused(f"event '{event.id}' has {running} submission(s) still queued or running; "
                                    "finalize once they are scored (or failed)")
        picked = final_entries(_entries(s, event.id, phase), event.selection.rule, event.selection.k, higher)
        ids = [x.id for own in picked.values() for x in own]
        s.execute(update(S).where(S.event_id == event.id).values(final=False))
        if ids:
            s.execute(update(S).where(S.id.in_(ids)).values(final=True))
        row = s.get(e.EventRow, event.id)
        assert row is not None
        row.finalized = now
    store.write(work)
    return private_board(store, event)


def private_board(store: Store, event: Event) -> dict[str, Any]:
    """The final board: each team's best private score among its final entries, with its shake-up."""
    higher, phase = higher_is_better(event), final_phase(event)
    with store.session() as s:
        row = s.get(e.EventRow, event.id)
        if row is None or row.finalized is None:
            raise SubmissionRefused(f"event '{event.id}' is not finalized; its private board is revealed by "
                                    "`workbench event finalize` after the window closes")
        bests, names = _best_public(s, event.id, phase, higher)[0], _names(s, event.id)
        finals = [Entry(r.team_id, r.id, r.created, r.public_score, r.private_score, r.chosen) for r in s.execute(
            select(S.team_id, S.id, S.created, S.public_score, S.private_score, S.chosen).where(
                S.event_id == event.id, S.phase == phase, S.status == "scored", S.final.is_(True))).all()]
        baselines = [{"rank": None, "team": b.name, "name": b.name, "baseline": True, "score": b.private_score,
                      "public_score": b.public_score, "public_rank": None, "shake_up": None, "submission": None}
                     for b in _baselines(s, event.id) if b.private_score is not None]
        finalized = row.finalized
    public_rank = {x.team: place for place, x in rank(bests, higher)}
    rows = [{"rank": place, "team": x.team, "name": names.get(x.team, x.team), "baseline": False,
             "score": x.private, "public_score": x.public, "public_rank": public_rank[x.team],
             "shake_up": public_rank[x.team] - place, "submission": x.id}
            for place, x in rank(finals, higher, private=True)]
    return {"event": event.id, "phase": phase, "metric": event.task.metric, "higher_is_better": higher,
            "finalized": finalized.isoformat(), "selection": {"rule": event.selection.rule, "k": event.selection.k},
            "rows": _with_baselines(rows, baselines, higher)}
