"""Quotas, fair share and the sentences a refusal is made of.

The policy lives in the admin inventory file under ``policy:`` so one file describes a site:

    policy:
      heartbeat_s: 60              # a lease not renewed for this long is reclaimed
      half_life_hours: 168         # fair share: usage this old counts half
      default: {device_hours: 20, period: week, concurrent_devices: 2, max_session_hours: 8,
                idle_minutes: 30}
      courses:                     # per course or event (hackathons use the event id)
        intro: {device_hours: 5, period: day}

Device-hours count accelerators only (``metered`` kinds, default npu and gpu): CPU is the fallback
everyone may always use, so it is limited by concurrency alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from workbench.errors import ConfigError, NotFoundError, WorkbenchError

PERIODS = ("day", "week", "month", "total")
KIND_NAMES = {"npu": "NPU", "gpu": "GPU", "cpu": "CPU slot"}


class LeaseRefused(WorkbenchError):
    """A device request that cannot be granted now; the CLI exits 3."""

    exit_code = 3

    def __init__(self, message: str, queue_position: int | None = None) -> None:
        super().__init__(message)
        self.queue_position = queue_position

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.message}
        if self.queue_position is not None:
            data["queue_position"] = self.queue_position
        return data


class QuotaExceeded(LeaseRefused):
    """A per-holder limit (device-hours, concurrent devices) stands in the way."""


class DevicesBusy(LeaseRefused):
    """Every device of the kind is held; the request has a place in the fair-share queue."""


class NoSuchDevices(LeaseRefused):
    """The workbench has no (or too few) devices of the kind at all; waiting will not help."""


class LeaseNotFound(NotFoundError):
    """A lease id that the store does not know."""


@dataclass(frozen=True)
class Quota:
    device_hours: float | None = None
    period: str = "week"
    concurrent_devices: int | None = None
    max_session_hours: float | None = None
    idle_minutes: float | None = None
    metered: tuple[str, ...] = ("npu", "gpu")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str, base: Quota | None = None) -> Quota:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{where}: unknown quota key(s) {sorted(unknown)}; known: {sorted(known)}")
        merged = {**(base.__dict__ if base else {}), **data}
        if merged.get("period", "week") not in PERIODS:
            raise ConfigError(f"{where}: period must be one of {', '.join(PERIODS)}")
        merged["metered"] = tuple(merged.get("metered", ("npu", "gpu")))
        return cls(**merged)


@dataclass(frozen=True)
class Policy:
    heartbeat_s: float = 60.0
    half_life_hours: float = 168.0
    default: Quota = field(default_factory=Quota)
    courses: dict[str, Quota] = field(default_factory=dict)

    @classmethod
    def from_file_data(cls, data: dict[str, Any], where: str = "inventory") -> Policy:
        section = data.get("policy") or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: 'policy' must be a mapping")
        default = Quota.from_dict(section.get("default") or {}, f"{where}: policy.default")
        courses = {str(name): Quota.from_dict(q or {}, f"{where}: policy.courses.{name}", default)
                   for name, q in (section.get("courses") or {}).items()}
        return cls(float(section.get("heartbeat_s", 60)), float(section.get("half_life_hours", 168)),
                   default, courses)

    def quota_for(self, course: str | None) -> Quota:
        return self.courses.get(course or "", self.default)


def period_bounds(period: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """Start of the current accounting period and when it resets (UTC calendar periods)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)
    return None, None


def _when(moment: datetime, now: datetime) -> str:
    left = moment - now
    hours = left.total_seconds() / 3600
    minutes = int(left.seconds / 60 % 60)
    span = f"{left.days} d {int(hours % 24)} h" if hours >= 24 else f"{int(hours)} h {minutes} min"
    return f"{moment:%a %Y-%m-%d %H:%M} UTC (in {span})"


def where(holder: str, course: str | None) -> str:
    return f"'{holder}'" + (f" in '{course}'" if course else "")


def hours_message(holder: str, course: str | None, quota: Quota, used_s: float, now: datetime) -> str:
    _, reset = period_bounds(quota.period, now)
    this = {"day": "today", "week": "this week", "month": "this month", "total": "in total"}[quota.period]
    resets = f"it resets {_when(reset, now)}" if reset else "it does not reset; ask your instructor"
    return (f"Device-hour quota used up for {where(holder, course)}: {used_s / 3600:.2f} of "
            f"{quota.device_hours:g} NPU/GPU hours used {this}; {resets}. Wait until then, or run "
            "on CPU (request cpu:1, or pick the 'Python 3 (CPU)' kernel).")


def concurrent_message(holder: str, course: str | None, quota: Quota, held: int, leases: list[int],
                       wanted: int) -> str:
    ids = ", ".join(str(i) for i in leases)
    return (f"Limit of {quota.concurrent_devices} device(s) at once for {where(holder, course)}: "
            f"{held} already held (lease {ids}) and this asks for {wanted} more. Shut down a kernel "
            "you no longer need (or `workbench sessions release LEASE`) and try again.")


def busy_message(kind: str, total: int, position: int, waited: float | None = None) -> str:
    name = KIND_NAMES.get(kind, kind)
    act = (f"Waited {waited:g} s in the fair-share queue without a turn; try again later" if waited
           else "Nothing was queued; ask again with a wait (--wait SECONDS) to join the queue")
    return (f"All {total} {name}(s) are busy; you are number {position} in the queue "
            f"(fewer recent device-hours go first). {act}, or run on CPU (request cpu:1).")


def none_message(kind: str, have: int, wanted: int) -> str:
    name = KIND_NAMES.get(kind, kind)
    if have == 0:
        return (f"This workbench has no {name}s, so waiting will not help; run on CPU (request cpu:1) "
                "or ask the admin to add them to the inventory file.")
    return f"This workbench has only {have} {name}(s) and you asked for {wanted}; ask for at most {have}."


def idle_reason(minutes: float) -> str:
    return (f"released after {minutes:g} min without running a cell, so others can use the device; "
            "restart the kernel to get a device again")


def length_reason(hours: float) -> str:
    return f"reached the maximum session length of {hours:g} h; restart the kernel for a new session"


def heartbeat_reason(ttl_s: float) -> str:
    return (f"no heartbeat for {ttl_s:g} s (the kernel or its server died); start the kernel again "
            "for a new session")
