"""Store models for hackathon events: the registered event, its teams and members, submissions, baselines.

A submission row is the truth about a team's use of its limits: limits count the rows of a team
that are not ``failed`` (nor copies migrated from an earlier phase), so a crash or a bad file
never costs a team a submission. Baselines are rows too, scored once when the event is registered,
so a board request never runs a scorer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workbench.store.models import Base, UTCDateTime, utcnow

SUBMISSION_STATES = ("queued", "running", "scored", "failed")


class EventRow(Base):
    """An event directory registered with ``workbench event create``; the YAML stays the definition.
    ``registered`` is the latest registration (baselines are re-scored then)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(Text)
    registered: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finalized: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # {"kind", "devices", "device_hours"}: applied by the lease decision to the event's team holders
    # (workbench.devices.team_holders), which never read event.yaml.
    team_quota: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Team(Base):
    """A team of an event; ``merged_into`` names the team that absorbed it (its rows moved there).

    ``merge_offer`` ("<from>><into>") is this team's standing half of a merge: a merge happens when
    both teams asked for the same one (or an organiser asks), so nobody joins a team uninvited.
    """

    __tablename__ = "event_teams"
    __table_args__ = (UniqueConstraint("event_id", "team_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_into: Mapped[str | None] = mapped_column(String(100), nullable=True)
    merge_offer: Mapped[str | None] = mapped_column(String(201), nullable=True)


class TeamMember(Base):
    """A user in a team; the unique (event, user) pair keeps a user in one team per event."""

    __tablename__ = "event_team_members"
    __table_args__ = (UniqueConstraint("event_id", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(String(100))
    joined: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventSubmission(Base):
    """One stored submission (immutable file + hash) and its scoring outcome."""

    __tablename__ = "event_submissions"
    # A team's rows in a phase (limits, its own list) and the board's scan of a phase's scored rows.
    __table_args__ = (
        Index("ix_event_submissions_team", "event_id", "team_id", "created"),
        Index("ix_event_submissions_board", "event_id", "phase", "status"),
        Index("ix_event_submissions_status", "status"),
        Index("ix_event_submissions_scored", "event_id", "scored"),  # the board cache's version (board.py)
        Index("ix_event_submissions_best", "event_id", "phase", "status", "team_id", "public_score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(100))
    member: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    phase: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scored: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    public_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    private_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    migrated_from: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EventBaseline(Base):
    """An organiser's reference entry, scored at registration and shown on every board, marked."""

    __tablename__ = "event_baselines"
    __table_args__ = (UniqueConstraint("event_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    public_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    private_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
