"""Team sessions (#13, item 4) through real servers and real kernels: a member's event kernel (the
kernel spec written when the starter is opened) leases with the team as holder, so the team's quota of
concurrent devices binds all its members together, another team keeps its own, a user in no team is
told what to do, the status bar's endpoint names the team and its device-hours left, and the organiser
sees each team's device-hours used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.fixtures.jupyter_server import Server
from tests.integration.hackathon.tiny_event import Spec, write

pytestmark = pytest.mark.integration
KERNEL_SPEC = "workbench-event-tiny"


@pytest.fixture
def event(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny event with a team quota of one CPU slot and 2 device-hours, on an inventory of four
    slots, registered with the CLI; the provisioner's entry point as an installed wheel declares it."""
    now = datetime.now(timezone.utc)
    root = write(tmp_path / "events", Spec(opens=now - timedelta(hours=1), closes=now + timedelta(days=1)))
    spec = yaml.safe_load((root / "event.yaml").read_text())
    spec["quota"] = {"kind": "cpu", "devices": 1, "device_hours": 2}
    (root / "event.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("discover: false\ndevices:\n  - {kind: cpu, slots: 4}\n")
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inventory))
    site = tmp_path / "site" / "aicc_workbench_test-0.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-test\nVersion: 0.0\n")
    (site / "entry_points.txt").write_text(
        "[jupyter_client.kernel_provisioners]\n"
        "workbench-provisioner = workbench.devices.provisioner:WorkbenchProvisioner\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site.parent), str(REPO)]))
    subprocess.run([sys.executable, "-m", "workbench.cli", "db", "upgrade"], check=True, capture_output=True)
    made = subprocess.run([sys.executable, "-m", "workbench.cli", "event", "create", str(root)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return root


def server_of(start: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, user: str) -> Server:
    """``user``'s personal server on the shared store: a participant, or (olga) an organiser of the events."""
    monkeypatch.setenv("JUPYTERHUB_USER", user)
    return start(f"--Workbench.default_role={'instructor' if user == 'olga' else 'student'}")


def start_kernel(server: Server) -> tuple[int, Any]:
    req = urllib.request.Request(f"{server.url}/api/kernels", data=json.dumps({"name": KERNEL_SPEC}).encode(),
                                 method="POST")
    req.add_header("Authorization", f"token {server.token}")
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def test_an_event_kernel_leases_as_the_team_under_the_team_quota(
        event: Path, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    ann = server_of(start_server, monkeypatch, "ann")
    assert ann.request("POST", "events/tiny/teams", {"id": "owls"})[0] == 201
    status, opened = ann.request("POST", "events/tiny/open", {})
    assert status == 201 and opened["path"] == "events/tiny/starter.ipynb"
    starter = json.loads((ann.root / opened["path"]).read_text())
    assert starter["metadata"]["kernelspec"]["name"] == KERNEL_SPEC
    assert starter["metadata"]["workbench"] == {"event": "tiny"}
    written = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / KERNEL_SPEC / "kernel.json"
    assert json.loads(written.read_text())["metadata"]["kernel_provisioner"]["config"]["course"] == "event:tiny"
    assert not (ann.root / "events" / "tiny" / "hidden" / "labels.csv").exists()

    status, kernel = start_kernel(ann)
    assert status == 201, kernel
    status, device = ann.request("GET", f"kernels/{kernel['id']}/device")
    assert status == 200 and device["team"] == "owls" and 1.99 < device["team_hours_left"] <= 2
    leases = ann.request("GET", "sessions")[1]["sessions"]
    assert [(x["holder"], x["course"], x["state"]) for x in leases] == [("team:tiny:owls", "event:tiny", "live")]

    # A teammate's kernel counts against the same one-device team quota, from his own server.
    bob = server_of(start_server, monkeypatch, "bob")
    assert bob.request("POST", "events/tiny/teams/owls/join", {})[0] == 200
    assert bob.request("POST", "events/tiny/open", {})[0] == 201
    status, refused = start_kernel(bob)
    assert status >= 400 and "team:tiny:owls" in str(refused) and "1 device" in str(refused), refused
    assert bob.request("GET", f"sessions/{leases[0]['lease']}")[0] == 200  # his team's lease is his to see

    # Another team has its own quota; a user in no team is told how to get one.
    dee = server_of(start_server, monkeypatch, "dee")
    assert dee.request("POST", "events/tiny/teams", {"id": "hawks"})[0] == 201
    assert dee.request("POST", "events/tiny/open", {})[0] == 201
    status, other = start_kernel(dee)
    assert status == 201, other
    assert dee.request("GET", f"sessions/{leases[0]['lease']}")[0] == 403  # not her team's
    assert "device_hours" not in dee.request("GET", "events/tiny/teams")[1]["teams"][0]  # the organisers' to see
    organiser = server_of(start_server, monkeypatch, "olga")
    hours = {t["id"]: t["device_hours"] for t in organiser.request("GET", "events/tiny/teams")[1]["teams"]}
    assert hours.keys() == {"owls", "hawks"} and all(0 < h["used"] < 0.1 and h["limit"] == 2 for h in hours.values())
    cy = server_of(start_server, monkeypatch, "cy")
    assert cy.request("POST", "events/tiny/open", {})[0] == 201
    status, refused = start_kernel(cy)
    assert status >= 400 and "'cy' is in no team of event 'tiny'" in str(refused), refused
