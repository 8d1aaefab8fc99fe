"""Lease indexes shaped for the decisions' queries; single-column indexes they make redundant go.

- ``leases(state, deadline)``: reclaiming expired open leases is an index range per state
  (``ix_leases_state`` is its prefix);
- ``leases(holder, state)``: a holder's live leases for the concurrent-device quota, and every
  per-holder query by prefix (replaces ``ix_leases_holder``);
- ``device_slots(kind, lease_id, enabled)``: counting and taking free devices of a kind is one
  covered range in id order (``ix_device_slots_kind`` is its prefix).

Revision ID: 0004_lease_indexes
Revises: 0003_gradebook
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004_lease_indexes"
down_revision = "0003_gradebook"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_leases_state_deadline", "leases", ["state", "deadline"])
    op.create_index("ix_leases_holder_state", "leases", ["holder", "state"])
    op.create_index("ix_device_slots_kind_lease_id", "device_slots", ["kind", "lease_id", "enabled"])
    op.drop_index("ix_leases_state", table_name="leases")
    op.drop_index("ix_leases_holder", table_name="leases")
    op.drop_index("ix_device_slots_kind", table_name="device_slots")


def downgrade() -> None:
    op.create_index("ix_device_slots_kind", "device_slots", ["kind"])
    op.create_index("ix_leases_holder", "leases", ["holder"])
    op.create_index("ix_leases_state", "leases", ["state"])
    op.drop_index("ix_device_slots_kind_lease_id", table_name="device_slots")
    op.drop_index("ix_leases_holder_state", table_name="leases")
    op.drop_index("ix_leases_state_deadline", table_name="leases")
