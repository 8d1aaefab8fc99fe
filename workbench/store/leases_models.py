"""Store models for device sessions: one row per device slot, one row per lease.

A device is granted by pointing its ``device_slots.lease_id`` at a lease inside one write
transaction, so "no device in two live leases" holds by construction (a column holds one value),
and usage is computed from ``leases`` rows (start, end, device count), so it survives restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.models import Base, UTCDateTime, utcnow

LEASE_STATES = ("queued", "live", "ended", "reclaimed")


class Lease(Base):
    """A request for devices (queued) or a grant of them (live), and how it ended."""

    __tablename__ = "leases"
    # Shaped for the lease decisions' queries (workbench.devices.lease_sql; migration 0004_lease_indexes):
    # expired open leases, and a holder's live leases (its prefix also serves every per-holder query).
    __table_args__ = (
        Index("ix_leases_state_deadline", "state", "deadline"),
        Index("ix_leases_holder_state", "holder", "state"),
        Index("ix_leases_state_kind", "state", "kind"),  # the queue of a kind (migration 0011)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    kernel_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    course: Mapped[str | None] = mapped_column(String(100), nullable=True)
    kind: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer, default=1)
    request: Mapped[list[Any]] = mapped_column(JSON, default=list)
    devices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(12))
    requested: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    max_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ttl_s: Mapped[float] = mapped_column(Float, default=60.0)
    reason: Mapped[str] = mapped_column(Text, default="")
    backend: Mapped[str] = mapped_column(String(20), default="local")
    backend_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)


class DeviceSlot(Base):
    """One leasable device (an NPU or GPU by logical id, or a CPU slot), synced from the inventory."""

    __tablename__ = "device_slots"
    # Free devices of a kind (``kind = ? AND lease_id IS NULL AND enabled``) are one covered index range.
    __table_args__ = (
        UniqueConstraint("kind", "ident"),
        Index("ix_device_slots_kind_lease_id", "kind", "lease_id", "enabled"),
        # The free ones of a kind in id order (the first free are taken): without it PostgreSQL walks the
        # primary key past every held row (migration 0011).
        Index("ix_device_slots_free", "kind", "id", sqlite_where=text("lease_id IS NULL AND enabled = 1"),
              postgresql_where=text("lease_id IS NULL AND enabled")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    ident: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    lease_id: Mapped[int | None] = mapped_column(
        ForeignKey("leases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # When it was last freed: a lease decision granting it in one statement checks its start is not earlier
    # (migration 0012).
    freed: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FairShareUsage(Base):
    """A holder's fair-share standing in numbers the queue order needs, kept by the transactions that
    start and end its leases (``workbench.devices.lease_sql``) so that ranking a queued holder reads
    one row, not every lease it had (``workbench.devices.fair_share`` says how the key is formed)."""

    __tablename__ = "fair_share_usage"

    holder: Mapped[str] = mapped_column(String(200), primary_key=True)
    half_life_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: not built yet
    decayed_s: Mapped[float] = mapped_column(Float, default=0.0)  # ended leases' device-seconds at as_of_s
    as_of_s: Mapped[float] = mapped_column(Float, default=0.0)  # epoch seconds
    live_count: Mapped[int] = mapped_column(Integer, default=0)  # devices held now
    live_start_s: Mapped[float] = mapped_column(Float, default=0.0)  # sum of count x started (epoch s)
