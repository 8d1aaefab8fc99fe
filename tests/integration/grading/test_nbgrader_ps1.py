"""nbgrader's own example (../shared/interop/nbgrader-ps1): our auto-graded totals must equal nbgrader's."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def test_workbench_grade_reproduces_nbgrader_totals(shared_dir: Path):
    ps1 = shared_dir / "interop" / "nbgrader-ps1"
    expected = {row["student_id"]: float(row["score"]) for row in csv.DictReader((ps1 / "grades.csv").open())}
    assert expected == {"bitdiddle": 1.5, "hacker": 3.0}
    for student, total in expected.items():
        score = max_score = 0.0
        for problem in ("problem1", "problem2"):
            proc = subprocess.run(
                [sys.executable, "-m", "workbench.cli", "grade",
                 str(ps1 / "submitted" / student / "ps1" / f"{problem}.ipynb"),
                 "--source", str(ps1 / "source" / "ps1" / f"{problem}.ipynb"), "--json"],
                capture_output=True, text=True, cwd=REPO, timeout=120,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            assert proc.returncode == 0, proc.stderr
            data = json.loads(proc.stdout)
            score += data["score"]
            max_score += data["max_score"]
            assert data["needs_manual"] is True  # written answers and the task cell await a person
        assert (score, max_score) == (total, 13.0), student
