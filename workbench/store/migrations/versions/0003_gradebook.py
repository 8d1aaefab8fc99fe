"""Gradebook: students, submissions (hash, path, status), task grades, manual adjustments.

Revision ID: 0003_gradebook
Revises: 0002_leases
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_gradebook"
down_revision = "0002_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(300), nullable=False),
        sa.Column("sis_id", sa.String(100), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.UniqueConstraint("course_id", "name"),
    )
    op.create_index("ix_students_course_id", "students", ["course_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.String(100), nullable=False),
        sa.Column("lab_id", sa.String(100), nullable=False),
        sa.Column("student_id", sa.Integer(), sa.ForeignKey("students.id", ondelete="CASCADE"), nullable=False),
        sa.Column("submitted", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("graded", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("late_s", sa.Float(), nullable=False),
        sa.Column("penalty", sa.Float(), nullable=False),
        sa.Column("needs_manual", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.UniqueConstraint("student_id", "lab_id", "sha256"),
    )
    for column in ("course_id", "lab_id", "student_id", "status"):
        op.create_index(f"ix_submissions_{column}", "submissions", [column])
    op.create_table(
        "task_grades",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("auto_points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.UniqueConstraint("submission_id", "task_id"),
    )
    op.create_index("ix_task_grades_submission_id", "task_grades", ["submission_id"])
    op.create_table(
        "grade_adjustments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("task_id", sa.String(200), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
    )
    op.create_index("ix_grade_adjustments_submission_id", "grade_adjustments", ["submission_id"])


def downgrade() -> None:
    op.drop_table("grade_adjustments")
    op.drop_table("task_grades")
    op.drop_table("submissions")
    op.drop_table("students")
