"""A notebook submission runs on its team's device class: one device of the event's quota kind, leased
as the team for the run, shown to the sandbox alone, released when the run ends.

Why a lease, and why the team's: the organiser promised each team ``quota.devices`` devices of
``quota.kind`` and ``quota.device_hours`` in all. A scoring run that used an NPU without a lease row
would run on a device another team's kernel holds, and its hours would count nowhere. So the run asks
the lease code the same way a member's event kernel does: as a member of the team (the submitter, or
another member if they left) under course ``event:<id>``, which the lease decision turns into holder
``team:<event>:<team>`` under the event's team quota (``devices/team_holders.py``). The run's hours are
then the team's, and a member's kernel and a run share the team's concurrent devices.

When no device can be had — the team's quota is full (a member's kernel holds the team's only device,
or its device-hours are used up) or every device of the kind is held — the run fails at once with a
sentence saying which, and a failed submission never counts against the team's limits
(``submissions.py``). It does not wait: the server scores one submission at a time for every event,
and a member's kernel may hold the quota for hours.

Crash safety is the lease's own: a heartbeat thread renews the lease every third of the policy's
``heartbeat_s`` while the run lasts, and for at most ``hold_s`` (the scoring time limit), so a scorer
killed outright stops renewing and the lease is reclaimed by its deadline at the next lease
transaction or sweep (``devices/leases.py``); a run the server's scorer left behind as hung stops
being renewed at its time limit. The sandbox dies with its scorer (bwrap's ``--die-with-parent``).
A submission re-queued after its scorer was killed (``scoring_runs.resume``) first releases the lease
of its earlier attempt, which would otherwise hold the team's quota until its deadline.

Inside the sandbox (``grading/sandbox.py``, ``SandboxSpec.devices``/``env``) the run finds only the
leased device's file and its driver's control nodes, at their host paths, the visibility variable
counting the leased device from 0 as the runtime does in an isolated kernel (``devices/isolation.py``),
and ``WORKBENCH_DEVICE_KIND``/``WORKBENCH_DEVICE_IDS`` for ``workbench.session().use(...)``
(``devices/binding.py``). A leased device whose file does not exist (an inventory of stand-in devices)
is not bound and the visibility variable is not set, as for kernels; the lease still counts. An event
whose quota kind is cpu runs as before, on the grader's CPU without a lease.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from workbench.devices import isolation, policy
from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import DevicesBusy, LeaseRefused
from workbench.devices.team_holders import EVENT_PREFIX, team_holder
from workbench.errors import NotebookRunError, WorkbenchError
from workbench.hackathon.model import Event
from workbench.store import Store
from workbench.store.events_models import TeamMember

RELEASED = "the notebook run ended"
NOT_COUNTED = "this submission does not count against your limits"
log = logging.getLogger("workbench.hackathon.run_device")


@dataclass(frozen=True)
class RunDevice:
    """The device a run holds: its lease, and what the sandbox gets of it."""

    lease: int
    kind: str
    ids: tuple[str, ...]
    nodes: tuple[str, ...]  # host paths of the device file and control nodes that exist
    env: dict[str, str] = field(default_factory=dict)


def run_id(submission: int) -> str:
    """The lease's ``kernel_id``: which submission's run holds it (``workbench sessions list`` shows it)."""
    return f"event-run:{submission}"


def _member(store: Store, event_id: str, team: str, submitter: str) -> str:
    """Whom the lease is asked for: the submitter while in the team, else its first member."""
    with store.session() as s:
        members = list(s.scalars(select(TeamMember.user).where(
            TeamMember.event_id == event_id, TeamMember.team_id == team).order_by(TeamMember.id)))
    if submitter in members or not members:
        return submitter  # no members left: the lease decision says so (NoTeam)
    return members[0]


def refusal(kind: str, exc: LeaseRefused) -> str:
    """Why the run could not start, in the team's words, and that it costs nothing."""
    name = policy.KIND_NAMES.get(kind, kind)
    if isinstance(exc, DevicesBusy):
        why = f"every {name} of this workbench is in use by other kernels or runs right now"
    else:
        why = exc.message.rstrip(".")
    return (f"the run needs one {name} of your team's quota and none could be leased: {why}. The notebook "
            f"did not run and {NOT_COUNTED}: submit again when your team's {name} is free (shut down "
            "the team's kernels that hold it) or, if its device-hours are used up, ask the organiser")


def _sandbox_view(lease: dict[str, Any], known: list[Device]) -> RunDevice:
    nodes = isolation.lease_nodes(lease, known)
    files = [path for path, _ in nodes.devices] + list(nodes.control)
    ids = tuple(str(d["id"]) for d in lease["devices"])
    env = {"WORKBENCH_DEVICE_KIND": lease["kind"], "WORKBENCH_DEVICE_IDS": ",".join(ids),
           **isolation.environment(lease, known)}
    return RunDevice(int(lease["lease"]), lease["kind"], ids, tuple(f for f in files if os.path.exists(f)), env)


def _heartbeat(manager: LeaseManager, lease_id: int, stop: threading.Event, hold_s: float) -> None:
    """Renew until stopped, the lease ended, or ``hold_s`` passed (then its deadline reclaims it)."""
    until = time.monotonic() + hold_s
    while not stop.wait(manager.policy.heartbeat_s / 3) and time.monotonic() < until:
        try:
            if manager.renew(lease_id)["state"] != "live":
                return
        except WorkbenchError as exc:  # the store answered with a reason: try again at the next beat
            log.warning("workbench: renewing lease %d of a notebook run failed: %s", lease_id, exc.message)


@contextmanager
def team_device(store: Store, event: Event, team: str, submitter: str, inventory: str, submission: int,
                hold_s: float) -> Iterator[RunDevice | None]:
    """Hold one device of the event's quota kind as ``team`` while the block runs (None: a cpu event).
    Raises NotebookRunError (``refusal``) when none can be leased."""
    kind = event.quota.kind
    if kind not in isolation.VISIBLE:
        yield None
        return
    manager = LeaseManager.from_settings(store, inventory)
    for stale in manager.list_leases(holder=team_holder(event.id, team)):
        if stale["kernel_id"] == run_id(submission):  # an earlier attempt's, its scorer killed: it is dead
            manager.release(int(stale["lease"]), reason="the scorer of this run was restarted")
    try:
        lease = manager.acquire(_member(store, event.id, team, submitter), [Request(kind, 1)],
                                course=f"{EVENT_PREFIX}{event.id}", kernel_id=run_id(submission))
    except LeaseRefused as exc:
        raise NotebookRunError(refusal(kind, exc)) from exc
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(manager, int(lease["lease"]), stop, hold_s),
                            name=f"workbench-run-lease-{lease['lease']}", daemon=True)
    beat.start()
    try:
        yield _sandbox_view(lease, manager.devices)
    finally:
        stop.set()
        beat.join(timeout=10)
        manager.release(int(lease["lease"]), reason=RELEASED)
