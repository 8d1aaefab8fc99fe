"""The store checks it is current without Alembic: that shortcut must agree with Alembic itself."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from workbench.store import Store
from workbench.store.engine import MIGRATIONS, _alembic_config, head_revision


def test_revision_ids_are_the_numbered_file_names_in_order() -> None:
    scripts = ScriptDirectory.from_config(_alembic_config("sqlite://"))
    chain = list(reversed(list(scripts.walk_revisions())))
    stems = sorted(path.stem for path in (MIGRATIONS / "versions").glob("*.py"))
    assert [rev.revision for rev in chain] == stems
    assert [rev.down_revision for rev in chain] == [None, *stems[:-1]]
    assert head_revision() == scripts.get_current_head() == stems[-1]


def test_current_revision_of_an_empty_and_a_migrated_store(db_url: str) -> None:
    store = Store(db_url)
    assert store.current_revision() is None
    store.upgrade()
    assert store.current_revision() == head_revision()
    store.upgrade()  # at head: nothing to do
    assert store.current_revision() == head_revision()
