"""Submitting and grading in the UI: a student submits a lab and reads the feedback; the
instructor sees the student's row in the Gradebook and overrides a task's points."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, open_courses_panel, open_lab, open_side_panel

pytestmark = pytest.mark.e2e

# Grading runs the notebook in a fresh sandbox: allow for a cold start on a busy machine.
GRADING_TIMEOUT_MS = 120_000


def test_submit_feedback_and_gradebook(
    new_page: Callable[[], Any], student_server: Any, lab_server: Any, artifacts_dir: Path
) -> None:
    # --- the student opens the lab and submits it -----------------------------------------
    student: Page = new_page()
    open_lab(student, student_server)
    expect(student.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="aicc-workbench-feedback"]')).to_be_visible(
        timeout=APP_TIMEOUT_MS
    )
    open_courses_panel(student)
    # Students get no instructor buttons.
    expect(student.locator(".jp-WorkbenchCourses-user")).to_have_text("Student", timeout=APP_TIMEOUT_MS)
    expect(student.locator(".jp-WorkbenchCourses-action")).to_have_count(0)
    student.locator('.jp-WorkbenchCourses-lab[data-lab-id="hello"]').click()
    notebook = student.locator(".jp-NotebookPanel")
    expect(notebook).to_be_visible(timeout=APP_TIMEOUT_MS)
    submit = notebook.locator(".jp-WorkbenchSubmit")
    expect(submit).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(submit).to_have_text("Submit")
    # Solve task 1 only, so the grade is partial: 1 of 3 points.
    editor = notebook.locator(".jp-CodeCell", has_text="def mean_of_squares").locator(".cm-content")
    editor.click()
    student.keyboard.press("Control+a")
    student.keyboard.insert_text("def mean_of_squares(xs):\n    return sum(x * x for x in xs) / len(xs)\n")
    submit.click()
    expect(student.locator(".jp-Notification-Toast-success, .Toastify__toast--success")).to_contain_text(
        "Submitted hello — grading…"
    )

    # --- the Feedback panel opens and shows the score once graded --------------------------
    feedback = student.locator("#aicc-workbench-feedback")
    expect(feedback).to_be_visible()
    card = feedback.locator('.jp-WorkbenchFeedback-submission[data-lab="intro/hello"]').first
    expect(card).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(card).to_have_attribute("data-status", "graded", timeout=GRADING_TIMEOUT_MS)
    expect(card.locator(".jp-WorkbenchFeedback-score")).to_have_text("1 / 3")
    expect(card.locator('tr[data-task="test_mean_of_squares"]')).to_contain_text("passed")
    expect(card.locator('tr[data-task="test_normalise"]')).to_contain_text("0 / 2")
    expect(card).to_contain_text("NotImplementedError")
    expect(card.locator(".jp-WorkbenchFeedback-tasks tbody tr[data-task]").first).to_be_visible()
    expect(feedback.locator(".jp-WorkbenchPanel-error")).to_have_count(0)
    student.screenshot(path=str(artifacts_dir / "feedback-panel.png"))
    task = "test_normalise"

    # --- the instructor's Gradebook lists the student and keeps a manual edit ---------------
    teacher: Page = new_page()
    open_lab(teacher, lab_server)
    open_courses_panel(teacher)
    teacher.locator(".jp-WorkbenchCourses-action", has_text="Gradebook").click()
    book = teacher.locator("#aicc-workbench-gradebook")
    expect(book).to_be_visible()
    row = book.locator(".jp-WorkbenchGradebook-row").first
    expect(row).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(row.locator(".jp-WorkbenchGradebook-status")).to_have_text("graded")
    points = row.locator(f'td[data-task="{task}"] input')
    points.fill("0.5")
    points.press("Enter")
    expect(book.locator(".jp-WorkbenchPanel-message")).to_contain_text(f"gets 0.5 for {task}")
    expect(book.locator(".jp-WorkbenchPanel-error")).to_have_count(0)

    # Persisted: a new Gradebook (closed and opened again) shows the adjusted points.
    tab = teacher.locator('#jp-main-dock-panel .lm-TabBar-tab[data-id="aicc-workbench-gradebook"]')
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(book).to_have_count(0)
    teacher.locator(".jp-WorkbenchCourses-action", has_text="Gradebook").click()
    points = book.locator(f'.jp-WorkbenchGradebook-row td[data-task="{task}"] input').first
    expect(points).to_have_value("0.5", timeout=APP_TIMEOUT_MS)
    expect(points).to_have_class(re.compile("jp-mod-adjusted"))
    expect(book.locator(".jp-WorkbenchGradebook-row .jp-WorkbenchGradebook-total").first).to_have_text("1.5 / 3")
    # Autograde: nothing to redo, since every submission is graded against the current source.
    book.locator(".jp-WorkbenchGradebook-autograde").click()
    expect(book.locator(".jp-WorkbenchPanel-message")).to_contain_text("already graded")
    teacher.screenshot(path=str(artifacts_dir / "gradebook-panel.png"))

    # The student's feedback follows the instructor's points.
    open_side_panel(student, "aicc-workbench-feedback")
    feedback.locator(".jp-WorkbenchPanel-refresh").click()
    task_row = card.locator(f'tr[data-task="{task}"]')
    expect(task_row).to_contain_text("0.5 / 2")
    expect(card.locator(".jp-WorkbenchFeedback-score")).to_have_text("1.5 / 3")
