"""The class through a real JupyterHub in Chromium: a student logs in with their Unix password,
opens the lab, submits it and reads the feedback; the instructor logs in, autogrades and reads
the Gradebook. The workbench service grades; the users' servers only relay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, open_courses_panel
from tests.fixtures.hub import INSTRUCTOR, STUDENT_B, Center

pytestmark = pytest.mark.e2e
GRADING_TIMEOUT_MS = 120_000


def log_in(page: Page, center: Center, user: str) -> None:
    page.goto(f"{center.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", center.passwords[user])
    page.click("#login_submit")
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=APP_TIMEOUT_MS * 2)
    assert f"/user/{user}/lab" in page.url


def test_student_and_instructor_through_the_hub(new_page: Callable[[], Any], center: Center,
                                                artifacts_dir: Path) -> None:
    student: Page = new_page()
    log_in(student, center, STUDENT_B)
    open_courses_panel(student)
    expect(student.locator(".jp-WorkbenchCourses-user")).to_have_text("Student", timeout=APP_TIMEOUT_MS)
    expect(student.locator(".jp-WorkbenchCourses-action")).to_have_count(0)
    student.locator('.jp-WorkbenchCourses-lab[data-lab-id="hello"]').click()
    notebook = student.locator(".jp-NotebookPanel")
    submit = notebook.locator(".jp-WorkbenchSubmit")
    expect(submit).to_be_visible(timeout=APP_TIMEOUT_MS)
    editor = notebook.locator(".jp-CodeCell", has_text="def mean_of_squares").locator(".cm-content")
    editor.click()
    student.keyboard.press("Control+a")
    student.keyboard.insert_text("def mean_of_squares(xs):\n    return sum(x * x for x in xs) / len(xs)\n")
    submit.click()
    feedback = student.locator("#aicc-workbench-feedback")
    expect(feedback).to_be_visible(timeout=APP_TIMEOUT_MS)
    card = feedback.locator('.jp-WorkbenchFeedback-submission[data-lab="intro/hello"]').first
    expect(card).to_have_attribute("data-status", "graded", timeout=GRADING_TIMEOUT_MS)
    expect(card.locator(".jp-WorkbenchFeedback-score")).to_have_text("1 / 3")
    expect(feedback.locator(".jp-WorkbenchPanel-error")).to_have_count(0)
    student.screenshot(path=str(artifacts_dir / "hub-student-feedback.png"))

    teacher: Page = new_page()
    log_in(teacher, center, INSTRUCTOR)
    open_courses_panel(teacher)
    expect(teacher.locator(".jp-WorkbenchCourses-user")).to_have_text("Instructor", timeout=APP_TIMEOUT_MS)
    teacher.locator(".jp-WorkbenchCourses-action", has_text="Gradebook").click()
    book = teacher.locator("#aicc-workbench-gradebook")
    expect(book).to_be_visible()
    row = book.locator(".jp-WorkbenchGradebook-row", has_text=STUDENT_B)
    expect(row).to_be_visible(timeout=APP_TIMEOUT_MS)
    book.locator(".jp-WorkbenchGradebook-autograde").click()
    expect(book.locator(".jp-WorkbenchPanel-message")).to_contain_text("Autograde of hello", timeout=APP_TIMEOUT_MS)
    expect(row.locator(".jp-WorkbenchGradebook-status")).to_have_text("graded", timeout=GRADING_TIMEOUT_MS)
    expect(book.locator(".jp-WorkbenchPanel-error")).to_have_count(0)
    teacher.screenshot(path=str(artifacts_dir / "hub-instructor-gradebook.png"))
