"""The resident-memory high-water mark of one stretch of work, read from the kernel.

Why not only ``tracemalloc``: it sees NumPy's buffers but not what torch, MindSpore or GDAL
allocate, so a tiled pass that runs a network on each tile would look smaller than it is. Linux
keeps a per-process peak of resident memory (``VmHWM``) and resets it to the current size when
``5`` is written to ``/proc/self/clear_refs``; the peak after the work minus the size before is
what the work added at its worst moment, whoever allocated it. Resident memory also counts pages of
mapped files (torch's and MindSpore's shared libraries): on a machine short of memory the kernel drops
them and the work faults them back in, which is not memory the work holds, so the growth of
file-backed pages (``RssFile``) over the stretch is taken off.
"""

from __future__ import annotations

from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _kib(field: str) -> int:
    """One ``kB`` field of /proc/self/status, e.g. ``VmRSS``."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"{STATUS} has no {field} line: resident memory can only be measured on Linux")


class ResidentPeak:
    """Start measuring on creation; ``peak_increase()`` is the largest resident growth since, in bytes."""

    def __init__(self) -> None:
        CLEAR_REFS.write_text("5")  # reset VmHWM to the current resident size
        self.baseline_kib = _kib("VmRSS")
        self.file_kib = _kib("RssFile")

    def peak_increase(self) -> int:
        refaulted = max(0, _kib("RssFile") - self.file_kib)
        return max(0, _kib("VmHWM") - self.baseline_kib - refaulted) * 1024
