"""Store models. Schema changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite would otherwise hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store datetimes must be timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="student")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    instructors: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    labs: Mapped[list[Lab]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Lab.position"
    )


class Lab(Base):
    __tablename__ = "labs"
    __table_args__ = (UniqueConstraint("course_id", "lab_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    lab_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    notebook: Mapped[str] = mapped_column(Text)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    device: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frameworks: Mapped[list[str]] = mapped_column(JSON, default=list)
    limits: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)

    course: Mapped[Course] = relationship(back_populates="labs")


# Device-session models live in their own module, on the same Base (imported last: it uses Base).
from workbench.store import events_models as _events_models  # noqa: E402, F401
from workbench.store import gradebook_models as _gradebook_models  # noqa: E402, F401
from workbench.store import leases_models as _leases_models  # noqa: E402, F401
