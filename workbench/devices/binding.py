"""Inside the kernel: which device this kernel holds, for how long, and binding a framework to it.

The provisioner put the lease id and the leased device ids in the environment; frameworks see
the leased devices re-indexed from 0 (an isolated kernel has no others), so binding is always
"device 0 of the leased kind".
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
        """Live state: state, time left, reason (e.g. idle reclaim) and the holder's quota. Under
        JupyterHub the workbench service answers (the kernel holds no store URL); on a personal
        server the kernel reads the store itself."""
        from workbench.config import load_settings
        from workbench.devices.provisioner import holder_name

        settings = load_settings()
        if settings.effective_service_url:
            from workbench.service.client import ServiceClient

            query = {"kind": self.kind, "devices": ",".join(self.devices)}
            if self.lease is not None:
                query["lease"] = str(self.lease)
            return _dated(ServiceClient(settings.effective_service_url).get_json("me/device-session", query))
        from workbench.devices.session_info import session_info
        from workbench.store import open_store

        return session_info(open_store(settings.effective_db_url), settings.effective_inventory, holder_name(),
                            self.lease, self.kind, self.devices)

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


def _dated(info: dict[str, Any]) -> dict[str, Any]:
    """The service's answer with its moments as datetimes, as the store-backed path returns them."""
    from workbench.service.client import with_moments

    with_moments(info["quota"], ("resets",))
    return with_moments(info, ("deadline", "max_end"))


def current_session() -> DeviceSession:
    """The session described by the environment the provisioner set (CPU, no lease, when absent)."""
    lease = os.environ.get("WORKBENCH_LEASE")
    kind = os.environ.get("WORKBENCH_DEVICE_KIND", "cpu")
    variable = {"npu": "ASCEND_RT_VISIBLE_DEVICES", "gpu": "CUDA_VISIBLE_DEVICES"}.get(kind)
    # the leased ids; an isolated kernel's visibility variable counts its devices from 0 instead
    ids = os.environ.get("WORKBENCH_DEVICE_IDS") or (os.environ.get(variable, "") if variable else "")
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
