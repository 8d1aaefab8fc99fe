"""Inside a real kernel: ``workbench.session()`` reports quota, renders as HTML, and the widget refreshes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from sqlalchemy import update

from tests.integration.devices.test_provisioner import registered  # noqa: F401 - fixture
from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import Policy, Quota
from workbench.store import Store
from workbench.store.leases_models import Lease
from workbench.store.models import utcnow

pytestmark = pytest.mark.integration


def outputs(km: KernelManager, code: str) -> list[dict[str, Any]]:
    """Every IOPub output of one cell (streams, results, displays), failing on an error."""
    client = km.client()
    client.start_channels()
    seen: list[dict[str, Any]] = []
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(code, timeout=60, output_hook=lambda m: seen.append(
            {"type": m["msg_type"], **m["content"]}) if m["msg_type"] in (
            "stream", "execute_result", "display_data", "error") else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        return seen
    finally:
        client.stop_channels()


def test_session_reports_quota_html_and_a_refreshing_widget(
        registered: str, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "inventory.yaml").write_text(
        "discover: false\ndevices:\n  - {kind: npu, ids: [0, 1, 2]}\n  - {kind: cpu, slots: 2}\n"
        "policy:\n  default: {device_hours: 5, period: week, max_session_hours: 2, idle_minutes: 30}\n")
    manager = LeaseManager(Store(db_url), [Device("npu", str(i)) for i in range(3)],
                           Policy(default=Quota(device_hours=5)))
    earlier = manager.acquire("alice", [Request("npu", 1)])  # half an hour of NPU use this week
    with manager.store.session() as s:
        s.execute(update(Lease).where(Lease.id == earlier["lease"]).values(started=utcnow() - timedelta(minutes=30)))
    manager.release(earlier["lease"])

    km = KernelManager(kernel_name=registered)
    km.start_kernel()
    try:
        lease = km.provisioner.lease["lease"]
        printed = outputs(km, "import workbench; s = workbench.session(); q = s.info()['quota']\n"
                              "print(round(q['used_hours'], 2), q['limit_hours'], q['period'], q['resets'].weekday())")
        assert printed[0]["text"].split() == ["0.5", "5", "week", "0"]  # resets on Monday 00:00 UTC

        html = outputs(km, "s")[0]["data"]["text/html"]
        assert "<b>NPU 0</b> · lease" in html and "live" in html
        assert "Session: 1 h 59 min left" in html
        assert "Quota: 0.50 of 5 NPU/GPU hours used this week · resets Mon" in html
        assert "Idle kernels are released after 30 min" in html

        shown = outputs(km, "from workbench.widgets.session import SessionStatus\n"
                            "w = SessionStatus(refresh_s=0.2); display(w); print(w.value == s._repr_html_())")
        assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
        assert shown[1]["text"].strip() == "True"

        manager.release(lease, reason="released by an instructor")  # the widget notices without help
        after = outputs(km, "import time; time.sleep(1.5); print(w.value)")[0]["text"]
        assert "lease" in after and "ended" in after and "released by an instructor" in after
    finally:
        km.shutdown_kernel(now=True)
