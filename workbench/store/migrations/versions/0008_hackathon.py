"""Hackathon events: registered events, teams and members, submissions with scores, baselines.

Revision ID: 0008_hackathon
Revises: 0007_grading_attempts
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_hackathon"
down_revision = "0007_grading_attempts"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("registered", _TS, nullable=False),
        sa.Column("finalized", _TS, nullable=True),
    )
    op.create_table(
        "event_teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("merged_into", sa.String(100), nullable=True),
        sa.Column("merge_offer", sa.String(201), nullable=True),
        sa.UniqueConstraint("event_id", "team_id"),
    )
    op.create_table(
        "event_team_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("team_id", sa.String(100), nullable=False),
        sa.Column("joined", _TS, nullable=False),
        sa.UniqueConstraint("event_id", "user"),
    )
    op.create_table(
        "event_submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team_id", sa.String(100), nullable=False),
        sa.Column("member", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("phase", sa.String(100), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started", _TS, nullable=True),
        sa.Column("scored", _TS, nullable=True),
        sa.Column("public_score", sa.Float(), nullable=True),
        sa.Column("private_score", sa.Float(), nullable=True),
        sa.Column("chosen", sa.Boolean(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("migrated_from", sa.Integer(), nullable=True),
    )
    op.create_index("ix_event_submissions_team", "event_submissions", ["event_id", "team_id", "created"])
    op.create_index("ix_event_submissions_board", "event_submissions", ["event_id", "phase", "status"])
    op.create_index("ix_event_submissions_status", "event_submissions", ["status"])
    op.create_table(
        "event_baselines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_score", sa.Float(), nullable=True),
        sa.Column("private_score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.UniqueConstraint("event_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("event_baselines")
    op.drop_table("event_submissions")
    op.drop_table("event_team_members")
    op.drop_table("event_teams")
    op.drop_table("events")
