"""The class at a glance for the instructor: how scores spread per lab and per task, and which
submissions lost points to a sandbox limit.

Why the limits list: a limit set too tight (memory for a framework that needs 4 GB, a cell timeout a
slow CPU misses) fails every student in the same way, and per-row statuses hide that; listed together,
with the limit named, it is seen at once. A task counts as failed for a limit when its own status is
one (``memory``, ``timeout``) or when its message says a limit was reached, including a test that failed
because an earlier cell of the student hit it (``causes.py`` puts that in the message).
"""

from __future__ import annotations

import math
from typing import Any

# kind -> the words grading messages use for it (grade.py: _message, _limit_hint; causes.py)
LIMIT_WORDS = {
    "memory": ("memory limit",),
    "time": ("time limit",),
    "output": ("output limit", "result protocol"),
    "disk": ("disk limit",),
    "processes": ("process limit",),
    "file size": ("file size limit",),
}


def limit_kind(status: str, message: str) -> str | None:
    """Which sandbox limit failed a task, if one did."""
    if status == "memory":
        return "memory"
    if status == "timeout":
        return "time"
    for kind, words in LIMIT_WORDS.items():
        if any(word in message for word in words):
            return kind
    return None


def histogram(values: list[float], top: float) -> list[dict[str, float]]:
    """Counts of ``values`` out of ``top`` as [{low, high, count}]. Small maxima in half points (most
    tasks: 0 or 1, 0 to 3 in halves) get one bin per half point (low == high: that value, rounded to
    the nearest half); larger ones ten equal ranges [low, high), the last one closed."""
    if 0 <= top <= 5 and float(2 * top).is_integer():
        steps = int(2 * top)
        bins = [{"low": i / 2, "high": i / 2, "count": 0} for i in range(steps + 1)]
        for value in values:
            bins[min(steps, max(0, round(2 * value)))]["count"] += 1
        return bins
    width = top / 10
    bins = [{"low": round(i * width, 6), "high": round((i + 1) * width, 6), "count": 0} for i in range(10)]
    for value in values:
        bins[min(9, max(0, math.floor(value / width)))]["count"] += 1
    return bins


def overview(latest: list[dict[str, Any]]) -> dict[str, Any]:
    """From each student's latest submission of one lab (``gradebook.submissions(latest_only=True)``):
    the score histogram, one per task in the lab's order, and every task lost to a limit."""
    graded = [s for s in latest if s["status"] == "graded"]
    top = max((s["max_score"] for s in graded), default=0.0)
    order: list[str] = []
    maxima: dict[str, float] = {}
    points: dict[str, list[float]] = {}
    limits: list[dict[str, Any]] = []
    for sub in graded:
        for task in sub["tasks"]:
            if task["id"] not in maxima:
                order.append(task["id"])
            maxima[task["id"]] = task["max_points"]
            points.setdefault(task["id"], []).append(task["points"])
            kind = limit_kind(task["status"], task["message"])
            if kind is not None:
                limits.append({"student": sub["student"], "submission": sub["id"], "task": task["id"], "kind": kind,
                               "status": task["status"], "message": task["message"]})
    limits.sort(key=lambda item: (item["student"], order.index(item["task"])))
    tasks = [{"id": tid, "max_points": maxima[tid], "mean": round(sum(points[tid]) / len(points[tid]), 6),
              "bins": histogram(points[tid], maxima[tid])} for tid in order]
    counts: dict[str, int] = {}
    for kind in dict.fromkeys(item["kind"] for item in limits):
        counts[kind] = len({item["submission"] for item in limits if item["kind"] == kind})
    scores = [s["score"] for s in graded]
    return {"students": len(latest), "graded": len(graded),
            "scores": {"max_score": top, "mean": round(sum(scores) / len(scores), 6) if scores else None,
                       "bins": histogram(scores, top)},
            "tasks": tasks, "limits": limits, "limit_counts": counts}


def text(view: dict[str, Any], width: int = 30) -> str:
    """The overview as text for a terminal: bars of '#', then the limits list."""
    def bars(bins: list[dict[str, float]]) -> list[str]:
        most = max((b["count"] for b in bins), default=0) or 1
        return [f"  {label(b):>13} {'#' * round(width * b['count'] / most):<{width}} {b['count']:g}" for b in bins]

    def label(b: dict[str, float]) -> str:
        return f"{b['low']:g}" if b["low"] == b["high"] else f"{b['low']:g}-{b['high']:g}"

    mean = view["scores"]["mean"]
    lines = [f"{view['graded']} of {view['students']} students graded; score out of "
             f"{view['scores']['max_score']:g}" + (f", mean {mean:g}" if mean is not None else ""),
             *bars(view["scores"]["bins"])]
    for task in view["tasks"]:
        lines += [f"{task['id']} (out of {task['max_points']:g}, mean {task['mean']:g})", *bars(task["bins"])]
    if view["limits"]:
        counts = ", ".join(f"{kind}: {n}" for kind, n in view["limit_counts"].items())
        lines.append(f"failed for a limit ({counts} submissions):")
        lines += [f"  {item['student']} #{item['submission']} {item['task']}: {item['kind']} — {item['message']}"
                  for item in view["limits"]]
    else:
        lines.append("no task failed for a limit")
    return "\n".join(lines) + "\n"
