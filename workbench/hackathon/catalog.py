"""Registered events: the store row points at the event directory, whose event.yaml stays the truth.

``register`` validates the directory (the loader names every problem), records it, syncs the
organiser's declared teams and scores the baselines once, so boards never run a scorer.
``event`` loads a registered event again only when its event.yaml changed (cached by mtime), so a
board request costs one stat, not a YAML parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from workbench.errors import NotFoundError, PredictionsError, WorkbenchError
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store import events_models as e
from workbench.store.models import utcnow

_loaded: dict[str, tuple[float, Event]] = {}


def load(directory: Path) -> Event:
    """The event of ``directory``, validated (EventError names every problem with file and line)."""
    from workbench.hackathon.loader import load_event

    return load_event(directory)


def register(store: Store, event: Event) -> dict[str, Any]:
    """Record ``event`` (again, after an edit), sync its declared teams and score its baselines."""
    from workbench.hackathon import teams

    baselines = [_score_baseline(event, b.name, b.predictions) for b in event.baselines]

    def work(s: Session) -> None:
        row = s.get(e.EventRow, event.id)
        quota = {"kind": event.quota.kind, "devices": event.quota.devices, "device_hours": event.quota.device_hours}
        if row is None:
            s.add(e.EventRow(id=event.id, title=event.title, path=str(event.root), team_quota=quota))
        else:
            row.title, row.path, row.registered = event.title, str(event.root), utcnow()
            row.team_quota = quota
        s.flush()
        s.execute(delete(e.EventBaseline).where(e.EventBaseline.event_id == event.id))
        s.add_all(e.EventBaseline(event_id=event.id, **b) for b in baselines)
        teams.sync_declared(s, event)
    store.write(work)
    _loaded.pop(event.id, None)
    return summary(store, event)


def _score_baseline(event: Event, name: str, predictions: Path) -> dict[str, Any]:
    from workbench.hackathon.scoring import score

    try:
        scores = score(event, predictions.read_bytes())
    except (OSError, PredictionsError) as exc:
        reason = exc.message if isinstance(exc, WorkbenchError) else str(exc)
        raise WorkbenchError(f"baseline '{name}' ({predictions}) cannot be scored: {reason}") from exc
    return {"name": name, "public_score": scores.public, "private_score": scores.private, "reason": ""}


def event(store: Store, event_id: str) -> Event:
    """A registered event, reloaded from its directory only when event.yaml changed."""
    with store.session() as s:
        row = s.get(e.EventRow, event_id)
        if row is None:
            raise NotFoundError(f"no event '{event_id}'; `workbench event create DIR` registers one "
                                "(GET events lists them)")
        path = Path(row.path)
    try:
        mtime = (path / "event.yaml").stat().st_mtime
    except OSError as exc:
        raise NotFoundError(f"event '{event_id}' was registered from {path}, which is gone ({exc.strerror}); "
                            "register it again from where it is now") from exc
    cached = _loaded.get(event_id)
    if cached is None or cached[0] != mtime:
        cached = _loaded[event_id] = (mtime, load(path))
    return cached[1]


def finalized(store: Store, event_id: str) -> bool:
    with store.session() as s:
        row = s.get(e.EventRow, event_id)
        return row is not None and row.finalized is not None


def events(store: Store) -> list[dict[str, Any]]:
    """Every registered event, as listed to anyone (the title and window, never a hidden path); one
    whose directory is gone or broken is listed with the error an organiser must fix."""
    with store.session() as s:
        rows = s.execute(select(e.EventRow.id, e.EventRow.title).order_by(e.EventRow.id)).all()
    found = []
    for row in rows:
        try:
            found.append(summary(store, event(store, row.id)))
        except WorkbenchError as exc:  # one moved or broken event directory must not hide the others
            found.append({"id": row.id, "title": row.title, "error": exc.message})
    return found


def summary(store: Store, ev: Event) -> dict[str, Any]:
    return {
        "id": ev.id, "title": ev.title, "description": ev.description, "timezone": ev.timezone,
        "opens": ev.opens.isoformat(), "closes": ev.closes.isoformat(),
        "phases": [{"id": p.id, "title": p.title, "opens": p.opens.isoformat(), "closes": p.closes.isoformat(),
                    "blind": p.blind, "migrate_from": p.migrate_from} for p in ev.phases],
        "metric": ev.task.metric, "higher_is_better": higher_is_better(ev),
        "teams": {"mode": ev.teams.mode, "max_size": ev.teams.max_size,
                  "merge_deadline": ev.teams.merge_deadline.isoformat() if ev.teams.merge_deadline else None},
        "limits": {"per_day": ev.limits.per_day, "total": ev.limits.total},
        "selection": {"rule": ev.selection.rule, "k": ev.selection.k},
        "kinds": list(ev.kinds), "organisers": list(ev.organisers),
        "finalized": finalized(store, ev.id),
    }


def higher_is_better(ev: Event) -> bool:
    """The metric's direction: the documented metrics know theirs, an organiser's scorer states it."""
    from workbench.hackathon.model import LOWER_IS_BETTER

    if ev.task.scorer is not None:
        return ev.task.higher_is_better
    return ev.task.metric not in LOWER_IS_BETTER
