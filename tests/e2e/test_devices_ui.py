"""Device sessions in the UI: the status-bar item of a leased kernel and the instructor's
Devices panel (leases, inventory, usage, release)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, json_reply, open_courses_panel

pytestmark = pytest.mark.e2e

SESSIONS_API = re.compile(r".*/workbench/api/v1/sessions(\?.*)?$")
KERNEL_DEVICE_API = re.compile(r".*/workbench/api/v1/kernels/[^/]+/device(\?.*)?$")

# A notebook whose kernelspec selects the workbench provisioner, so its kernel holds a CPU lease.
LEASED_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": "print('on a leased CPU slot')",
        }
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3 (CPU)", "language": "python", "name": "workbench-cpu"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_status_bar_and_devices_panel(lab_page: Page, lab_server: Any, workbench_cli: Any, artifacts_dir: Path) -> None:
    page = lab_page
    (lab_server.root_dir / "leased.ipynb").write_text(json.dumps(LEASED_NOTEBOOK))
    alice = json.loads(workbench_cli("sessions", "acquire", "--holder", "alice", "--request", "cpu:1", "--json"))

    page.goto(lab_server.url("lab/tree/leased.ipynb", reset=""))
    expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=APP_TIMEOUT_MS)

    # 1. The status bar names the leased slot and the session time left (policy: 2 h sessions).
    status = page.locator(".jp-WorkbenchDeviceStatus")
    expect(status).to_have_text(re.compile(r"^CPU \d+ · (2 h 0|1 h 5\d) min left$"), timeout=APP_TIMEOUT_MS)
    expect(status).to_have_attribute("data-state", "live")
    status_bar = page.locator("#jp-main-statusbar")
    expect(status_bar).to_contain_text("| Idle", timeout=APP_TIMEOUT_MS)
    status_bar.screenshot(path=str(artifacts_dir / "status-bar.png"))

    # 2. The Devices panel (instructor) lists alice's lease and the kernel's own.
    open_courses_panel(page)
    page.locator(".jp-WorkbenchCourses-action", has_text="Devices").click()
    panel = page.locator("#aicc-workbench-devices")
    expect(panel).to_be_visible()
    row = panel.locator(f'.jp-WorkbenchDevices-lease[data-lease="{alice["lease"]}"]')
    expect(row).to_contain_text("alice", timeout=APP_TIMEOUT_MS)
    expect(row).to_contain_text(f"CPU {alice['devices'][0]['id']}")
    expect(row).to_contain_text("live")
    expect(panel.locator(".jp-WorkbenchDevices-lease")).to_have_count(2)
    expect(panel.locator(".jp-WorkbenchDevices-inventory tbody tr")).to_have_count(4)
    expect(panel.locator('.jp-WorkbenchDevices-usage tr[data-holder="alice"]')).to_be_visible()
    expect(panel.locator(".jp-WorkbenchPanel-error")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "devices-panel.png"))

    # Release alice's lease: confirmed in a dialog, gone from the table and from the store.
    row.locator(".jp-WorkbenchDevices-release").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(row).to_have_count(0)
    expect(panel).to_contain_text(f"Lease #{alice['lease']} of alice released.")
    listed = json.loads(workbench_cli("sessions", "list", "--json"))
    open_leases = listed["sessions"] if isinstance(listed, dict) else listed
    assert alice["lease"] not in [x["lease"] for x in open_leases]

    # A failing endpoint is explained in the panel; what did load stays shown.
    message = "the store at sqlite:///x.db is unreachable; check WORKBENCH_DB_URL"
    page.route(SESSIONS_API, json_reply({"error": message}, status=500))
    panel.locator(".jp-WorkbenchPanel-refresh").click()
    expect(panel.locator(".jp-WorkbenchPanel-error")).to_have_text(f"Leases: {message}")
    expect(panel.locator(".jp-WorkbenchDevices-inventory")).to_be_visible()
    page.unroute(SESSIONS_API)

    # 3. A reclaimed lease shows as such, with the reason in the tooltip.
    reason = "no heartbeat for 60 s: the kernel died or lost its connection"
    reclaimed = {
        "kernel_id": "k",
        "device": "NPU 0",
        "lease": 7,
        "state": "reclaimed",
        "reason": reason,
        "time_left_s": 0.0,
        "queue_position": None,
    }
    page.route(KERNEL_DEVICE_API, json_reply(reclaimed))
    status.click()
    expect(status).to_have_text("NPU 0 · reclaimed")
    expect(status).to_have_attribute("title", re.compile(re.escape(reason)))
    page.unroute(KERNEL_DEVICE_API)
    queued = {
        "kernel_id": "k",
        "device": "NPU",
        "lease": 8,
        "state": "queued",
        "reason": None,
        "time_left_s": 0.0,
        "queue_position": 3,
    }
    page.route(KERNEL_DEVICE_API, json_reply(queued))
    status.click()
    expect(status).to_have_text("NPU · queued #3")
