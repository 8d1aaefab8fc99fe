"""Window, per-day and total limits at the exact second, merges by Kaggle's rule, and exact counts
under concurrency: on a real SQLite and a real PostgreSQL store, through ``submissions.accept``
and ``teams`` with the moment of each submission given (the REST tests use the real clock)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.integration.hackathon.tiny_event import Spec, predictions, right_on, write
from workbench.errors import SubmissionRefused
from workbench.hackathon import catalog, scoring_runs, submissions, teams
from workbench.hackathon.model import Event
from workbench.store import Store

pytestmark = pytest.mark.integration
OPENS = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CLOSES = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
CSV = predictions(right_on(5, 5))
SECOND = timedelta(seconds=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "postgres_url")
    found = Store(url)
    found.upgrade()
    return found


@pytest.fixture
def make_event(tmp_path: Path, store: Store) -> Callable[..., Event]:
    def make(**changes: object) -> Event:
        spec = Spec(opens=OPENS, closes=CLOSES, **changes)  # type: ignore[arg-type]
        event = catalog.load(write(tmp_path / "events", spec))
        catalog.register(store, event)
        return event
    return make


def submit(store: Store, event: Event, team: str, user: str, now: datetime, tmp: Path) -> dict:
    return submissions.accept(store, event, team, user, "predictions", CSV, now, tmp / "data")


def test_window_opens_and_closes_to_the_second(store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    event = make_event()
    teams.create(store, event, "ann", "alpha")
    with pytest.raises(SubmissionRefused, match=r"opens at 2026-12-01T09:00:00\+00:00; the first submission is "
                                                r"allowed then"):
        submit(store, event, "alpha", "ann", OPENS - SECOND, tmp_path)
    assert submit(store, event, "alpha", "ann", OPENS, tmp_path)["status"] == "queued"
    assert submit(store, event, "alpha", "ann", CLOSES - SECOND, tmp_path)["phase"] == "main"
    with pytest.raises(SubmissionRefused, match=r"closed at 2026-12-05T09:00:00\+00:00; no further submission"):
        submit(store, event, "alpha", "ann", CLOSES, tmp_path)
    assert [s["created"] for s in submissions.listing(store, event.id, "alpha")] == [
        (CLOSES - SECOND).isoformat(), OPENS.isoformat()]


def test_per_day_resets_at_midnight_in_the_events_zone(store: Store, make_event: Callable[..., Event],
                                                       tmp_path: Path) -> None:
    event = make_event(per_day=2, timezone="Asia/Shanghai")  # midnight there is 16:00 UTC
    teams.create(store, event, "ann", "alpha")
    midnight = datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)
    submit(store, event, "alpha", "ann", midnight - timedelta(hours=8), tmp_path)  # 00:00 local, same day
    submit(store, event, "alpha", "ann", midnight - timedelta(hours=1), tmp_path)
    with pytest.raises(SubmissionRefused) as refused:
        submit(store, event, "alpha", "ann", midnight - SECOND, tmp_path)
    assert refused.value.message == (
        "team 'alpha' has made 2 of its 2 submissions today (days in the event's time zone, Asia/Shanghai; "
        "failed ones do not count); the next is allowed at 2026-12-03T00:00:00+08:00")
    assert submit(store, event, "alpha", "ann", midnight, tmp_path)["status"] == "queued"


def test_failed_submissions_do_not_count_and_total_is_a_hard_stop(
        store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    event = make_event(per_day=2, total=2)
    teams.create(store, event, "ann", "alpha")
    first = submit(store, event, "alpha", "ann", OPENS, tmp_path)
    submit(store, event, "alpha", "ann", OPENS + SECOND, tmp_path)
    with pytest.raises(SubmissionRefused, match="has used all 2 submissions of event 'tiny' "
                                                r"\(failed ones do not count\)"):
        submit(store, event, "alpha", "ann", OPENS + 2 * SECOND, tmp_path)
    claimed = scoring_runs.claim(store, first["id"])
    assert claimed is not None and scoring_runs.fail(store, first["id"], "the run crashed")
    assert submit(store, event, "alpha", "ann", OPENS + 3 * SECOND, tmp_path)["status"] == "queued"
    assert [s["status"] for s in submissions.listing(store, event.id)] == ["queued", "queued", "failed"]


def test_merge_is_refused_over_what_one_team_could_have_made(
        store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    event = make_event(per_day=2, teams={"mode": "self", "max_size": 4, "merge_deadline": "2026-12-04T09:00:00Z"})
    teams.create(store, event, "ann", "alpha")
    teams.create(store, event, "bo", "beta")
    day2 = OPENS + timedelta(days=1, hours=1)  # two days since opening: one team may have made 4
    for moment in (OPENS, OPENS + SECOND, day2):
        submit(store, event, "alpha", "ann", moment, tmp_path)
    for moment in (OPENS, day2):
        submit(store, event, "beta", "bo", moment, tmp_path)
    asked = teams.merge(store, event, "ann", "alpha", "beta", day2)
    assert asked["merged"] is False and "a member of team 'beta' accepts" in asked["waiting"]
    with pytest.raises(SubmissionRefused) as refused:
        teams.merge(store, event, "bo", "alpha", "beta", day2)
    assert refused.value.message == (
        "merge refused: 'alpha' has 3 and 'beta' has 2 counted submissions, 5 together; one team may have made "
        "at most 4 by now (2 per day x 2 day(s) since the event opened, capped at 100 in total)")
    day3 = OPENS + timedelta(days=2, hours=1)
    merged = teams.merge(store, event, "bo", "alpha", "beta", day3)
    assert merged["merged"] and merged["members"] == ["ann", "bo"] and merged["submissions"] == 5
    assert [t["id"] for t in teams.teams(store, event.id)] == ["beta"]
    with pytest.raises(Exception, match="merge deadline of event 'tiny' was 2026-12-04T09:00:00"):
        teams.merge(store, event, "ann", "beta", "gamma", datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc))


def test_fifty_teams_at_once_lose_nothing_and_count_exactly(
        store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    """50 teams submit three times each at once under a limit of two a day, and one more team races
    its own limit from 20 threads: exactly two (and five) are accepted, every refusal says why."""
    event = make_event(per_day=2, teams={"mode": "self", "max_size": 1})
    for n in range(50):
        teams.create(store, event, f"user{n}", f"team{n}")
    teams.create(store, event, "racer", "racers")
    racing = Event(**{**event.__dict__, "limits": type(event.limits)(per_day=5, total=100)})
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(70)

    def one(team: str, user: str, ev: Event) -> None:
        start.wait()
        try:
            submit(store, ev, team, user, OPENS + timedelta(hours=1), tmp_path)
            result = f"ok {team}"
        except SubmissionRefused as exc:
            result = f"refused {team}: {exc.message}"
        with lock:
            outcomes.append(result)

    jobs = [threading.Thread(target=one, args=(f"team{n % 50}", f"user{n % 50}", event)) for n in range(50)]
    jobs += [threading.Thread(target=one, args=("racers", "racer", racing)) for _ in range(20)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    later = [threading.Thread(target=one, args=(f"team{n}", f"user{n}", event)) for n in range(50)]
    start = threading.Barrier(50)
    for job in later:
        job.start()
    for job in later:
        job.join()
    third = [f"team{n}" for n in range(50)]
    start = threading.Barrier(50)
    last = [threading.Thread(target=one, args=(t, f"user{t[4:]}", event)) for t in third]
    for job in last:
        job.start()
    for job in last:
        job.join()
    rows = submissions.listing(store, event.id)
    per_team = {t: sum(1 for r in rows if r["team"] == t) for t in {r["team"] for r in rows}}
    assert per_team == {**{f"team{n}": 2 for n in range(50)}, "racers": 5}
    assert sum(o.startswith("ok") for o in outcomes) == 105 and len(outcomes) == 170
    assert all("of its 2 submissions today" in o or "of its 5 submissions today" in o
               for o in outcomes if o.startswith("refused"))


def test_a_run_past_its_time_limit_is_failed_with_a_sentence(
        store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    event = make_event()
    teams.create(store, event, "ann", "alpha")
    sub = submit(store, event, "alpha", "ann", OPENS, tmp_path)
    claimed = scoring_runs.claim(store)  # a scorer took it and then hung
    assert claimed is not None
    started, path = _started(store, sub["id"])
    limit = timedelta(seconds=scoring_runs.time_limit(event, "predictions"))
    assert scoring_runs.fail_overdue(store, event, started + limit - SECOND) == 0
    assert scoring_runs.fail_overdue(store, event, started + limit + SECOND) == 1
    (row,) = submissions.listing(store, event.id)
    assert row["status"] == "failed" and row["reason"] == (
        "scoring did not finish within 60 s (the event's time limit); this does not count against your limits")
    scoring_runs.score(store, event, {**claimed, "path": path})  # the hung scorer answers late, and right
    (row,) = submissions.listing(store, event.id)
    assert (row["status"], row["public_score"]) == ("failed", None), "a late answer changes nothing"


def _started(store: Store, sub_id: int) -> tuple[datetime, str]:
    from workbench.store import events_models as e

    with store.session() as s:
        row = s.get(e.EventSubmission, sub_id)
        assert row is not None and row.started is not None
        return row.started, row.path


def test_users_racing_for_a_teams_last_places_never_overfill_it(
        store: Store, make_event: Callable[..., Event]) -> None:
    event = make_event(teams={"mode": "self", "max_size": 3})
    teams.create(store, event, "ann", "alpha")
    outcomes: list[str] = []
    start = threading.Barrier(10)

    def join(user: str) -> None:
        start.wait()
        try:
            teams.join(store, event, user, "alpha")
            outcomes.append("joined")
        except teams.TeamError as exc:
            outcomes.append(exc.message)

    racers = [threading.Thread(target=join, args=(f"u{n}",)) for n in range(10)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert outcomes.count("joined") == 2
    assert all("team 'alpha' is full: 3 of 3 members" in o for o in outcomes if o != "joined")
    (alpha,) = teams.teams(store, event.id)
    assert len(alpha["members"]) == 3


def test_the_board_kept_between_requests_equals_one_read_afresh(
        store: Store, make_event: Callable[..., Event], tmp_path: Path) -> None:
    """Scores arrive one by one (with ties, and a merge at the end); after each, the board a server
    keeps up to date between requests is the board computed from scratch, and as computed by hand."""
    from workbench.hackathon import board

    event = make_event(per_day=20, teams={"mode": "self", "max_size": 4})
    for user, team in (("ann", "alpha"), ("bo", "beta"), ("cy", "gamma")):
        teams.create(store, event, user, team)
    # team, member, public rows right of 20, private rows right of 20
    plan = [("alpha", "ann", 12, 3), ("beta", "bo", 12, 9), ("gamma", "cy", 10, 10), ("alpha", "ann", 16, 0),
            ("beta", "bo", 16, 1), ("gamma", "cy", 18, 2), ("alpha", "ann", 18, 4)]

    def afresh() -> dict:
        board._kept.clear()
        return board.public_board(store, event, "main")

    board.public_board(store, event, "main")
    for n, (team, user, public, private) in enumerate(plan):
        sub = submissions.accept(store, event, team, user, "predictions", predictions(right_on(public, private)),
                                 OPENS + timedelta(minutes=n), tmp_path / "data")
        claimed = scoring_runs.claim(store, sub["id"])
        assert claimed is not None
        scoring_runs.score(store, event, claimed)
        kept = board.public_board(store, event, "main")  # folded in from the previous request's state
        assert kept == afresh(), n
        board.public_board(store, event, "main")
    rows = [(r["rank"], r["team"], r["score"], r["entries"]) for r in afresh()["rows"]]
    assert rows == [(1, "gamma", 0.9, 2), (2, "alpha", 0.9, 3), (3, "beta", 0.8, 2), (None, "half", 0.5, 0)]
    teams.merge(store, event, "cy", "gamma", "beta", OPENS + timedelta(hours=1), organiser=True)
    merged = board.public_board(store, event, "main")
    assert merged == afresh() and [(r["team"], r["entries"]) for r in merged["rows"]] == [
        ("beta", 4), ("alpha", 3), ("half", 0)]
