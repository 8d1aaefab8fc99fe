"""Declared teams come from event.yaml at registration (again after an edit), and participants
cannot change them; on a real SQLite and PostgreSQL store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.hackathon.test_submission_limits import make_event, store  # noqa: F401 - fixtures
from workbench.hackathon import catalog, teams
from workbench.hackathon.model import Event
from workbench.store import Store

pytestmark = pytest.mark.integration


def test_declared_teams_are_the_organisers(store: Store, make_event: Callable[..., Event],  # noqa: F811
                                           tmp_path: Path) -> None:
    event = make_event(teams={"mode": "declared", "max_size": 3,
                              "declared": {"red": ["ann", "al"], "blue": ["bo"]}})
    assert [(t["id"], t["members"]) for t in teams.teams(store, event.id)] == [
        ("blue", ["bo"]), ("red", ["al", "ann"])]
    assert teams.team_of(store, event.id, "ann") == "red"
    for action in (lambda: teams.create(store, event, "cy", "green"), lambda: teams.join(store, event, "cy", "red"),
                   lambda: teams.leave(store, event, "ann")):
        with pytest.raises(teams.TeamError, match=r"declares its teams in event\.yaml; .* is the organiser.s"):
            action()
    moved = make_event(teams={"mode": "declared", "max_size": 3,
                              "declared": {"red": ["cy"], "blue": ["bo", "ann"]}})  # moves ann, drops al
    catalog.register(store, moved)
    assert [(t["id"], t["members"]) for t in teams.teams(store, moved.id)] == [("blue", ["ann", "bo"]), ("red", ["cy"])]
    assert teams.team_of(store, moved.id, "al") is None
