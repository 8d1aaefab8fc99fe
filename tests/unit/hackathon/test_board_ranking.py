"""Board ranking against a table computed by hand: best public per team, ties by the earlier
submission, final entries per rule, the private board and shake-up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from workbench.hackathon.board import Entry, final_entries, rank

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


# id, team, hour, public, private, chosen
TABLE = [
    (1, "a", 1, 0.80, 0.70, False),
    (2, "a", 2, 0.90, 0.60, False),
    (3, "a", 3, 0.85, 0.75, False),
    (4, "b", 1, 0.90, 0.80, False),  # ties a's best public (0.90) but came an hour earlier
    (5, "c", 5, 0.70, 0.90, True),
    (6, "c", 6, 0.75, 0.50, False),
]
ENTRIES = [Entry(team, i, at(h), pub, priv, chosen) for i, team, h, pub, priv, chosen in TABLE]


def board(entries: list[Entry], higher: bool = True, private: bool = False) -> list[tuple[int, str, int]]:
    return [(place, x.team, x.id) for place, x in rank(entries, higher, private)]


def test_public_board_takes_each_teams_best_and_breaks_ties_by_the_earlier_submission() -> None:
    assert board(ENTRIES) == [(1, "b", 4), (2, "a", 2), (3, "c", 6)]


def test_lower_is_better_metrics_rank_ascending_with_the_same_tie_rule() -> None:
    rmse = [Entry("x", 1, at(2), 0.5, 0.5), Entry("y", 2, at(1), 0.5, 0.5), Entry("z", 3, at(3), 0.3, 0.3),
            Entry("z", 4, at(4), 0.9, 0.1)]
    assert board(rmse, higher=False) == [(1, "z", 3), (2, "y", 2), (3, "x", 1)]


def final_board(rule: str, k: int) -> list[tuple[int, str, float, int]]:
    """(private rank, team, private score, shake-up) over the final entries picked by ``rule``."""
    public = {x.team: place for place, x in rank(ENTRIES, True)}
    finals = [x for own in final_entries(ENTRIES, rule, k, True).values() for x in own]
    return [(place, x.team, x.private, public[x.team] - place) for place, x in rank(finals, True, private=True)]


def test_best_public_k2_reveals_c_climbing_two_places() -> None:
    picked = final_entries(ENTRIES, "best_public", 2, True)
    assert {t: [x.id for x in own] for t, own in picked.items()} == {"a": [2, 3], "b": [4], "c": [6, 5]}
    assert final_board("best_public", 2) == [(1, "c", 0.90, +2), (2, "b", 0.80, -1), (3, "a", 0.75, -1)]


def test_chosen_keeps_a_teams_choice_and_gives_the_others_their_k_best_public() -> None:
    picked = final_entries(ENTRIES, "chosen", 2, True)
    assert {t: [x.id for x in own] for t, own in picked.items()} == {"a": [2, 3], "b": [4], "c": [5]}
    assert final_board("chosen", 2) == [(1, "c", 0.90, +2), (2, "b", 0.80, -1), (3, "a", 0.75, -1)]


def test_last_takes_the_latest_entries() -> None:
    picked = final_entries(ENTRIES, "last", 1, True)
    assert {t: [x.id for x in own] for t, own in picked.items()} == {"a": [3], "b": [4], "c": [6]}
    assert final_board("last", 1) == [(1, "b", 0.80, 0), (2, "a", 0.75, 0), (3, "c", 0.50, 0)]
