"""``workbench db``: migrate the store."""

from __future__ import annotations

import argparse

from workbench.commands import context
from workbench.store import Store
from workbench.store.engine import head_revision


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="manage the store (SQLite or PostgreSQL)")
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = commands.add_parser("upgrade", help="apply pending migrations (idempotent)")
    upgrade.set_defaults(func=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    store = Store(context.settings().effective_db_url)
    before = store.current_revision()
    store.upgrade()
    head = head_revision()
    if before == head:
        print(f"store {store.display_url} is up to date ({head})")
    else:
        print(f"store {store.display_url} upgraded from {before or 'empty'} to {head}")
    return 0
