"""Board indexes: the newest scoring time of an event's submissions as one index probe (the board
cache's version), and each team's best public score of a phase as one grouped index pass.

Revision ID: 0009_event_board_version
Revises: 0008_hackathon
Create Date: 2026-12-03
"""

from alembic import op

revision = "0009_event_board_version"
down_revision = "0008_hackathon"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_submissions_scored", "event_submissions", ["event_id", "scored"])
    op.create_index("ix_event_submissions_best", "event_submissions",
                    ["event_id", "phase", "status", "team_id", "public_score"])


def downgrade() -> None:
    op.drop_index("ix_event_submissions_best", "event_submissions")
    op.drop_index("ix_event_submissions_scored", "event_submissions")
