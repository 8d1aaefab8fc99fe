"""When each device was last freed (``device_slots.freed``): the end of the lease that held it last.

A PostgreSQL lease decision takes a free device and writes its new lease in one statement
(``lease_sql.take_and_grant``), so the lease's start time is read from the clock *before* the
statement sees which device it gets. A device freed by a commit that landed in between could then
start its next lease before its last one ended (the same device in two leases for a moment). The
statement compares the start with this column and writes nothing when it is earlier; the decision
then reads the clock again and grants as before. NULL: never freed since this migration.

Revision ID: 0012_slot_freed
Revises: 0011_fair_share_usage
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_slot_freed"
down_revision = "0011_fair_share_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_slots") as batch:
        batch.add_column(sa.Column("freed", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_slots") as batch:
        batch.drop_column("freed")
