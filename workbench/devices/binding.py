"""Inside the kernel: which device this kernel holds, for how long, and binding a framework to it.

The provisioner put the lease id and the visible device ids in the environment; frameworks see
the leased devices re-indexed from 0, so binding is always "device 0 of the leased kind".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
        """Live state from the store: state, deadline, time left, reason (e.g. idle reclaim)."""
        if self.lease is None:
            return {"lease": None, "kind": self.kind, "state": "none", "time_left_s": None}
        from workbench.config import load_settings
        from workbench.devices.leases import LeaseManager
        from workbench.store import open_store
        from workbench.store.models import utcnow

        settings = load_settings()
        manager = LeaseManager(open_store(settings.effective_db_url), [])
        row = manager.get(self.lease)
        left = (row["deadline"] - utcnow()).total_seconds() if row["state"] == "live" else 0.0
        return {"lease": self.lease, "kind": self.kind, "devices": self.devices, "state": row["state"],
                "deadline": row["deadline"], "time_left_s": max(0.0, left), "reason": row["reason"]}

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
