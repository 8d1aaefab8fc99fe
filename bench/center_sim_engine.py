"""The event loop of ``center_sim``: simulated people driving the real ``LeaseManager`` on a real store.

Only time is simulated. ``SimClock`` is handed to ``LeaseManager(clock=...)``, so every "now" the
lease code reads (grants, deadlines, reclaim, quota periods, fair-share decay) is the event's time,
and the events run in time order in one thread. Everything else is the production code path:
``try_acquire`` (the decision ``acquire`` repeats while it waits), ``renew`` (heartbeats, with the
kernel's last activity), ``release`` and ``sweep`` (deadline and idle reclaim), on the store's own
write transactions. The engine keeps a mirror of which device each live lease holds, fed only by
what those calls return, and asserts on every grant that no device is in two live leases.

Waiting is event-driven instead of a one-second poll: a queued holder tries again when devices are
freed (one second later, the production poll's ceiling), in the order of the store's fair-share
key (``decayed_usage``, then arrival) — the decision itself still judges the order.
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from center_sim_demand import HACK_END, MINUTE, Task
from center_sim_records import Live, Req, SimClock, Stats

from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import LeaseRefused, QuotaExceeded, busy_message

EPSILON = 0.001  # seconds after a deadline at which the engine looks for the reclaim


class Engine:
    """Runs the tasks through ``manager`` until ``end`` simulated seconds."""

    def __init__(self, manager: LeaseManager, clock: SimClock, tasks: list[Task], npus: int, end: float,
                 sweep_s: float, sample_s: float, check: bool = False, seed: int = 1,
                 progress: bool = False) -> None:
        self.m, self.clock, self.npus, self.end, self.check = manager, clock, npus, end, check
        self.ttl = manager.policy.heartbeat_s
        self.sweep_s, self.sample_s = sweep_s, sample_s
        self.stats = Stats()
        self.events: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = itertools.count()
        self.held: dict[str, int] = {}  # device id -> lease id (the mirror)
        self.lives: dict[int, Live] = {}
        self.queue: dict[int, Req] = {}  # rid -> queued request
        self.idle_of: dict[str, int] = {}  # holder -> a forgotten idle lease
        self.streams: dict[str, deque[Task]] = defaultdict(deque)
        self.busy: set[str] = set()  # streams doing a task now
        self.restarting: dict[int, Task] = {}  # tid -> task whose kernel died, restart pending
        self.poll_pending = False
        self.rng = random.Random(seed)
        self.progress = time.perf_counter() if progress else None  # lines on stderr, for long runs
        for task in tasks:
            self.stats.demanded[task.holder] += task.work * task.count
            self.push(task.start, self.arrive_planned, task)
        for n in range(int(end // sample_s) + 1):
            self.push(n * sample_s, self.sample)

    # --- the loop ------------------------------------------------------------------------------
    def push(self, t: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self.events, (t, next(self.seq), action, args))

    def run(self) -> Stats:
        while self.events and self.events[0][0] < self.end:
            t, _, action, args = heapq.heappop(self.events)
            self.clock.t = t
            action(*args)
        self.clock.t = self.end
        for req in list(self.queue.values()):
            self.give_up(req, "the simulated week ended while it was queued")
        for live in self.lives.values():
            if live.working and live.task is not None:
                self.stats.received[live.task.holder] += (self.end - live.started) * live.count
        return self.stats

    def timed(self, name: str, call: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return call()
        finally:
            self.stats.latency[name].append(time.perf_counter() - t0)

    # --- people --------------------------------------------------------------------------------
    def arrive_planned(self, task: Task) -> None:
        """A stream does one task at a time: a task due while the last one runs waits for it."""
        if task.stream in self.busy:
            self.streams[task.stream].append(task)
        else:
            self.busy.add(task.stream)
            self.request(task)

    def finish(self, task: Task) -> None:
        """The stream's task is over (done, abandoned or refused): start its next due task."""
        self.busy.discard(task.stream)
        pending = self.streams[task.stream]
        if pending:
            nxt = pending.popleft()
            self.busy.add(nxt.stream)
            self.push(max(self.clock.t, nxt.start), self.request, nxt)

    def request(self, task: Task) -> None:
        req = Req(len(self.stats.requests), task, self.clock.t)
        self.stats.requests.append(req)
        self.restarting.pop(task.tid, None)
        self.decide(req, first=True)

    def decide(self, req: Req, first: bool) -> bool:
        """One ``try_acquire``; True when granted. Queues on the first try, refusals end the request."""
        task = req.task
        try:
            lease = self.timed("try_acquire" if first else "try_acquire (queued)", lambda: self.m.try_acquire(
                task.holder, [Request("npu", task.count)], course=task.course, kernel_id=f"k{req.rid}",
                queued=req.queued_id))
        except LeaseRefused as refused:
            idle = self.idle_of.get(task.holder)
            if "at once" in refused.message and idle is not None and idle in self.lives:
                self.stats.refusals["concurrent (an idle kernel, shut down and retried)"] += 1
                self.release(self.lives[idle], "kernel shut down")
                return self.decide(req, first)
            self.stats.refusals[("device-hours" if "Device-hour quota" in refused.message else "concurrent devices")
                                if isinstance(refused, QuotaExceeded) else type(refused).__name__] += 1
            if req.queued_id is not None:
                self.m.release(req.queued_id, reason=refused.message)
                self.queue.pop(req.rid, None)
            req.outcome, req.reason = "refused", refused.message
            self.finish(task)
            return False
        if lease["state"] == "live":
            self.grant(req, lease)
            return True
        if not first:
            self.stats.out_of_order += 1
        elif req.queued_id is None:
            req.queued_id, req.position = lease["lease"], lease.get("queue_position")
            self.queue[req.rid] = req
            self.push(self.clock.t + task.patience, self.give_up, req, "")
            self.push(self.clock.t + 0.9 * self.ttl, self.keep_queued, req)
        req.queued_id = lease["lease"]
        return False

    def grant(self, req: Req, lease: dict[str, Any]) -> None:
        task, now = req.task, self.clock.t
        devices = [d["id"] for d in lease["devices"]]
        for device in devices:
            if device in self.held:
                self.stats.double_grants += 1
            self.held[device] = lease["lease"]
        self.queue.pop(req.rid, None)
        req.outcome = "queued_granted" if req.queued_id is not None else "granted"
        req.wait = now - req.t
        max_end = self.clock.at(lease["max_end"]) if lease["max_end"] else None
        live = Live(lease["lease"], task, task.count, devices, now, self.clock.at(lease["deadline"]), max_end,
                    activity=now)
        self.lives[live.lid] = live
        self.push(now + 0.9 * self.ttl, self.heartbeat, live)
        if max_end is not None:
            self.push(max_end + EPSILON, self.expire, live)
        if task.dies_after is not None:
            self.push(now + task.remaining * task.dies_after, self.die, live)
        else:
            self.push(now + task.remaining, self.work_done, live)
        if task.second_kernel:
            task.second_kernel = False
            self.push(now + 10 * MINUTE, self.second_kernel, live)

    def give_up(self, req: Req, why: str) -> None:
        """Patience is out (or the week): the queued row is released, as ``acquire`` does when it gives up."""
        if req.rid not in self.queue:
            return
        del self.queue[req.rid]
        assert req.queued_id is not None
        self.timed("release", lambda: self.m.release(req.queued_id or 0, reason="gave up waiting in the queue"))
        req.outcome = "refused"
        req.reason = why or busy_message("npu", self.npus, req.position or 1, waited=req.task.patience)
        self.stats.refusals["gave up waiting" if not why else "queued at the end of the week"] += 1
        task = req.task
        retry = self.clock.t + task.retry_after if task.retry_after is not None else None
        if why or retry is None or retry >= self.end or (task.kind == "hackathon" and retry >= HACK_END):
            self.finish(task)
        else:
            self.push(retry, self.request, task)

    def keep_queued(self, req: Req) -> None:
        if req.rid in self.queue and req.queued_id is not None:
            row = self.timed("renew", lambda: self.m.renew(req.queued_id or 0))
            assert row["state"] == "queued", row  # the engine's heartbeat keeps queued rows alive
            self.push(self.clock.t + 0.9 * self.ttl, self.keep_queued, req)

    # --- kernels -------------------------------------------------------------------------------
    def heartbeat(self, live: Live) -> None:
        if live.lid not in self.lives or not live.alive:
            return
        activity = self.clock.t if live.working else live.activity
        row = self.timed("renew", lambda: self.m.renew(live.lid, activity=self.clock.start + timedelta(
            seconds=activity)))
        if row["state"] != "live":
            self.ended(live, row)
            return
        live.deadline = self.clock.at(row["deadline"])
        self.push(self.clock.t + 0.9 * self.ttl, self.heartbeat, live)

    def work_done(self, live: Live) -> None:
        if live.lid not in self.lives or not live.working:
            return
        self.stop_working(live)
        assert live.task is not None
        if live.task.forget:  # the kernel stays up, idle, heartbeating; the server's sweep notices
            self.idle_of[live.task.holder] = live.lid
            limit = self.m.policy.quota_for(live.task.course).idle_minutes
            if limit is not None:
                self.push(self.clock.t + limit * MINUTE + self.rng.uniform(0, self.sweep_s), self.idle_sweep, live)
        else:
            self.release(live, "kernel shut down")
        self.finish(live.task)

    def stop_working(self, live: Live) -> None:
        live.working, live.activity = False, self.clock.t
        if live.task is not None:
            done = self.clock.t - live.started
            live.task.remaining = max(0.0, live.task.remaining - done)
            self.stats.received[live.task.holder] += done * live.count

    def die(self, live: Live) -> None:
        """The kernel dies without a word: no more heartbeats; the student restarts once it is reclaimed."""
        if live.lid not in self.lives or not live.working:
            return
        self.stop_working(live)
        live.alive = False
        self.push(live.deadline + EPSILON, self.expire, live)
        assert live.task is not None
        live.task.dies_after = None
        self.restarting[live.task.tid] = live.task
        notice = self.clock.t + 5 * MINUTE
        self.push(max(notice, live.deadline + 1.0), self.request, live.task)

    def second_kernel(self, live: Live) -> None:
        if live.lid not in self.lives or not live.working or live.task is None:
            return
        extra = Task(-1, live.task.holder, live.task.course, live.task.kind, self.clock.t, 0.0, live.task.count,
                     0.0, None, False, None, False, f"{live.task.stream}+")
        req = Req(len(self.stats.requests), extra, self.clock.t)
        self.stats.requests.append(req)
        self.decide(req, first=True)  # granted (no limit): no work, shut down at once; queued: no patience

    def expire(self, live: Live) -> None:
        """A deadline passed (heartbeat stopped, or the session-length limit): the sweep reclaims it."""
        if live.lid not in self.lives:
            return
        for row in self.timed("sweep (deadlines)", self.m.sweep):
            if row["lease"] in self.lives:
                self.ended(self.lives[row["lease"]], row)
        if live.lid in self.lives:  # reclaimed inside another transaction since
            row = self.m.get(live.lid)
            if row["state"] == "live":
                self.push(self.clock.at(row["deadline"]) + EPSILON, self.expire, live)
            else:
                self.ended(live, row)

    def idle_sweep(self, live: Live) -> None:
        """The holder's server's first sweep tick after the idle limit: in a center it renews the lease
        with the kernel's activity at the service, which sweeps that lease (``RenewHandler``)."""
        if live.lid not in self.lives or live.working or not live.alive:
            return
        moment = self.clock.start + timedelta(seconds=live.activity)
        self.timed("renew", lambda: self.m.renew(live.lid, activity=moment))
        for row in self.timed("sweep (one lease, with activity)", lambda: self.m.sweep({live.lid: moment})):
            if row["lease"] in self.lives:
                self.ended(self.lives[row["lease"]], row)

    def release(self, live: Live, reason: str) -> None:
        row = self.timed("release", lambda: self.m.release(live.lid, reason=reason))
        self.ended(live, row)

    def ended(self, live: Live, row: dict[str, Any]) -> None:
        """The store ended the lease (released or reclaimed): free the mirror, restart cut-off work."""
        assert row["state"] in ("ended", "reclaimed"), row
        if row["state"] == "reclaimed":
            reason = row["reason"]
            kind = "idle" if "without running a cell" in reason else "length" if "maximum session" in reason \
                else "heartbeat"
            self.stats.reclaims[kind] += 1
        self.lives.pop(live.lid, None)
        for device in live.devices:
            if self.held.get(device) == live.lid:
                del self.held[device]
        task = live.task
        if task is not None and self.idle_of.get(task.holder) == live.lid:
            del self.idle_of[task.holder]
        if live.working and task is not None:  # the session-length limit cut the work: start again
            self.stop_working(live)
            if task.remaining > MINUTE:
                self.push(self.clock.t, self.request, task)
            else:
                self.finish(task)
        if self.queue and not self.poll_pending:
            self.poll_pending = True
            self.push(self.clock.t + 1.0, self.poll)

    # --- the queue -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Queued holders try again, in the store's fair-share order, while devices are free."""
        self.poll_pending = False
        free = self.npus - len(self.held)
        if not self.queue or free <= 0:
            return
        now = self.clock()
        with self.m.store.session() as s:
            usage = self.m.decayed_usage(s, {r.task.holder for r in self.queue.values()}, now)
        order = sorted(self.queue.values(), key=lambda r: (usage.get(r.task.holder, 0.0), r.t, r.rid))
        for req in order:
            if req.task.count > free:
                break  # the head waits for enough devices; nobody behind it may pass (strict order)
            if self.decide(req, first=False):
                free -= req.task.count

    # --- observation ---------------------------------------------------------------------------
    def sample(self) -> None:
        useful = sum(lv.count for lv in self.lives.values() if lv.working)
        queued = sum(r.task.count for r in self.queue.values())
        waiting = sum(t.count for t in self.restarting.values())
        self.stats.samples.append((self.clock.t, useful + queued + waiting, len(self.held), useful, queued))
        if self.progress is not None and len(self.stats.samples) % 36 == 1:  # every 3 simulated hours
            spent = {k: f"{sum(v):.0f} s/{len(v)}" for k, v in self.stats.latency.items()}
            print(f"  [{self.clock():%a %H:%M}] {time.perf_counter() - self.progress:.0f} s wall, {len(self.held)} "
                  f"held, {len(self.queue)} queued; time/calls {spent}", file=sys.stderr, flush=True)
        if self.check:
            self.verify()

    def verify(self) -> None:
        """The mirror is the store's truth: same holder of every device, none in two live leases."""
        held = {ident: lease for (_, ident), lease in self.m.held().items()}
        assert held == self.held, (self.clock.t, set(held.items()) ^ set(self.held.items()))
        owners: dict[str, int] = {}
        for lease in self.m.list_leases():
            for device in lease["devices"] if lease["state"] == "live" else []:
                if owners.setdefault(device["id"], lease["lease"]) != lease["lease"]:
                    self.stats.double_grants += 1
        self.stats.checks += 1
