"""What ``center_sim``'s event loop keeps: the simulated clock the lease code reads, each request's
outcome, each live lease as the engine knows it, and the statistics the report is made of."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from center_sim_demand import Task

WEEK_START = datetime(2026, 11, 30, tzinfo=timezone.utc)  # a Monday: the week quota period is the run


class SimClock:
    """The simulated "now" that ``LeaseManager`` reads; the event loop moves ``t`` (seconds)."""

    def __init__(self, start: datetime = WEEK_START) -> None:
        self.start, self.t = start, 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def at(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()


@dataclass
class Req:
    """One request: its outcome is granted, queued_granted or refused (with the user's sentence)."""

    rid: int
    task: Task
    t: float
    queued_id: int | None = None
    position: int | None = None
    outcome: str = ""
    reason: str = ""
    wait: float | None = None


@dataclass
class Live:
    """A live lease as the engine knows it from the calls' answers."""

    lid: int
    task: Task | None
    count: int
    devices: list[str]
    started: float
    deadline: float
    max_end: float | None
    working: bool = True
    alive: bool = True
    activity: float = 0.0


@dataclass
class Stats:
    """What the report is made of."""

    requests: list[Req] = field(default_factory=list)
    samples: list[tuple[float, int, int, int, int]] = field(default_factory=list)  # t, demand, held, useful, queued
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    demanded: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    received: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    reclaims: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refusals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    double_grants: int = 0
    out_of_order: int = 0
    checks: int = 0
