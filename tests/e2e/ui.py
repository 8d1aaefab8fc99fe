"""Helpers the browser tests share: loading JupyterLab and opening the workbench panels."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, Route, expect

# The first JupyterLab load on a 2-core machine takes ~20 s.
APP_TIMEOUT_MS = 90_000


def open_lab(page: Page, server: Any, path: str = "lab") -> None:
    """Load JupyterLab; `reset` starts from an empty workspace, whatever an earlier test left open."""
    page.goto(server.url(path, reset=""))
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=APP_TIMEOUT_MS)


def open_side_panel(page: Page, panel_id: str) -> None:
    """Activate a left side-bar tab (unless it is already shown)."""
    tab = page.locator(f'.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="{panel_id}"]')
    expect(tab).to_be_visible(timeout=APP_TIMEOUT_MS)
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    expect(page.locator(f"#{panel_id}")).to_be_visible()


def open_courses_panel(page: Page) -> None:
    open_side_panel(page, "aicc-workbench-courses")


def json_reply(body: Any, status: int = 200) -> Callable[[Route], None]:
    """A route handler answering every request with this JSON body (to stage an API answer)."""
    return lambda route: route.fulfill(status=status, content_type="application/json", body=json.dumps(body))
