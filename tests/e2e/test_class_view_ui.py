"""Feedback that explains, in the browser (issue #12): the student's Feedback panel says which earlier
cell failed and why, the full feedback page renders in Chromium under the server's content security
policy (styles and chart applied, nothing refused), and the instructor's Gradebook shows the score
histograms and the submissions whose tasks failed for a limit. Screenshots go to tests/e2e/artifacts/."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, open_courses_panel, open_lab, open_side_panel
from tests.fixtures.sums_lab import notebook

pytestmark = pytest.mark.e2e
GRADING_TIMEOUT_MS = 120_000
MEMORY_BOMB = "values = bytearray(3 << 30)"
EXPLAINED = "an earlier cell failed first: cell 2 ('prepare'): memory limit exceeded (1024 MB)"




@pytest.fixture(scope="module")
def limits_course(tmp_path_factory: pytest.TempPathFactory, workbench_cli: Callable[..., str]) -> str:
    """Course 'limits' (sorted after 'intro', so the other tests' first choices stay theirs), lab
    'sums' with a 1 GB memory limit, and a class of four graded with `workbench autograde`."""
    root = tmp_path_factory.mktemp("limits-course")
    (root / "labs" / "sums").mkdir(parents=True)
    nbformat.write(notebook(), root / "labs" / "sums" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "limits", "title": "Limits", "labs": [
        {"id": "sums", "title": "Sums", "path": "labs/sums/source.ipynb", "points": 2,
         "grading": {"memory_mb": 1024, "cell_timeout": 3, "total_timeout": 60}}]}))
    workbench_cli("course", "add", str(root))
    klass = root / "class"
    for student, prepare in (("ann", "values = [1, 2, 3]"), ("bob", MEMORY_BOMB), ("cy", "while True:\n    pass"),
                             ("dee", "values = [1, 2, int('three')]")):
        (klass / student).mkdir(parents=True)
        nbformat.write(notebook(prepare), klass / student / "sums.ipynb")
    workbench_cli("autograde", "--course", "limits", "--lab", "sums", "--submissions", str(klass), "--no-progress")
    return "limits"


def submit(server: Any, nb: nbformat.NotebookNode) -> dict[str, Any]:
    body = json.dumps({"course": "limits", "lab": "sums", "notebook": nb}).encode()
    request = urllib.request.Request(f"{server.base_url}workbench/api/v1/submissions", data=body, method="POST",
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


def test_explained_feedback_page_and_class_overview(
    new_page: Callable[[], Any], student_server: Any, lab_server: Any, limits_course: str, artifacts_dir: Path
) -> None:
    # --- the student hands in a notebook whose first answer dies at the memory limit ------------
    submission = submit(student_server, notebook(MEMORY_BOMB))
    student: Page = new_page()
    open_lab(student, student_server)
    open_side_panel(student, "aicc-workbench-feedback")
    feedback = student.locator("#aicc-workbench-feedback")
    card = feedback.locator(f'.jp-WorkbenchFeedback-submission[data-submission="{submission["id"]}"]')
    expect(card).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(card).to_have_attribute("data-status", "graded", timeout=GRADING_TIMEOUT_MS)
    expect(card.locator(".jp-WorkbenchFeedback-score")).to_have_text("1 / 2")
    expect(card.locator(".jp-WorkbenchFeedback-message").first).to_contain_text(
        f"NameError: name 'values' is not defined — {EXPLAINED}")
    card.scroll_into_view_if_needed()
    student.screenshot(path=str(artifacts_dir / "feedback-explained.png"))

    # --- the full feedback page renders: its style and chart pass the server's policy ----------
    refused: list[str] = []
    with student.context.expect_page() as opened:
        card.locator(".jp-WorkbenchFeedback-link").click()
    page: Page = opened.value
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.wait_for_load_state("load")
    expect(page.locator("h1")).to_contain_text("limits / sums")
    chart = page.locator("img[alt='points per task']")
    expect(chart).to_be_visible()
    assert page.evaluate("document.querySelector(\"img[alt='points per task']\").naturalWidth") > 0
    styled = page.evaluate("""() => ({
        collapse: getComputedStyle(document.querySelector('table')).borderCollapse,
        font: getComputedStyle(document.body).fontFamily,
        error: getComputedStyle(document.querySelector('.status-error')).color,
        pre: getComputedStyle(document.querySelector('pre')).backgroundColor})""")
    assert styled == {"collapse": "collapse", "font": "sans-serif", "error": "rgb(198, 40, 40)",
                      "pre": "rgb(246, 246, 246)"}, styled
    expect(page.locator("body")).to_contain_text(EXPLAINED)
    page.screenshot(path=str(artifacts_dir / "feedback-page.png"), full_page=True)
    assert refused == [], refused

    # --- the instructor sees the class at a glance ---------------------------------------------
    teacher: Page = new_page()
    open_lab(teacher, lab_server)
    open_courses_panel(teacher)
    teacher.locator(".jp-WorkbenchCourses-action", has_text="Gradebook").click()
    book = teacher.locator("#aicc-workbench-gradebook")
    expect(book).to_be_visible()
    choice = json.dumps(["limits", "sums"], separators=(",", ":"))  # the option's value, as the panel writes it
    lab_choice = book.locator("select.jp-WorkbenchGradebook-lab")
    expect(lab_choice.locator(f"option[value='{choice}']")).to_have_count(1)  # listed once the courses load
    lab_choice.select_option(value=choice)
    overview = book.locator(".jp-WorkbenchGradebook-overview")
    expect(overview).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(overview.locator(".jp-WorkbenchHistogram")).to_have_count(3)  # the lab's score, then each task
    expect(overview.locator(".jp-WorkbenchHistogram[data-task='test_values']")).to_be_visible()
    counts = overview.locator(".jp-WorkbenchHistogram.jp-mod-score .jp-WorkbenchHistogram-bar")
    assert sum(int(c) for c in counts.evaluate_all("bars => bars.map(b => b.dataset.count)")) == 5
    limits = overview.locator(".jp-WorkbenchGradebook-limit")
    expect(limits.and_(teacher.locator("[data-student='bob']"))).to_have_attribute("data-kind", "memory")
    expect(limits.and_(teacher.locator("[data-student='cy']"))).to_have_attribute("data-kind", "time")
    expect(limits.and_(teacher.locator("[data-kind='memory']"))).to_have_count(2)  # bob and the student
    expect(overview.locator(".jp-WorkbenchGradebook-limitsTitle")).to_contain_text(
        "memory: 2 submissions, time: 1 submission")
    expect(book.locator(".jp-WorkbenchPanel-error")).to_have_count(0)
    overview.scroll_into_view_if_needed()
    teacher.screenshot(path=str(artifacts_dir / "gradebook-overview.png"), full_page=True)
