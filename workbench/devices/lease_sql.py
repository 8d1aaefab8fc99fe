"""The SQL the lease decisions run: prebuilt Core statements over ``leases`` and ``device_slots``.

Every hot statement is built once, at import, with named bind parameters, compiled once per
dialect and run on the transaction's own DBAPI cursor (``Prepared``): no ORM identity map, no unit
of work, no per-call statement construction or execution-context setup. The transaction itself is
still ``Store.write``'s. Each statement is shaped for an index of migration ``0004_lease_indexes``:

- expired leases: ``leases(state, deadline)``: ``state IN (open states) AND deadline < now`` both in
  the index condition, empty (and so nearly free) when nothing has expired. Written as two ORed
  equalities, PostgreSQL's plan could fetch the queued rows by ``leases(state, kind)`` (its
  statistics from before a queue formed) and filter each by deadline: +0.08 ms at 500 queued;
- free devices of a kind: ``kind = ? AND lease_id IS NULL AND enabled`` is one index range, already
  in ``id`` order: on SQLite ``device_slots(kind, lease_id, enabled)`` (covered for the count), on
  PostgreSQL the partial ``ix_device_slots_free(kind, id)`` of migration 0011, which its planner
  picks only for ``ORDER BY kind, id`` (for ``ORDER BY id`` it walks the primary key past every held
  device, assuming free ones are spread evenly);
- a holder's live leases and metered use (the quotas, one statement): ``leases(holder, state)``.

A lease that starts or ends also updates its holder's ``fair_share_usage`` row in the same
transaction (``start_usage``, ``end``), so the queue's order never reads lease history
(``fair_share``) and a crash loses the row's change only with the lease's own.

Reclaim reads the expired rows first (the reason a user sees is a sentence formatted per row, see
``policy``) and then ends them all with one ``executemany`` UPDATE plus one UPDATE that frees their
slots; PostgreSQL reads them ``FOR UPDATE SKIP LOCKED`` so two reclaimers never wait on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    exc,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from workbench.devices import policy
from workbench.store.leases_models import DeviceSlot, FairShareUsage, Lease

OPEN = ("live", "queued")
LEASES: Table = Lease.__table__  # type: ignore[assignment]
SLOTS: Table = DeviceSlot.__table__  # type: ignore[assignment]
USAGE: Table = FairShareUsage.__table__  # type: ignore[assignment]
L, D, U = LEASES.c, SLOTS.c, USAGE.c


def _cursor(conn: Connection) -> Any:
    """The DBAPI cursor the hot statements share on this pooled connection, made on its first use:
    making and closing one per statement cost ~0.015 ms of client time on PostgreSQL. It lives in the
    pool record's ``info``, which SQLAlchemy clears when it replaces an invalidated connection."""
    info = conn.connection.info
    cursor = info.get("lease_sql.cursor")
    if cursor is None:
        cursor = info["lease_sql.cursor"] = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    return cursor


class Prepared:
    """A Core statement compiled once per dialect and run on the transaction's own DBAPI cursor.

    SQLAlchemy's per-call execution machinery costs ~20 times what SQLite does for these one-row
    statements, so the hot path keeps only the part that matters: the dialect's SQL text and the
    column types' own bind and result processors (UTC datetimes, JSON). Driver errors are raised
    as SQLAlchemy's (``Store.write`` retries a locked database, and a connection the server closed,
    which is invalidated here as SQLAlchemy would). No expanding ``IN``.
    """

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._by_dialect: dict[str, tuple[str, bool, list[tuple[str, Any, Any]]]] = {}
        self._results: dict[str, list[tuple[str, Any]]] = {}
        self._columns = getattr(stmt, "selected_columns", None) or getattr(stmt, "_returning", None) or ()

    def _compiled(self, dialect: Dialect) -> tuple[str, bool, list[tuple[str, Any, Any]]]:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = cast(SQLCompiler, self.stmt.compile(dialect=dialect))
            names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
            binds = [(n, compiled.binds[n].value, compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect))
                     for n in names]
            found = self._by_dialect[dialect.name] = (str(compiled), compiled.positional, binds)
        return found

    def _processors(self, dialect: Dialect, cursor: Any) -> list[tuple[str, Any]]:
        """Result processors, from the driver's column type codes (PostgreSQL's numeric ones need them).
        The cursor's ``description`` is read only the first time: psycopg builds an object per column
        at every read (~10 % of a decision's client time for the 19 columns of a lease row)."""
        found = self._results.get(dialect.name)
        if found is None:
            found = self._results[dialect.name] = [
                (c.key, c.type.dialect_impl(dialect).result_processor(dialect, d[1]))
                for c, d in zip(self._columns, cursor.description, strict=True)]
        return found

    @staticmethod
    def _params(binds: list[tuple[str, Any, Any]], positional: bool, given: Mapping[str, Any]) -> Any:
        values = [(n, proc(given.get(n, default)) if proc else given.get(n, default)) for n, default, proc in binds]
        return tuple(v for _, v in values) if positional else dict(values)

    def run(self, conn: Connection, params: Mapping[str, Any] | list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Execute (a list of parameter sets: executemany); returns the rows as dicts of column values."""
        dialect = conn.dialect
        sql, positional, binds = self._compiled(dialect)
        cursor = _cursor(conn)
        args = ([self._params(binds, positional, p) for p in params] if isinstance(params, list)
                else self._params(binds, positional, params))
        try:
            if isinstance(params, list):  # one set: execute (psycopg's executemany opens a pipeline, ~0.1 ms)
                cursor.execute(sql, args[0]) if len(args) == 1 else cursor.executemany(sql, args)
                return []
            cursor.execute(sql, args)
            if not self._columns:
                return []
            rows, results = cursor.fetchall(), self._processors(dialect, cursor)
        except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy's own execution would: a dead connection
            dead = dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)  # is invalidated
            if dead:
                conn.invalidate(error)
            raise exc.DBAPIError.instance(sql, args, error, dialect.loaded_dbapi.Error, dialect=dialect,
                                          connection_invalidated=dead) from error
        return [{key: proc(v) if proc else v for (key, proc), v in zip(results, row, strict=True)} for row in rows]


def fixed(value: str | int) -> Any:
    """``value`` written into the SQL text instead of bound: a device kind, a lease state or a device count.

    On PostgreSQL a prepared statement whose plan depends on a bound value is planned afresh at every
    execution (a *custom* plan: 0.07-0.17 ms each in the decision), because its one *generic* plan
    must guess the value and is costed worse than the custom ones — and some of those guesses scan
    badly (a sequential scan of ``leases`` for "is anyone queued for ``$1``"). These values come
    from a finite set (``OPEN``, the inventory's kinds, counts up to a kind's total), so each gets
    its own statement (built once, ``functools.cache``), whose generic plan sees the value and is
    kept after the first five runs. Only identifiers and integers are written in: nothing to quote.
    """
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer)
    if not value.isidentifier():
        raise ValueError(f"{value!r} is not a device kind or lease state")
    return literal_column(f"'{value}'", String)


_OPEN_STATE = L.state.in_([fixed(state) for state in OPEN])
ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
LEASE_BY_ID = Prepared(select(LEASES).where(L.id == bindparam("lid")))
EXPIRED = Prepared(select(LEASES).where(_OPEN_STATE, L.deadline < bindparam("now")))
# PostgreSQL compares with ``now`` through a one-row subquery (an InitPlan): ``deadline < $1`` alone
# made the planner probe the index for the newest deadline and plan the statement anew at every call
# (custom plans: its generic one guesses a third of the rows); behind the InitPlan both guess alike,
# so the generic plan — an index range on leases(state, deadline), empty when nothing expired — is kept.
_NOW_PG = select(bindparam("now", type_=L.deadline.type)).scalar_subquery()
EXPIRED_PG = Prepared(select(LEASES).where(_OPEN_STATE, L.deadline < _NOW_PG).with_for_update(skip_locked=True))
# The same, first taking the holder's advisory lock (``k``): one statement instead of two. The lock is
# an uncorrelated EXISTS, which PostgreSQL runs once, as a one-time filter before the scan — also
# when no lease has expired. The quota read that follows is a later statement, so its snapshot
# sees every commit of a decision that held the lock before.
_LOCK = select(func.pg_advisory_xact_lock(bindparam("k")).label("locked")).cte("holder_lock").prefix_with(
    "MATERIALIZED")
LOCK_AND_EXPIRED_PG = Prepared(select(LEASES).where(exists(select(_LOCK.c.locked)), _OPEN_STATE, L.deadline < _NOW_PG)
                               .with_for_update(skip_locked=True, of=LEASES))


def _free(kind: str) -> tuple[Any, ...]:
    return D.kind == fixed(kind), D.lease_id.is_(None), D.enabled == true()


def _queued(kind: str) -> tuple[Any, ...]:
    """Others' requests queued for ``kind`` (``mine``: the asker's own queued row, or 0)."""
    return L.state == fixed("queued"), L.kind == fixed(kind), L.id != bindparam("mine")


def _first_free(kind: str, count: int, pg: bool, *where: Any) -> Any:
    stmt = select(D.id, D.ident).where(*_free(kind), *where).order_by(D.kind, D.id).limit(fixed(count))
    return stmt.with_for_update(skip_locked=True, of=SLOTS) if pg else stmt


@cache
def free_rows(kind: str, count: int, pg: bool) -> Prepared:
    """The first ``count`` free devices of ``kind`` in id order (PostgreSQL: locked, skipping rows
    another decision holds). Per kind and count (``fixed``)."""
    return Prepared(_first_free(kind, count, pg))


@cache
def take_or_probe(kind: str, count: int, pg: bool) -> Prepared:
    """The first ``count`` free devices of ``kind`` when nobody else is queued for it — the common grant
    — as ``free_rows``; else one row without a device (``id`` NULL) saying whether others wait for the
    kind (``queued``) and how many are free (``free``, counted only then: a CASE runs its subquery only
    when chosen). One statement, where the grant behind a queue or a busy kind took two."""
    probe = select(exists().where(*_queued(kind)).label("queued")).subquery("probe")
    taken = _first_free(kind, count, pg, ~exists().where(*_queued(kind))).subquery("taken")
    free = select(func.count()).select_from(SLOTS).where(*_free(kind)).scalar_subquery()
    return Prepared(select(taken.c.id, taken.c.ident, probe.c.queued, case((taken.c.id.is_(None), free)).label("free"))
                    .select_from(probe.outerjoin(taken, true())))


INSERT_LEASE = Prepared(insert(LEASES).values({c.key: bindparam(c.key) for c in LEASES.columns if c.key != "id"})
                        .returning(L.id))
TAKE_SLOT = Prepared(update(SLOTS).where(D.id == bindparam("slot")).values(lease_id=bindparam("lid")))
FREE_SLOTS = Prepared(update(SLOTS).where(D.lease_id == bindparam("lid")).values(lease_id=None,
                                                                                  freed=bindparam("freed")))
END_LEASE = Prepared(update(LEASES).where(L.id == bindparam("lid")).values(
    state=bindparam("new_state"), ended=bindparam("new_ended"), reason=bindparam("new_reason")))
RENEW = Prepared(update(LEASES).where(L.id == bindparam("lid")).values(deadline=bindparam("new_deadline")))
RENEW_ACTIVE = Prepared(update(LEASES).where(L.id == bindparam("lid")).values(
    deadline=bindparam("new_deadline"), last_activity=bindparam("new_activity")))


def decay(amount: Any, halvings: Any) -> Any:
    """``amount`` x 0.5^``halvings`` in SQL, as 0 past 60 halvings (a weight under 1e-18) or for an amount
    under 1e-12 device-seconds: PostgreSQL raises on a float underflow instead of rounding to 0.
    ``fair_share.decay_value`` is the same rule in Python."""
    return case((or_(halvings > 60, amount < 1e-12), 0.0), else_=amount * func.power(0.5, halvings))


def _start_usage(dml: Any, after: Any = None) -> Any:
    """START_USAGE's upsert; with ``after`` (a CTE), only when that CTE returned a row."""
    values = {"holder": bindparam("holder", type_=U.holder.type), "half_life_s": bindparam("half", type_=Float),
              "decayed_s": literal(0.0, Float), "as_of_s": bindparam("start_s", type_=Float),
              "live_count": bindparam("n", type_=Integer), "live_start_s": bindparam("w", type_=Float)}
    stmt = dml.insert(USAGE)
    if after is None:
        stmt = stmt.values(values)
    else:  # typed: PostgreSQL takes an untyped parameter in a select list for text
        stmt = stmt.from_select(list(values), select(*(sql_cast(v, v.type) for v in values.values()))
                                .where(exists(select(after.c.id))))
    return stmt.on_conflict_do_update(index_elements=[U.holder], set_={
        "live_count": U.live_count + stmt.excluded.live_count,
        "live_start_s": U.live_start_s + stmt.excluded.live_start_s})


START_USAGE = {"sqlite": Prepared(_start_usage(sqlite)), "postgresql": Prepared(_start_usage(postgresql))}
# PostgreSQL: a new live lease in one statement instead of three — its row, its first device
# (``slot``; any further ones by TAKE_SLOT) taken, its holder's usage row started (START_USAGE's
# parameters; ``holder`` is the lease's). One scalar ``slot``, not ``id = ANY(array)``: PostgreSQL
# then reuses its generic plan; with the array it planned the statement afresh on every call.
_NEW = cast(Any, INSERT_LEASE.stmt).cte("new")
GRANT_NEW_PG = Prepared(select(_NEW.c.id).add_cte(
    update(SLOTS).where(D.id == bindparam("slot"))
    .values(lease_id=select(_NEW.c.id).scalar_subquery()).cte("take"),
    _start_usage(postgresql).cte("usage")))


@cache
def take_and_grant(kind: str) -> Prepared:
    """PostgreSQL, one device: ``take_or_probe``'s statement that also writes the lease when it took the
    device — its row (``INSERT_LEASE``'s parameters but ``devices``, which names the device taken), the
    device, its holder's usage row (``usage_params``) — returning the new lease's id as ``lease``. One
    statement where a grant took two. The start (``started``, read from the clock before the statement)
    must not precede the device's last release (``freed``): if it does — a release committed after the
    clock was read — nothing is written, ``lease`` is NULL and the device stays locked for the caller.
    When nothing is free it costs ~0.05 ms more than ``take_or_probe`` (the writes' executor set-up and
    the row's parameters), so a decision uses it only for its last choice: a kind with a fallback after
    it is the scarce one, often busy."""
    probe = select(exists().where(*_queued(kind)).label("queued")).subquery("probe")
    taken = (_first_free(kind, 1, True, ~exists().where(*_queued(kind))).add_columns(D.freed)
             .cte("taken").prefix_with("MATERIALIZED"))
    started = sql_cast(bindparam("started", type_=L.started.type), L.started.type)
    device = func.json_build_array(func.json_build_object(fixed("kind"), fixed(kind), fixed("id"), taken.c.ident))
    columns = [c for c in LEASES.columns if c.key != "id"]
    new = insert(LEASES).from_select([c.key for c in columns], select(*(
        device if c.key == "devices" else sql_cast(bindparam(c.key, type_=c.type), c.type) for c in columns))
        .where(or_(taken.c.freed.is_(None), taken.c.freed <= started))).returning(L.id).cte("new")
    take = update(SLOTS).where(D.id == taken.c.id, new.c.id.is_not(None)).values(lease_id=new.c.id).cte("take")
    free = select(func.count()).select_from(SLOTS).where(*_free(kind)).scalar_subquery()
    lease = select(new.c.id).scalar_subquery().label("lease")
    return Prepared(select(taken.c.id, taken.c.ident, probe.c.queued, case((taken.c.id.is_(None), free)).label("free"),
                           lease).select_from(probe.outerjoin(taken, true()))
                    .add_cte(take, _start_usage(postgresql, new).cte("usage")))


_END_S = bindparam("end_s", type_=Float)
_LATER = case((U.as_of_s > _END_S, U.as_of_s), else_=_END_S)  # ends may come out of order (missed deadlines)
END_USAGE = Prepared(update(USAGE).where(U.holder == bindparam("holder")).values(
    decayed_s=decay(U.decayed_s, (_LATER - U.as_of_s) / U.half_life_s)
    + decay(bindparam("secs", type_=Float), (_LATER - _END_S) / U.half_life_s),
    as_of_s=_LATER, live_count=U.live_count - bindparam("n"),
    live_start_s=case((U.live_count == bindparam("n"), 0.0), else_=U.live_start_s - bindparam("w", type_=Float))))
UPDATE_LEASE = update(LEASES).where(L.id == bindparam("lid"))  # SET: the other parameters' columns


@cache
def holder_query(by_course: bool, since: bool, kinds: tuple[str, ...]) -> Prepared:
    """A holder's live leases (the concurrent-device quota) and the lease rows that count against its
    device-hour quota, in one statement (built once per shape); ``state`` tells them apart."""
    used = [or_(*(L.kind == k for k in kinds))]
    if by_course:
        used.append(L.course == bindparam("course"))
    if since:
        used.append((L.ended.is_(None)) | (L.ended > bindparam("start")))
    return Prepared(select(L.id, L.state, L.kind, L.course, L.started, L.ended, L.count).where(
        L.holder == bindparam("holder"), L.started.is_not(None), or_(L.state == "live", and_(*used)))
        .order_by(L.id))


def lease_values(row: Any) -> dict[str, Any]:
    """A lease as a plain dict of its columns, from a Core row mapping or an ORM ``Lease``."""
    if isinstance(row, Mapping):
        return {str(k): v for k, v in row.items()}
    return {c.key: getattr(row, c.key) for c in LEASES.columns}


def ended_at(started: datetime | None, now: datetime, at: datetime | None = None) -> datetime:
    """When an ending lease stops counting: ``at`` (a missed deadline) or now, never before it started."""
    ended = min(at, now) if at and started else now
    return started if started and ended < started else ended


def end(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """End the leases (each dict carries ``state``, ``reason`` and ``at`` to apply) and free their slots."""
    done = []
    for row in rows:
        ended = ended_at(row["started"], now, row.pop("at", None))
        done.append({**row, "ended": ended})
    END_LEASE.run(conn, [{"lid": r["id"], "new_state": r["state"], "new_ended": r["ended"],
                          "new_reason": r["reason"]} for r in done])
    FREE_SLOTS.run(conn, [{"lid": r["id"], "freed": r["ended"]} for r in done])
    # A queued row that ends used nothing; holders in one order, so two reclaims lock their rows alike.
    started = sorted((r for r in done if r["started"] is not None), key=lambda r: str(r["holder"]))
    if started:
        END_USAGE.run(conn, [{"holder": r["holder"], "n": r["count"], "w": r["count"] * r["started"].timestamp(),
                              "end_s": r["ended"].timestamp(),
                              "secs": (r["ended"] - r["started"]).total_seconds() * r["count"]} for r in started])
    return done


def usage_params(holder: str, count: int, started: datetime, half_life_s: float) -> dict[str, Any]:
    """START_USAGE's (and GRANT_NEW_PG's) parameters: ``holder``'s row counts ``count`` devices from ``started``."""
    return {"holder": holder, "half": half_life_s, "n": count, "start_s": started.timestamp(),
            "w": count * started.timestamp()}


def start_usage(conn: Connection, holder: str, count: int, started: datetime, half_life_s: float) -> None:
    """A lease of ``count`` devices started: its holder's fair-share row counts them from ``started``."""
    START_USAGE[conn.dialect.name].run(conn, usage_params(holder, count, started, half_life_s))


def reclaim(conn: Connection, now: datetime, postgresql: bool, lock: int | None = None) -> list[dict[str, Any]]:
    """End every open lease whose deadline has passed; returns them as ended. One index probe if none.
    On PostgreSQL, with ``lock``, the same statement first takes that advisory lock (a holder's)."""
    if lock is not None and postgresql:
        expired = LOCK_AND_EXPIRED_PG.run(conn, {"now": now, "k": lock})
    else:
        expired = (EXPIRED_PG if postgresql else EXPIRED).run(conn, {"now": now})
    if not expired:
        return []
    changes = []
    for row in expired:
        length = row["max_end"] is not None and row["deadline"] >= row["max_end"]
        if length and row["max_end"] and row["started"]:
            reason = policy.length_reason((row["max_end"] - row["started"]).total_seconds() / 3600)
        else:
            reason = policy.heartbeat_reason(row["ttl_s"])
        state = "reclaimed" if row["state"] == "live" else "ended"
        changes.append({**row, "state": state, "reason": reason, "at": row["deadline"]})
    return end(conn, changes, now)
