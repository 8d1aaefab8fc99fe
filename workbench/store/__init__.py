"""The store: SQLAlchemy 2 models and one engine per URL (SQLite by default, PostgreSQL by URL)."""

from workbench.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
