"""Students' LMS user id (Canvas's numeric "ID"), so Canvas exports match students by it.

Revision ID: 0006_student_lms_id
Revises: 0005_lab_limits
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_student_lms_id"
down_revision = "0005_lab_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("students") as batch:
        batch.add_column(sa.Column("lms_id", sa.String(100), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("students") as batch:
        batch.drop_column("lms_id")
