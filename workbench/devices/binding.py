"""Inside the kernel: which device this kernel holds, for how long, and binding a framework to it.

The provisioner put the lease id and the visible device ids in the environment; frameworks see
the leased devices re-indexed from 0, so binding is always "device 0 of the leased kind".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from typing import Any

from workbench.errors import WorkbenchError

MINDSPORE_TARGETS = {"npu": "Ascend", "gpu": "GPU", "cpu": "CPU"}


@dataclass
class DeviceSession:
    """What ``workbench.session()`` returns: the lease as this kernel sees it."""

    lease: int | None
    kind: str
    devices: list[str]

    def info(self) -> dict[str, Any]:
        """Live state from the store: state, time left, reason (e.g. idle reclaim) and the holder's quota."""
        from workbench.config import load_settings
        from workbench.devices import inventory
        from workbench.devices.leases import LeaseManager
        from workbench.devices.policy import Policy
        from workbench.devices.provisioner import holder_name
        from workbench.devices.quota import quota_status
        from workbench.store import open_store
        from workbench.store.models import utcnow

        settings = load_settings()
        store = open_store(settings.effective_db_url)
        path = settings.effective_inventory
        rules = Policy.from_file_data(inventory.load_file(path), path or "inventory")
        now = utcnow()
        if self.lease is None:
            return {"lease": None, "kind": self.kind, "devices": self.devices, "state": "none",
                    "time_left_s": None, "session_left_s": None, "reason": None,
                    "quota": quota_status(store, rules, holder_name(), None, now)}
        row = LeaseManager(store, [], rules).get(self.lease)
        live = row["state"] == "live"
        left = (row["deadline"] - now).total_seconds() if live else 0.0
        session_left = max(0.0, (row["max_end"] - now).total_seconds()) if live and row["max_end"] else None
        return {"lease": self.lease, "kind": self.kind, "devices": self.devices, "state": row["state"],
                "deadline": row["deadline"], "time_left_s": max(0.0, left), "max_end": row["max_end"],
                "session_left_s": session_left if live else 0.0, "reason": row["reason"],
                "quota": quota_status(store, rules, row["holder"], row["course"], now)}

    def _repr_html_(self) -> str:
        """How ``workbench.session()`` shows itself as a cell's result: device, time left, quota."""
        return describe_html(self.info())

    def use(self, framework: str) -> Any:
        """Bind ``framework`` to the leased device: ``torch`` returns a ``torch.device``."""
        if framework == "torch":
            import torch

            if self.kind == "gpu" and torch.cuda.is_available():
                return torch.device("cuda", 0)
            if self.kind == "npu" and hasattr(torch, "npu"):  # torch_npu registers it
                return torch.device("npu", 0)
            return torch.device("cpu")
        if framework == "mindspore":
            import mindspore

            target = MINDSPORE_TARGETS[self.kind]
            mindspore.set_device(target, 0)  # the MindSpore 2.5+ API; the lease re-indexed from 0
            return target
        raise WorkbenchError(f"unknown framework {framework!r}; use 'torch' or 'mindspore'")

    def __repr__(self) -> str:
        where = ", ".join(f"{self.kind}:{d}" for d in self.devices) or self.kind
        return f"<workbench session: lease {self.lease}, {where}>"


def current_session() -> DeviceSession:
    """The session described by the environment the provisioner set (CPU, no lease, when absent)."""
    lease = os.environ.get("WORKBENCH_LEASE")
    kind = os.environ.get("WORKBENCH_DEVICE_KIND", "cpu")
    variable = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "gpu": "CUDA_VISIBLE_DEVICES"}.get(kind)
    ids = os.environ.get(variable, "") if variable else ""
    return DeviceSession(int(lease) if lease else None, kind, [i for i in ids.split(",") if i])


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min {int(seconds % 60)} s"


def describe_html(info: dict[str, Any]) -> str:
    """One small HTML block: what this kernel runs on, how long it may, and how much quota is left."""
    kind = info["kind"].upper()
    device = f"{kind} {', '.join(info['devices'])}".strip() if info["devices"] else kind
    head = f"<b>{escape(device)}</b>" + (f" · lease {info['lease']} · {escape(info['state'])}" if info["lease"]
                                         else " · no device lease (plain kernel)")
    lines = [head]
    if info["state"] in ("reclaimed", "ended") and info.get("reason"):
        lines.append(f"<span style='color:#b00'>{escape(info['reason'])}</span>")
    elif info["lease"]:
        left = info.get("session_left_s")
        lines.append(f"Session: {_span(left)} left" if left is not None else "Session: no length limit")
    quota = info["quota"]
    if quota["limit_hours"] is not None:
        this = {"day": "today", "week": "this week", "month": "this month", "total": "in total"}[quota["period"]]
        resets = f" · resets {quota['resets']:%a %Y-%m-%d %H:%M} UTC" if quota["resets"] else ""
        lines.append(f"Quota: {quota['used_hours']:.2f} of {quota['limit_hours']:g} "
                     f"{'/'.join(k.upper() for k in quota['metered'])} hours used {this}{resets}")
    else:
        lines.append(f"Quota: {quota['used_hours']:.2f} device-hours used, no limit")
    if quota.get("idle_minutes"):
        lines.append(f"Idle kernels are released after {quota['idle_minutes']:g} min")
    return "<div class='workbench-session'>" + "<br>".join(lines) + "</div>"
