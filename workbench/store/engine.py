"""Opening the store, migrating it, and writing to it safely from many processes.

SQLite is the embedded default: it runs in WAL mode (readers never block the writer) with a busy
timeout, and every write transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the
lock instead of failing half-way through an upgrade from a read lock. ``Store.write`` also retries
the rare "database is locked" that outlasts the busy timeout. PostgreSQL needs none of that.

A pooled PostgreSQL connection dies when the server restarts. Reads (``Store.session``) ping it at
checkout, as SQLAlchemy's ``pool_pre_ping`` would, and get a fresh one if it is dead. Writes skip
the ping (a round trip, ~0.08 ms of a 1 ms lease decision): their first statement finds a dead
connection instead, before anything was committed, and ``Store.write`` runs the transaction again
on a fresh one. A connection lost during COMMIT is not retried — the commit may have happened.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workbench.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_MS = 30_000
WRITE_ATTEMPTS = 8
_WRITING: ContextVar[bool] = ContextVar("workbench_store_writing", default=False)  # no ping at checkout


def _alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration. Revision ids are the migration files' names (``NNNN_what``), numbered
    in order (a unit test holds Alembic's own graph to that), so checking that a store is current
    reads a folder instead of importing Alembic: every command opens the store, few migrate it."""
    return max(path.stem for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _prepare_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A dead connection makes the pool connect afresh (DisconnectionError); writes need no ping.
        if _WRITING.get():
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the database closed this pooled connection: {exc}") from exc

    @event.listens_for(engine, "rollback")
    def _rollback_keeping_prepared(connection: Any) -> None:
        # psycopg's rollback() forgets every statement it prepared on the connection, so each refused
        # lease decision (a quota, a busy kind: both roll back) made the next decisions parse and plan
        # every statement again until it was prepared anew (grant p50 1.15 -> 2.0 ms with one refusal
        # in four). A ROLLBACK sent as a statement ends the transaction alike, and the rollback() that
        # SQLAlchemy calls next finds none to end. A dead connection is left to that call.
        if connection.invalidated:
            return
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection.info.transaction_status != dbapi_connection.info.transaction_status.IDLE:
            try:
                dbapi_connection.execute("ROLLBACK", prepare=False)
            except engine.dialect.loaded_dbapi.Error:
                return


class Store:
    """One database: sessions for reading, ``write`` for atomic, retried read-modify-write."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                f"store URL {url!r} is not a database URL; use e.g. sqlite:///path/to/workbench.db "
                "or postgresql+psycopg://user@host/dbname (WORKBENCH_DB_URL or Workbench.db_url)"
            ) from exc
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed.render_as_string(hide_password=False)
        self.kind = parsed.get_backend_name()
        if self.kind == "sqlite" and parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = create_engine(self.url)
        except (ImportError, ArgumentError) as exc:
            raise StoreError(f"cannot open store {self.display_url}: {exc}") from exc
        if self.kind == "sqlite":
            _prepare_sqlite(self.engine)
        else:
            _prepare_postgresql(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def current_revision(self) -> str | None:
        """The revision Alembic recorded in the store (None for an empty store)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.scalar(text("SELECT version_num FROM alembic_version"))

    def upgrade(self) -> None:
        """Apply every pending migration; a no-op when the store is at head."""
        try:
            if self.current_revision() == head_revision():
                return
            from alembic import command

            with self.engine.begin() as conn:
                cfg = _alembic_config(self.url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(
                f"cannot migrate store {self.display_url}: {exc.orig}; check that the database "
                "server is running and the URL is right"
            ) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and writes that cannot conflict); commits on success."""
        with self._sessions() as session, session.begin():
            yield session

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one write transaction, serialized against other writers, retried."""
        return self._write(self._write_session, work)

    def write_core(self, work: Callable[[Connection], T]) -> T:
        """``write`` for work that runs Core statements only: on a Connection, without an ORM Session,
        whose set-up and commit cost ~0.06 ms on PostgreSQL — a twentieth of a lease decision."""
        return self._write(self._write_connection, work)

    @contextmanager
    def _write_session(self) -> Iterator[Session]:
        with self._sessions() as session:
            if self.kind == "sqlite":
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session

    @contextmanager
    def _write_connection(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if self.kind == "sqlite":
                conn.execution_options(sqlite_begin="IMMEDIATE")
            conn.begin()  # explicitly: statements on the DBAPI cursor (lease_sql) do not begin one
            yield conn

    def _write(self, opener: Callable[[], AbstractContextManager[Any]], work: Callable[[Any], T]) -> T:
        delay = 0.01
        for attempt in range(WRITE_ATTEMPTS):
            writing = _WRITING.set(True)
            try:
                with opener() as handle:
                    try:
                        result = work(handle)
                    except DBAPIError as exc:
                        if not exc.connection_invalidated or attempt == WRITE_ATTEMPTS - 1:
                            raise
                        self.engine.dispose()  # the server restarted: every pooled connection is dead
                        continue  # nothing was committed: run the transaction again on a fresh one
                    handle.commit()
                    return result
            except OperationalError as exc:
                if not _is_transient(exc) or attempt == WRITE_ATTEMPTS - 1:
                    raise StoreError(f"store {self.display_url} refused a write: {exc.orig}") from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
            finally:
                _WRITING.reset(writing)
        raise AssertionError("unreachable")


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text or "serialize" in text


_stores: dict[str, Store] = {}


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The process-wide store for ``url``, migrated to head on first use (embedded default)."""
    store = _stores.get(url)
    if store is None:
        store = Store(url)
        if migrate:
            store.upgrade()
        _stores[url] = store
    return store
