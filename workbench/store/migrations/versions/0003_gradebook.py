"""Gradebook (filled in by the grading work).

Revision ID: 0003_gradebook
Revises: 0002_leases
Create Date: 2026-11-23
"""

revision = "0003_gradebook"
down_revision = "0002_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
