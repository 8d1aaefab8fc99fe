"""Plain data for a course as written on disk (course format v1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

DEVICE_KINDS = ("npu", "gpu", "cpu")
FRAMEWORKS = ("torch", "mindspore")
# Per-lab grading limits a course may set (course.yaml `grading:`), named as the grader's Limits.
GRADING_KEYS = ("cell_timeout", "total_timeout", "memory_mb", "cpu_seconds", "file_mb", "tmp_mb",
                "output_bytes", "open_files", "processes")


@dataclass(frozen=True)
class DeviceRequest:
    kind: str = "cpu"
    count: int = 1
    fallback: tuple[DeviceRequest, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "count": self.count}
        if self.fallback:
            data["fallback"] = [f.to_json() for f in self.fallback]
        return data


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    notebook: Path
    points: float
    due: datetime | None = None
    device: DeviceRequest = field(default_factory=DeviceRequest)
    frameworks: tuple[str, ...] = ()
    grading: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Course:
    id: str
    title: str
    root: Path
    labs: tuple[Lab, ...]
    description: str = ""
    instructors: tuple[str, ...] = ()

    def lab(self, lab_id: str) -> Lab | None:
        return next((lab for lab in self.labs if lab.id == lab_id), None)
