"""bench/center_sim.py at a tiny size: the simulated center keeps the lease invariants.

Correctness, not speed (nothing here is timed): no device is ever in two live leases (the engine's
mirror is compared with the store at every sample), every request ends granted, queued then
granted, or refused with the sentence the user would read, and the reported figures are in range.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def center_sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("center_sim", BENCH / "center_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["center_sim"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_week(center_sim: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    """150 students in 5 courses on 12 NPUs for 3 days (Mon-Wed: class hours, two deadlines)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('center') / 'center.db'}"
    cfg = center_sim.Config(students=150, courses=5, npus=12, days=3, check=True)
    return center_sim.simulate(cfg, url)


def test_no_device_is_ever_granted_twice(tiny_week: tuple[dict[str, Any], Any]) -> None:
    summary, stats = tiny_week
    assert summary["double_grants"] == 0
    assert summary["checks"] == len(stats.samples) > 100  # the store was checked at every sample
    assert all(0 <= held <= 12 for _, _, held, _, _ in stats.samples)


def test_every_request_is_granted_queued_then_granted_or_refused_with_a_reason(
        tiny_week: tuple[dict[str, Any], Any]) -> None:
    summary, stats = tiny_week
    for req in stats.requests:
        assert req.outcome in ("granted", "queued_granted", "refused"), req
        if req.outcome == "granted":
            assert req.queued_id is None and req.wait == 0.0
        elif req.outcome == "queued_granted":
            assert req.queued_id is not None and req.wait is not None and req.wait >= 0
        else:
            assert req.wait is None and len(req.reason) > 20, req
    outcomes = summary["outcomes"]
    assert outcomes["queued_granted"] > 0 and outcomes["refused"] > 0  # the queue and refusals were exercised
    reasons = " ".join(r.reason for r in stats.requests)
    assert "in the fair-share queue" in reasons and "device(s) at once" in reasons
    assert summary["out_of_order"] == 0  # the engine's fair-share order is the decision's


def test_figures_are_in_range(tiny_week: tuple[dict[str, Any], Any]) -> None:
    summary, _ = tiny_week
    for key in ("utilisation", "held_of_offered", "saturated_fraction", "mean_held"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["saturated_fraction"] > 0 and 0.0 <= summary["saturated_useful"] <= 1.0
    assert 0.0 < summary["jain"] <= 1.0 and 0.0 < summary["jain_uncapped"] <= 1.0
    assert 0.0 <= summary["wait_p50_s"] <= summary["wait_p99_s"]
    assert summary["reclaims"].get("idle", 0) > 0 and summary["reclaims"].get("heartbeat", 0) > 0


def test_jain_index(center_sim: ModuleType) -> None:
    from center_sim_report import jain

    assert jain([0.5, 0.5, 0.5]) == pytest.approx(1.0)
    assert jain([1.0, 0.0]) == pytest.approx(0.5)
    assert jain([1.0] + [0.0] * 9) == pytest.approx(0.1)


def test_cli_writes_json_and_plots(center_sim: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = center_sim.main(["--students", "40", "--courses", "2", "--npus", "4", "--days", "1",
                              "--json", str(tmp_path / "out.json"), "--plots", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "| utilisation of offered load, whole week |" in printed and "| try_acquire |" in printed
    assert json.loads((tmp_path / "out.json").read_text())["simulation"]["requests"] == result["simulation"]["requests"]
    for name in ("center-utilisation.png", "center-waits.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
