"""Device leases: leasable device slots and lease rows (usage is computed from them).

Revision ID: 0002_leases
Revises: 0001_baseline
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_leases"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("kernel_id", sa.String(100), nullable=True),
        sa.Column("course", sa.String(100), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requested", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ttl_s", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("backend_ref", sa.String(100), nullable=True),
    )
    op.create_index("ix_leases_holder", "leases", ["holder"])
    op.create_index("ix_leases_state", "leases", ["state"])
    op.create_table(
        "device_slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("ident", sa.String(50), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("lease_id", sa.Integer(), sa.ForeignKey("leases.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("kind", "ident"),
    )
    op.create_index("ix_device_slots_kind", "device_slots", ["kind"])
    op.create_index("ix_device_slots_lease_id", "device_slots", ["lease_id"])


def downgrade() -> None:
    op.drop_table("device_slots")
    op.drop_table("leases")
