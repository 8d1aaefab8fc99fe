"""The server profiles a center offers, generated from the device inventory: one list for every spawner.

A student whose server is a cluster job (a Slurm job, a Kubernetes pod) chooses what the job holds
when it starts, so the hub offers a short list of *profiles*: CPU only, then for each accelerator
kind 1, 2, 4, … devices up to what one node has. The inventory file (``WORKBENCH_INVENTORY``,
docs/devices.md) describes one node, so the largest profile is a whole node. ``slurm_spawner.py``
turns a profile into ``--gres=npu:N``, ``kube_profiles.py`` into ``huawei.com/Ascend910: N``; both
start from this list, so the two deployments offer the same choices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from workbench.devices.inventory import Device

NAMES = {"npu": "Ascend NPU", "gpu": "NVIDIA GPU"}


@dataclass(frozen=True)
class Profile:
    slug: str  # what the hub stores in user_options, e.g. "npu-2"
    display_name: str
    kind: str  # cpu | npu | gpu
    count: int  # devices of ``kind`` (0 for CPU only)
    model: str = ""

    @property
    def gres(self) -> str:
        """Slurm's request for it (empty: no GRES)."""
        return f"{self.kind}:{self.count}" if self.count else ""


def counts(available: int) -> list[int]:
    """1, 2, 4, … up to ``available``, and ``available`` itself (a whole node)."""
    found, n = [], 1
    while n < available:
        found.append(n)
        n *= 2
    return [*found, available] if available else []


def device_profiles(devices: list[Device]) -> list[Profile]:
    """CPU only first (the default: holding no accelerator costs no quota), then each accelerator kind."""
    profiles = [Profile("cpu", "CPU only (no accelerator)", "cpu", 0)]
    per_kind = Counter(d.kind for d in devices if d.kind in NAMES)
    for kind in NAMES:
        model = next((d.model for d in devices if d.kind == kind and d.model), "")
        for n in counts(per_kind[kind]):
            label = f"{n} {NAMES[kind]}{'s' if n > 1 else ''}" + (f" ({model})" if model else "")
            profiles.append(Profile(f"{kind}-{n}", label, kind, n, model))
    return profiles
