"""Per-lab grading limits from course.yaml (`grading:`).

Revision ID: 0005_lab_limits
Revises: 0004_lease_indexes
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_lab_limits"
down_revision = "0004_lease_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labs") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("labs") as batch:
        batch.drop_column("limits")
