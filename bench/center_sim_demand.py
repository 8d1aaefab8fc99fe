"""Synthetic demand for ``center_sim``: who wants how many NPUs, when, for how long, and how they behave.

A week (Monday 00:00 UTC onwards) of a center whose students each belong to one course:

- **class hours**: each course has two 2-hour lab slots a week (weekdays 08, 10, 13, 15 and 17 h);
  courses share slots so four courses sit in each slot; 85 % of a course turns up, within the first
  15 minutes, and works until shortly before the end of the slot;
- **homework**: 1 + Poisson(2.5) sessions per student (a tenth are heavy users with 3 + Poisson(6)),
  lognormal length (median 75 min); 60 % of them crowd into the day and a half before the course's
  deadline (**deadline peaks**: Tuesday, Wednesday, Thursday — twice the courses — and Sunday
  23:59), the rest follow a diurnal profile (quiet at night, busiest in the evening);
- **a hackathon weekend** (Saturday 09:00 to Sunday 21:00): one team per 35 students, each team
  one holder asking for ``npu:2`` session after session (a fifth run a second stream in parallel),
  most teams sleeping part of the night.

Behaviour that the lease policy exists for is drawn per session: waiting in the queue only so long
(patience), retrying later after giving up, forgetting to shut the kernel down (the idle sweep's
job), a kernel dying (the heartbeat deadline's job), and opening a second kernel while one is held
(the concurrent-device quota's job). Everything comes from one seeded ``random.Random``, so a run
is repeatable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

HOUR, DAY, MINUTE = 3600.0, 86400.0, 60.0
SLOT_HOURS = (8, 10, 13, 15, 17)
DEADLINE_DAYS = (1, 2, 3, 3, 6)  # course c's deadline: 23:59 on DEADLINE_DAYS[c % 5] (Tue, Wed, Thu, Thu, Sun)
HACK_START, HACK_END = 5 * DAY + 9 * HOUR, 6 * DAY + 21 * HOUR
# Relative demand by hour of day (UTC is local time here): night, morning, afternoon, evening.
DIURNAL = (0.15, 0.1, 0.08, 0.06, 0.06, 0.08, 0.15, 0.3, 0.55, 0.75, 0.85, 0.9,
           0.8, 0.9, 1.0, 1.0, 0.95, 0.9, 0.85, 0.9, 1.0, 1.0, 0.8, 0.45)


@dataclass
class Task:
    """One stretch of work a holder wants to do on devices; may take several requests (restarts)."""

    tid: int
    holder: str
    course: str
    kind: str  # "class" | "homework" | "hackathon"
    start: float  # seconds after the week's start when the holder first wants the devices
    work: float  # device time wanted, seconds
    count: int  # devices per lease
    patience: float  # seconds the holder waits in the queue before giving up
    retry_after: float | None  # after giving up, try again this much later (None: abandon)
    forget: bool  # leave the kernel idle after the work (until the idle sweep reclaims it)
    dies_after: float | None  # fraction of the work after which the kernel dies
    second_kernel: bool  # opens a second kernel 10 minutes in (the concurrent quota refuses it)
    stream: str  # tasks of one stream run one after another (a person does one thing at a time)
    remaining: float = 0.0  # device time still wanted (the engine counts it down)

    def __post_init__(self) -> None:
        self.remaining = self.work


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    return min(high, max(low, median * math.exp(rng.gauss(0.0, sigma))))


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; means here are small."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def _diurnal_time(rng: random.Random, days: float) -> float:
    while True:
        t = rng.uniform(0.0, days * DAY)
        if rng.random() < DIURNAL[int(t % DAY // HOUR)]:
            return t


def _deadline_time(rng: random.Random, deadline: float) -> float:
    """A session start in the run-up to a deadline: exponentially denser towards it, thinner at night."""
    while True:
        t = deadline - rng.expovariate(1.0 / (16 * HOUR)) - 30 * MINUTE
        if t >= 0 and rng.random() < max(0.3, DIURNAL[int(t % DAY // HOUR)]):
            return t


def generate(students: int, courses: int, days: float, seed: int) -> list[Task]:
    """Every task starting in the first ``days`` of the week, ordered by start time. The week's demand
    is drawn in full whatever ``days`` is, so a shorter run is the start of the same week."""
    rng = random.Random(seed)
    tasks: list[Task] = []
    end, week = days * DAY, max(7.0, days)

    def add(holder: str, course: str, kind: str, start: float, work: float, count: int, patience: float,
            retry: float | None, forget: float, stream: str) -> None:
        if start >= week * DAY or work <= 0:
            return
        dies = rng.uniform(0.1, 0.9) if rng.random() < 0.02 else None
        second = kind != "hackathon" and rng.random() < 0.03
        tasks.append(Task(len(tasks), holder, course, kind, start, work, count, patience, retry,
                          rng.random() < forget, dies, second, stream))

    per_course = max(1, students // courses)
    slots = [(d, h) for d in range(5) for h in SLOT_HOURS]
    for c in range(courses):
        course = f"course{c:02d}"
        deadline = DEADLINE_DAYS[c % len(DEADLINE_DAYS)] * DAY + 23 * HOUR + 59 * MINUTE
        lab_slots = [slots[(2 * c) % len(slots)], slots[(2 * c + 12) % len(slots)]]
        for s in range(per_course):
            holder = f"{course}-s{s:03d}"
            for day, hour in lab_slots:
                if rng.random() < 0.85:
                    begin = day * DAY + hour * HOUR + rng.uniform(0, 15 * MINUTE)
                    finish = day * DAY + (hour + 2) * HOUR - rng.uniform(0, 20 * MINUTE)
                    add(holder, course, "class", begin, finish - begin, 1,
                        max(10 * MINUTE, finish - begin - 30 * MINUTE), None, 0.05, holder)
            heavy = rng.random() < 0.1
            for _ in range(3 + _poisson(rng, 6.0) if heavy else 1 + _poisson(rng, 2.5)):
                start = _deadline_time(rng, deadline) if rng.random() < 0.6 else _diurnal_time(rng, week)
                work = _lognormal(rng, 75 * MINUTE, 0.6, 10 * MINUTE, 5 * HOUR)
                patience = max(2 * MINUTE, rng.expovariate(1 / (20 * MINUTE)))
                retry = rng.uniform(20, 90) * MINUTE if rng.random() < 0.6 else None
                add(holder, course, "homework", start, work, 1, patience, retry, 0.15, holder)
    for team in range(max(1, students // 35)):
        holder = f"team{team:03d}"
        for stream in range(2 if rng.random() < 0.2 else 1):
            t = HACK_START + rng.uniform(0, 30 * MINUTE) + stream * HOUR
            sleeps = rng.random() < 0.6
            while t < HACK_END:
                if sleeps and 1 <= (t % DAY) / HOUR < 7:  # asleep until 07:00-08:00
                    t = (t // DAY) * DAY + 7 * HOUR + rng.uniform(0, HOUR)
                    continue
                work = min(_lognormal(rng, 3 * HOUR, 0.5, 30 * MINUTE, 8 * HOUR), HACK_END - t)
                add(holder, "hackathon", "hackathon", t, work, 2, rng.expovariate(1 / (90 * MINUTE)),
                    15 * MINUTE, 0.1, f"{holder}#{stream}")
                t += work + rng.expovariate(1 / (30 * MINUTE))
    return sorted((task for task in tasks if task.start < end), key=lambda task: (task.start, task.tid))
