"""Fair share: the device queue's order, from each holder's decayed usage kept in one row.

Slurm's idea: a holder's key is its recent device-seconds, halved every ``half_life`` — ended leases
by how long ago they ended, live ones counting in full up to now — and fewer go first (then
earlier requests). Ranking a request used to read every queued holder's lease rows and sum them in
Python, so each decision grew with the queue (3 ms at 500 queued, docs/benchmarks.md). Now the row
``fair_share_usage`` holds what that sum needs, updated by the transactions that start and end
leases (``lease_sql.start_usage`` and ``lease_sql.end``):

    key(now) = decayed_s * 0.5^((now - as_of_s) / half_life_s) + now * live_count - live_start_s

``decayed_s`` is the ended leases' device-seconds decayed to ``as_of_s``, ``live_start_s`` the sum
of ``count x started``. The place in the queue is then one aggregate statement over the queued rows
joined to their holders' rows, with no lease history read and one row returned. The sum is the one
the lease rows give (tests/unit/devices/test_fair_share.py compares them), except that terms
weighing under 0.5^60 count as 0 — the lease-scan version left out leases older than 6 half-lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Float, and_, bindparam, func, or_, select, text, update

from workbench.devices import lease_sql as sql
from workbench.devices.lease_sql import L, Prepared, U, decay

_NOW = bindparam("now_s", type_=Float)


def _key(u: Any) -> Any:
    """The fair-share key of a ``fair_share_usage`` row at ``now_s`` (0 for a holder without one)."""
    return func.coalesce(decay(u.decayed_s, (_NOW - u.as_of_s) / u.half_life_s)
                         + _NOW * u.live_count - u.live_start_s, 0.0)


_MINE = sql.USAGE.alias("mine")
_MY_KEY = func.coalesce(select(_key(_MINE.c)).where(_MINE.c.holder == bindparam("holder")).scalar_subquery(), 0.0)
_REQUESTED = bindparam("req", type_=L.requested.type)


@cache
def ahead_query(kind: str) -> Prepared:
    """The aggregate ``ahead`` runs, per kind: state and kind written in (``lease_sql.fixed``) so that
    PostgreSQL keeps one generic plan instead of planning the statement at every decision."""
    return Prepared(
        select(func.count().label("n"), func.coalesce(func.sum(L.count), 0).label("demand"))
        .select_from(sql.LEASES.outerjoin(sql.USAGE, U.holder == L.holder))
        .where(L.state == sql.fixed("queued"), L.kind == sql.fixed(kind), L.id != bindparam("mine"),
               or_(_key(U) < _MY_KEY, and_(_key(U) == _MY_KEY, L.requested < _REQUESTED))))


def ahead(conn: Connection, kind: str, holder: str, mine: Mapping[str, Any] | None, now: datetime) -> tuple[int, int]:
    """Queued requests of ``kind`` that go before this one: (how many, how many devices they want)."""
    [row] = ahead_query(kind).run(conn, {"holder": holder, "mine": mine["id"] if mine else 0,
                                         "req": mine["requested"] if mine else now, "now_s": now.timestamp()})
    return int(row["n"]), int(row["demand"])


def decay_value(amount: float, halvings: float) -> float:
    """``lease_sql.decay`` in Python: ``amount`` x 0.5^``halvings``, 0 past 60 halvings or under 1e-12."""
    return 0.0 if halvings > 60 or amount < 1e-12 else amount * 0.5 ** halvings


def key_of(row: Any, now: float) -> float:
    """``_key`` in Python, for one ``fair_share_usage`` row (a mapping of its columns)."""
    decayed = decay_value(row["decayed_s"], (now - row["as_of_s"]) / row["half_life_s"])
    return float(decayed + now * row["live_count"] - row["live_start_s"])


def decayed(conn: Connection, holders: set[str], now: datetime) -> dict[str, float]:
    """Each holder's key at ``now`` (holders without usage are left out: their key is 0)."""
    rows = conn.execute(select(sql.USAGE).where(U.holder.in_(holders), U.half_life_s.is_not(None))).mappings()
    return {r["holder"]: key_of(r, now.timestamp()) for r in rows}


def from_leases(leases: list[Mapping[str, Any]], now: datetime, half_life_s: float) -> dict[str, Any]:
    """A holder's row computed from its lease rows (``started``, ``ended``, ``count``), as of ``now``."""
    row = {"half_life_s": half_life_s, "decayed_s": 0.0, "as_of_s": now.timestamp(), "live_count": 0,
           "live_start_s": 0.0}
    for lease in leases:
        if lease["started"] is None:
            continue
        if lease["ended"] is None:
            row["live_count"] += lease["count"]
            row["live_start_s"] += lease["count"] * lease["started"].timestamp()
            continue
        seconds = (lease["ended"] - lease["started"]).total_seconds() * lease["count"]
        row["decayed_s"] += decay_value(seconds, (now - lease["ended"]).total_seconds() / half_life_s)
    return row


REBUILD = Prepared(update(sql.USAGE).where(U.holder == bindparam("who")).values(
    {c: bindparam(c) for c in ("half_life_s", "decayed_s", "as_of_s", "live_count", "live_start_s")}))


def rebuild(conn: Connection, half_life_s: float, now: datetime) -> int:
    """Recompute the rows not kept under this half-life (new from the migration, or the policy's
    half-life changed) from the lease table; returns how many. One indexed probe when none."""
    stale = {r[0] for r in conn.execute(select(U.holder).where(
        or_(U.half_life_s.is_(None), U.half_life_s != half_life_s)))}
    if not stale:
        return 0
    if conn.dialect.name == "postgresql":  # no lease may end between our read and our write
        conn.execute(text("LOCK TABLE fair_share_usage IN EXCLUSIVE MODE"))
    leases: dict[str, list[Mapping[str, Any]]] = {holder: [] for holder in stale}
    for lease in conn.execute(select(L.holder, L.started, L.ended, L.count).where(L.started.is_not(None))).mappings():
        if lease["holder"] in leases:
            leases[lease["holder"]].append(dict(lease))
    REBUILD.run(conn, [{"who": h, **from_leases(rows, now, half_life_s)} for h, rows in leases.items()])
    return len(stale)
