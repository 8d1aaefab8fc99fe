"""What devices this workbench can hand out.

Until device sessions land, only the CPU is reported; accelerators (``nvidia-smi``, ``npu-smi``)
and the admin inventory file join here.
"""

from __future__ import annotations

import os
from typing import Any


def _memory_mb() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None


def summary() -> dict[str, Any]:
    return {"cpu": {"cores": os.cpu_count() or 1, "memory_mb": _memory_mb()}, "gpu": 0, "npu": 0}
