"""The student path through the UI: Courses panel -> open a lab -> notebook on a device."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, open_courses_panel, open_lab

pytestmark = pytest.mark.e2e

# lab_server is conftest.LabServer (conftest modules cannot be imported by name).

# ServerConnection appends a cache-busting query string.
COURSES_API = re.compile(r".*/workbench/api/v1/courses(\?.*)?$")


def test_student_opens_a_lab_from_the_courses_panel(lab_page: Page, lab_server: Any, artifacts_dir: Path) -> None:
    page = lab_page
    open_lab(page, lab_server)
    open_courses_panel(page)

    panel = page.locator("#aicc-workbench-courses.jp-WorkbenchCourses")
    course = panel.locator('.jp-WorkbenchCourses-course[data-course-id="intro"]')
    expect(course).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(course).to_contain_text("Introduction to the Workbench")
    lab = course.locator('.jp-WorkbenchCourses-lab[data-lab-id="hello"]')
    expect(lab).to_contain_text("Hello, workbench")
    expect(lab).to_contain_text("3 pts")
    expect(lab).to_contain_text("CPU")
    expect(lab).to_contain_text("due")
    expect(panel.locator(".jp-WorkbenchCourses-error")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "courses-panel.png"))

    lab.click()
    notebook = page.locator(".jp-NotebookPanel")
    expect(notebook).to_be_visible(timeout=APP_TIMEOUT_MS)
    current_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
    expect(current_tab.locator(".lm-TabBar-tabLabel")).to_have_text("hello.ipynb")
    expect(notebook.locator(".jp-Cell").first).to_be_visible()

    # The lab asks for a CPU session: its kernel runs on a leased CPU slot, shown in the status bar.
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (CPU) | Idle", timeout=APP_TIMEOUT_MS)
    expect(page.locator(".jp-WorkbenchDeviceStatus")).to_have_text(
        re.compile(r"^CPU \d+ · [12] h \d+ min left$"), timeout=APP_TIMEOUT_MS
    )
    expect(panel.locator(".jp-WorkbenchCourses-error")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "lab-opened.png"))

    assert (lab_server.root_dir / "intro" / "hello.ipynb").is_file()


def test_courses_panel_explains_errors_and_an_empty_list(lab_page: Page, lab_server: Any, artifacts_dir: Path) -> None:
    page = lab_page
    message = "the store at sqlite:///x.db is unreachable; check WORKBENCH_DB_URL"
    page.route(
        COURSES_API,
        lambda route: route.fulfill(status=500, content_type="application/json", body=json.dumps({"error": message})),
    )
    open_lab(page, lab_server)
    open_courses_panel(page)
    panel = page.locator("#aicc-workbench-courses")
    expect(panel.locator(".jp-WorkbenchCourses-error")).to_have_text(message, timeout=APP_TIMEOUT_MS)
    page.screenshot(path=str(artifacts_dir / "courses-error.png"))

    page.unroute(COURSES_API)
    page.route(
        COURSES_API,
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps({"courses": []})),
    )
    panel.locator(".jp-WorkbenchCourses-refresh").click()
    expect(panel.locator(".jp-WorkbenchCourses-error")).to_have_count(0)
    expect(panel).to_contain_text("No courses yet")
    expect(panel).to_contain_text("workbench course add PATH")
