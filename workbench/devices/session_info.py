"""What ``workbench.session().info()`` reports: a lease's live state and its holder's quota.

Computed where the store is: by the kernel itself on a personal server, and by the workbench
service (``GET me/device-session``) under JupyterHub, where a kernel never sees a store URL.
"""

from __future__ import annotations

from typing import Any

from workbench.devices import inventory, team_holders
from workbench.devices.leases import LeaseManager
from workbench.devices.policy import LeaseNotFound, Policy
from workbench.devices.quota import quota_status
from workbench.store import Store
from workbench.store.models import utcnow


def session_info(store: Store, inventory_path: str, holder: str, lease_id: int | None, kind: str,
                 devices: list[str]) -> dict[str, Any]:
    """State, time left, reason (e.g. idle reclaim) and quota of ``holder``'s lease ``lease_id``.

    Raises ``LeaseNotFound`` for a lease that is neither ``holder``'s nor their team's: a kernel
    learns only of its own.
    """
    rules = Policy.from_file_data(inventory.load_file(inventory_path), inventory_path or "inventory")
    now = utcnow()
    if lease_id is None:
        return {"lease": None, "kind": kind, "devices": devices, "state": "none", "time_left_s": None,
                "session_left_s": None, "reason": None, "quota": quota_status(store, rules, holder, None, now)}
    row = LeaseManager(store, [], rules).get(lease_id)
    if row["holder"] != holder and not team_lease_of(store, holder, row["holder"]):
        raise LeaseNotFound(f"lease {lease_id} is not yours; `workbench.session()` shows your own")
    live = row["state"] == "live"
    left = (row["deadline"] - now).total_seconds() if live else 0.0
    session_left = max(0.0, (row["max_end"] - now).total_seconds()) if live and row["max_end"] else None
    return {"lease": lease_id, "kind": kind, "devices": devices, "state": row["state"],
            "deadline": row["deadline"], "time_left_s": max(0.0, left), "max_end": row["max_end"],
            "session_left_s": session_left if live else 0.0, "reason": row["reason"],
            "quota": quota_status(store, rules, row["holder"], row["course"], now)}


def team_lease_of(store: Store, user: str, holder: str) -> bool:
    """Whether ``holder`` is the team of ``user`` (an event kernel's lease is its team's)."""
    if not holder.startswith(team_holders.TEAM_PREFIX):
        return False
    with store.session() as s:
        return team_holders.member_of(s.connection(), user, holder)
