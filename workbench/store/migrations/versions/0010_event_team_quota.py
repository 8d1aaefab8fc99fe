"""An event's team quota (device kind, concurrent devices, device-hours), recorded at registration so
the lease decision can apply it to a team holder without reading the event's YAML.

Revision ID: 0010_event_team_quota
Revises: 0009_event_board_version
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_event_team_quota"
down_revision = "0009_event_board_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("team_quota", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("team_quota")
