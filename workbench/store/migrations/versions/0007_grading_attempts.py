"""How many grading runs a submission has begun, so a restart re-queues it once and no more.

Revision ID: 0007_grading_attempts
Revises: 0006_student_lms_id
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_grading_attempts"
down_revision = "0006_student_lms_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("attempts")
