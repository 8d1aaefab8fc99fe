"""Notebook submissions of an NPU event run on one NPU leased as the team (#13), attacked as a team would.

The machine is made here, as in ``tests/integration/devices/test_device_isolation.py``: character
devices (``mknod``, the numbers of /dev/zero, so open and read work) stand in for /dev/davinci0..1 and
an Ascend control node, and the inventory points at them. The event's team quota is one NPU. Each
submission goes through ``workbench event submit`` (which scores in its own process, as the server's
scorer does); a notebook reports what it saw by failing with it, since the failure's sentence is what
the CLI shows. Root is needed for mknod.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook, writes

from tests.fixtures.jupyter_server import Server
from tests.integration.hackathon.tiny_event import Spec, write
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy
from workbench.devices.team_holders import team_holder
from workbench.hackathon import catalog, scoring_runs, teams
from workbench.hackathon.run_device import RELEASED, run_id
from workbench.store import Store

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="making device files (mknod) needs root"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]
NPU_FILES = ["davinci0", "davinci1", "davinci_manager"]
PREDICT = textwrap.dedent("""
    ids = [line.split(",")[0] for line in open("hidden/inputs.csv").read().splitlines()[1:]]
    open("predictions.csv", "w").write("id,label\\n" + "".join(f"{i},0\\n" for i in ids))
""")


@dataclass
class Machine:
    dev: Path  # stands in for /dev: two NPUs and a control node
    inventory: Path
    db_url: str
    tmp: Path

    def manager(self) -> LeaseManager:
        return LeaseManager.from_settings(Store(self.db_url), str(self.inventory))

    def run_lease(self, submission: int) -> dict[str, Any]:
        [lease] = [x for x in self.manager().list_leases(all=True) if x["kernel_id"] == run_id(submission)]
        return lease

    def submit(self, *cells: str, user: str = "ann") -> dict[str, Any]:
        path = self.tmp / "team.ipynb"
        path.write_text(writes(new_notebook(cells=[new_code_cell(textwrap.dedent(c)) for c in cells])))
        done = cli("submit", "tiny", str(path), "--kind", "notebook", "--user", user, "--json")
        assert done.stdout, done.stderr
        return dict(json.loads(done.stdout))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "event", *args], capture_output=True, text=True)


def seen(sub: dict[str, Any]) -> dict[str, Any]:
    """What a notebook reported by failing with ``RuntimeError('SEEN ' + json)``."""
    assert sub["status"] == "failed" and "RuntimeError: SEEN " in sub["reason"], sub
    return dict(json.loads(sub["reason"].split("RuntimeError: SEEN ", 1)[1]))


def report(expression: str) -> str:
    return f"import json\nraise RuntimeError('SEEN ' + json.dumps({expression}))"


@pytest.fixture
def url(request: pytest.FixtureRequest, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store: SQLite, or PostgreSQL for a test parametrized with ``url`` ``postgresql`` (indirect)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return db_url
    found = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("WORKBENCH_DB_URL", found)
    return found


@pytest.fixture
def machine(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Machine:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in NPU_FILES:
        os.mknod(dev / name, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    try:
        (dev / "davinci0").open("rb").close()
    except OSError as exc:
        pytest.skip(f"device files cannot be opened under {tmp_path} ({exc.strerror}: mounted nodev?)")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("discover: false\ndevices:\n"
                         f"  - {{kind: npu, ids: [0, 1], path: '{dev}/davinci{{id}}', "
                         f"control: ['{dev}/davinci_manager']}}\n  - {{kind: cpu, slots: 2}}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inventory))
    now = datetime.now(timezone.utc)
    root = write(tmp_path / "events", Spec(opens=now - timedelta(hours=1), closes=now + timedelta(days=1),
                                           per_day=1, run_timeout_s=30))
    event = yaml.safe_load((root / "event.yaml").read_text())
    event["quota"] = {"kind": "npu", "devices": 1, "device_hours": 1}
    (root / "event.yaml").write_text(yaml.safe_dump(event, sort_keys=False))
    store = Store(url)
    store.upgrade()
    catalog.register(store, catalog.load(root))
    teams.create(store, catalog.event(store, "tiny"), "ann", "owls", "")
    teams.join(store, catalog.event(store, "tiny"), "amy", "owls")
    return Machine(dev, inventory, url, tmp_path)


def counted(machine: Machine) -> int:
    """The team's submissions that count against its limits (what ``workbench event team list`` shows)."""
    return int(next(t for t in teams.teams(Store(machine.db_url), "tiny") if t["id"] == "owls")["submissions"])


def test_a_run_sees_only_its_leased_npu_and_its_lease_is_the_teams_and_released(machine: Machine) -> None:
    observe = report(f"""{{"dev": sorted(__import__("os").listdir({str(machine.dev)!r})),
        "slash_dev": sorted(n for n in __import__("os").listdir("/dev") if n.startswith(("davinci", "nvidia"))),
        "visible": __import__("os").environ.get("ASCEND_RT_VISIBLE_DEVICES"),
        "ids": __import__("os").environ.get("WORKBENCH_DEVICE_IDS")}}""".replace("\n", " "))
    failed = machine.submit(PREDICT, observe)
    lease = machine.run_lease(failed["id"])
    [leased] = [d["id"] for d in lease["devices"]]
    assert seen(failed) == {"dev": sorted([f"davinci{leased}", "davinci_manager"]), "slash_dev": [],
                            "visible": "0", "ids": leased}
    # the run that failed held a device of the team and gave it back
    assert lease["holder"] == team_holder("tiny", "owls") and lease["kind"] == "npu"
    assert (lease["state"], lease["reason"]) == ("ended", RELEASED)
    scored = machine.submit(PREDICT)  # the failed one did not count: a per-day limit of 1 still has room
    assert scored["status"] == "scored", scored
    lease = machine.run_lease(scored["id"])
    assert (lease["holder"], lease["state"], lease["reason"]) == (team_holder("tiny", "owls"), "ended", RELEASED)
    assert machine.manager().held() == {}
    used = {u["holder"]: u for u in machine.manager().usage()}[team_holder("tiny", "owls")]
    assert used["kind"] == "npu" and used["leases"] == 2 and used["device_seconds"] > 0


ATTACK = """
import errno, json, os, stat
def try_open(path):
    try:
        with open(path, "rb") as f:
            return len(f.read(4))
    except OSError as e:
        return errno.errorcode[e.errno]
os.environ["ASCEND_RT_VISIBLE_DEVICES"] = "1"  # the advisory fence, stepped over
got = {{p: try_open(p) for p in ["{dev}/davinci0", "{dev}/davinci1", "{dev}/davinci_manager",
                                 "/dev/davinci0", "/dev/davinci1"]}}
try:
    os.mknod("forged", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    got["mknod"] = try_open("forged")
except OSError as e:
    got["mknod"] = errno.errorcode[e.errno]
raise RuntimeError("SEEN " + json.dumps(got))
"""


def test_b_a_notebook_that_names_another_npu_cannot_open_it(machine: Machine) -> None:
    sub = machine.submit(ATTACK.format(dev=machine.dev))
    [leased] = [d["id"] for d in machine.run_lease(sub["id"])["devices"]]
    other = "1" if leased == "0" else "0"
    got = seen(sub)
    assert got[f"{machine.dev}/davinci{leased}"] == 4 and got[f"{machine.dev}/davinci_manager"] == 4
    assert got[f"{machine.dev}/davinci{other}"] == "ENOENT"
    assert got["/dev/davinci0"] == got["/dev/davinci1"] == "ENOENT"
    assert got["mknod"] == "EPERM"  # no capabilities inside: a forged node cannot be made
    assert machine.manager().held() == {}


def test_b_a_run_opens_device_files_of_the_driver_s_group(machine: Machine) -> None:
    """As Ascend's driver installs them: 0660, of a group (``HwHiAiUser``) the sandbox's uid is not in.
    The run's uid joins that group and no other, and opens its NPU and the control node."""
    group = 4711  # a gid of no account, as HwHiAiUser's is of none of ours
    for name in NPU_FILES:
        os.chown(machine.dev / name, 0, group)
        os.chmod(machine.dev / name, 0o660)
    sub = machine.submit(f"""
        import json, os
        def opened(path):
            os.close(os.open(path, os.O_RDWR))
            return "opened"
        npu = {str(machine.dev)!r} + "/davinci" + os.environ["WORKBENCH_DEVICE_IDS"]
        control = {str(machine.dev / "davinci_manager")!r}
        raise RuntimeError("SEEN " + json.dumps({{"groups": os.getgroups(), "npu": opened(npu),
                                                  "control": opened(control)}}))
    """)
    assert seen(sub) == {"groups": [group], "npu": "opened", "control": "opened"}


def test_c_a_full_team_quota_fails_the_run_with_a_sentence_and_counts_nothing(machine: Machine) -> None:
    manager = machine.manager()
    kernel = manager.acquire("amy", [Request("npu")], course="event:tiny")  # as amy's event kernel does
    assert kernel["holder"] == team_holder("tiny", "owls")
    busy = machine.submit(PREDICT)
    assert busy["status"] == "failed", busy
    assert "none could be leased" in busy["reason"] and "Limit of 1 device(s) at once" in busy["reason"]
    assert "does not count against your limits" in busy["reason"]
    assert [x for x in manager.list_leases(all=True) if x["kernel_id"] == run_id(busy["id"])] == []
    manager.release(kernel["lease"])
    # two hours used by the team's earlier kernel (the lease code's own clock, set back) > its 1 device-hour
    now = datetime.now(timezone.utc)
    moment = [now - timedelta(hours=3)]
    past = LeaseManager(Store(machine.db_url), manager.devices, Policy(), clock=lambda: moment[0])
    old = past.acquire("amy", [Request("npu")], course="event:tiny", ttl=4 * 3600)
    moment[0] = now - timedelta(hours=1)
    past.release(old["lease"])
    spent = machine.submit(PREDICT)
    assert spent["status"] == "failed" and "Device-hour quota used up" in spent["reason"], spent
    assert "does not count against your limits" in spent["reason"]
    assert counted(machine) == 0 and manager.held() == {}


def test_d_a_killed_scorer_s_lease_is_reclaimed_by_its_deadline(machine: Machine) -> None:
    inventory = yaml.safe_load(machine.inventory.read_text())
    machine.inventory.write_text(yaml.safe_dump({**inventory, "policy": {"heartbeat_s": 3}}))
    path = machine.tmp / "slow.ipynb"
    path.write_text(writes(new_notebook(cells=[new_code_cell("import time\ntime.sleep(60)")])))
    scorer = subprocess.Popen([sys.executable, "-m", "workbench.cli", "event", "submit", "tiny", str(path),
                               "--kind", "notebook", "--user", "ann"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    manager = machine.manager()
    deadline = time.monotonic() + 60
    while not [x for x in manager.list_leases() if (x["kernel_id"] or "").startswith("event-run:")]:
        assert time.monotonic() < deadline and scorer.poll() is None, "the run never leased its NPU"
        time.sleep(0.2)
    time.sleep(4)  # past the lease's first deadline: only the run's heartbeat keeps it live
    [live] = [x for x in manager.list_leases() if (x["kernel_id"] or "").startswith("event-run:")]
    assert live["state"] == "live"
    os.killpg(scorer.pid, signal.SIGKILL)
    scorer.wait()
    time.sleep(3.5)  # one heartbeat_s without renewal
    rows = {x["lease"]: x for x in manager.list_leases(all=True)}  # any lease transaction reclaims first
    assert rows[live["lease"]]["state"] == "reclaimed" and manager.held() == {}


@pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)
def test_e_the_server_s_scorer_runs_a_rest_submission_on_the_team_s_npu(
        machine: Machine, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ann's server (REST): its event scorer leases from the inventory it was configured with."""
    monkeypatch.setenv("JUPYTERHUB_USER", "ann")
    server = start_server("--Workbench.default_role=student")
    observe = report(f"{{'dev': sorted(__import__('os').listdir({str(machine.dev)!r}))}}")
    content = writes(new_notebook(cells=[new_code_cell(PREDICT), new_code_cell(observe)])).encode()
    status, sub = server.request("POST", "events/tiny/submissions",
                                 {"kind": "notebook", "content_base64": base64.b64encode(content).decode()})
    assert status == 202, sub  # accepted, queued for the server's scorer
    deadline = time.monotonic() + 90
    while (found := next(x for x in server.request("GET", "events/tiny/submissions")[1]["submissions"]
                         if x["id"] == sub["id"]))["status"] not in ("scored", "failed"):
        assert time.monotonic() < deadline, f"not scored in 90 s: {found}"
        time.sleep(0.2)
    lease = machine.run_lease(sub["id"])
    [leased] = [d["id"] for d in lease["devices"]]
    assert seen(found) == {"dev": sorted([f"davinci{leased}", "davinci_manager"])}
    assert (lease["holder"], lease["state"], lease["reason"]) == (team_holder("tiny", "owls"), "ended", RELEASED)


def test_f_a_run_re_queued_after_its_scorer_was_killed_releases_its_earlier_lease(machine: Machine) -> None:
    """With a quota of one NPU, the dead attempt's lease (live until its deadline, 60 s) would refuse the
    re-run; the re-run releases it first, saying why, and is scored."""
    path = machine.tmp / "slow.ipynb"
    path.write_text(writes(new_notebook(cells=[new_code_cell("import time\ntime.sleep(3)"), new_code_cell(PREDICT)])))
    scorer = subprocess.Popen([sys.executable, "-m", "workbench.cli", "event", "submit", "tiny", str(path),
                               "--kind", "notebook", "--user", "ann"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    manager = machine.manager()
    deadline = time.monotonic() + 60
    while not (live := [x for x in manager.list_leases() if (x["kernel_id"] or "").startswith("event-run:")]):
        assert time.monotonic() < deadline and scorer.poll() is None, "the run never leased its NPU"
        time.sleep(0.1)
    os.killpg(scorer.pid, signal.SIGKILL)
    scorer.wait()
    assert scoring_runs.resume(Store(machine.db_url)) == (1, 0)  # what the next server start does
    again = json.loads(cli("score", "tiny", "--json").stdout)["scored"]
    assert [s["status"] for s in again] == ["scored"], again
    first = manager.get(live[0]["lease"])
    assert (first["state"], first["reason"]) == ("ended", "the scorer of this run was restarted")
    assert manager.held() == {}
