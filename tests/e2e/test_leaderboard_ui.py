"""Hackathon events in the browser (issue #13): a participant creates a team in the Leaderboard, opens
the starter, submits predictions from the notebook's toolbar, sees the team on the live public board
and picks the submission as a final entry; the organiser's view lists every submission with status
and reason, finalizes a closed event, and the private board shows the shake-up arrows. Screenshots
go to tests/e2e/artifacts/."""

from __future__ import annotations

import csv
import random
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.ui import APP_TIMEOUT_MS, open_courses_panel, open_lab
from workbench.hackathon.split import public_mask

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[2] / "events" / "digits-sprint"
SCORING_TIMEOUT_MS = 60_000
CLOSING_S = 90  # the closing event's window: three teams submit through the CLI, JupyterLab loads


def event_copy(root: Path, event_id: str, title: str, opens: datetime, closes: datetime,
               selection: str = "best_public") -> Path:
    """The sample event under another id, with its own window, one phase and final-selection rule."""
    target = root / event_id
    shutil.copytree(SAMPLE, target)
    spec = yaml.safe_load((target / "event.yaml").read_text())
    spec.update(id=event_id, title=title, window={"opens": opens.isoformat(), "closes": closes.isoformat()},
                phases=[{"id": "main", "title": "Main", "opens": opens.isoformat(), "closes": closes.isoformat()}],
                selection={"rule": selection, "k": 2})
    spec["teams"].pop("merge_deadline", None)
    (target / "event.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return target


def predictions(event_dir: Path, out: Path, public_right: float, private_right: float, seed: int) -> Path:
    """A predictions file right on a chosen share of the public and of the private rows."""
    spec = yaml.safe_load((event_dir / "event.yaml").read_text())
    with (event_dir / "hidden" / "labels.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    public = public_mask([r[0] for r in rows], spec["split"]["public_share"], spec["split"]["seed"])
    rng = random.Random(seed)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "label"])
        for (hidden_id, label), shown in zip(rows, public, strict=True):
            right = rng.random() < (public_right if shown else private_right)
            writer.writerow([hidden_id, label if right else str((int(label) + 1) % 10)])
    return out


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory, workbench_cli: Callable[..., str]) -> dict[str, Any]:
    """A live event and one whose window closes CLOSING_S from now, where three teams (not the
    browser's user) submitted: 'overfit' is perfect on the public rows and poor on the private ones."""
    root = tmp_path_factory.mktemp("events")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    live = event_copy(root, "digits-live", "Digits live", now - timedelta(hours=1), now + timedelta(days=30),
                      selection="chosen")
    closing = event_copy(root, "digits-closing", "Digits closing", now - timedelta(hours=1),
                         now + timedelta(seconds=CLOSING_S))
    for event_dir in (live, closing):
        workbench_cli("event", "create", str(event_dir))
    for team, public_right, private_right in (("overfit", 1.0, 0.75), ("steady", 0.9, 0.9), ("rookies", 0.6, 0.6)):
        workbench_cli("event", "team", "create", "digits-closing", team, "--user", f"{team}-lead")
        workbench_cli("event", "submit", "digits-closing",
                      str(predictions(closing, root / f"{team}.csv", public_right, private_right, 7)),
                      "--user", f"{team}-lead")
    return {"live": live, "closing": closing, "closes": now + timedelta(seconds=CLOSING_S)}


def open_leaderboard(page: Page) -> Any:
    """Through the Courses panel's Leaderboard button, shown to everyone once an event exists."""
    open_courses_panel(page)
    page.locator(".jp-WorkbenchCourses-action", has_text="Leaderboard").click()
    board = page.locator("#aicc-workbench-leaderboard")
    expect(board).to_be_visible(timeout=APP_TIMEOUT_MS)
    return board


def choose_event(board: Any, event_id: str, title: str) -> None:
    select = board.locator("select[aria-label='Event']")
    expect(select.locator(f"option[value='{event_id}']")).to_have_count(1)
    select.select_option(value=event_id)
    expect(board.locator(".jp-WorkbenchPanel-message")).to_contain_text(title)  # its board, not the last one


def test_organiser_finalizes_and_reveals_the_shake_up(
    new_page: Callable[[], Any], lab_server: Any, events: dict[str, Any], artifacts_dir: Path
) -> None:
    page: Page = new_page()
    open_lab(page, lab_server)
    board = open_leaderboard(page)
    choose_event(board, "digits-closing", "Digits closing")
    rows = board.locator(".jp-WorkbenchLeaderboard-board tbody tr:not(.jp-mod-baseline)")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("overfit")  # perfect on the public rows
    board.get_by_role("button", name="Organiser view").click()
    organiser = page.locator("#aicc-workbench-organiser-digits-closing")
    expect(organiser).to_be_visible()
    expect(organiser.locator(".jp-WorkbenchOrganiser-submissions tbody tr")).to_have_count(3)
    expect(organiser.locator(".jp-WorkbenchOrganiser-teams")).to_contain_text("steady-lead")
    expect(organiser.locator(".jp-WorkbenchOrganiser-hours").first).to_have_text("0.00 of 20 h")  # no kernel yet
    finalize = organiser.get_by_role("button", name="Finalize")
    expect(finalize).to_be_disabled()  # the window is still open
    page.screenshot(path=str(artifacts_dir / "leaderboard-organiser.png"), full_page=True)

    wait = (events["closes"] - datetime.now(timezone.utc)).total_seconds() + 1
    time.sleep(max(0.0, wait))
    organiser.locator(".jp-WorkbenchPanel-refresh").click()
    expect(finalize).to_be_enabled()
    finalize.click()
    expect(organiser.locator(".jp-WorkbenchOrganiser-export", has_text="Final board")).to_be_visible()

    board = open_leaderboard(page)
    board.locator(".jp-WorkbenchPanel-refresh").click()
    private = board.get_by_role("checkbox", name="Private board")
    expect(private).to_be_enabled()
    private.check()
    table = board.locator(".jp-WorkbenchLeaderboard-board")
    expect(table.locator("th").nth(2)).to_have_text("Private score")
    steady = table.locator("tr[data-team='steady']")
    expect(steady.locator(".jp-WorkbenchLeaderboard-shake")).to_have_text("▲ 1")
    expect(table.locator("tr[data-team='overfit'] .jp-WorkbenchLeaderboard-shake")).to_have_text("▼ 1")
    expect(steady.locator("td").first).to_have_text("1")
    expect(table.locator("tr[data-team='rookies'] .jp-WorkbenchLeaderboard-shake")).to_have_text("=")
    page.screenshot(path=str(artifacts_dir / "leaderboard-private.png"), full_page=True)


def test_participant_submits_and_sees_the_live_board(
    new_page: Callable[[], Any], student_server: Any, events: dict[str, Any], artifacts_dir: Path
) -> None:
    page: Page = new_page()
    open_lab(page, student_server)
    board = open_leaderboard(page)
    choose_event(board, "digits-live", "Digits live")
    expect(board.locator(".jp-WorkbenchLeaderboard-board tr.jp-mod-baseline")).to_contain_text("Nearest centroid")

    # --- a team of one's own, then the starter in the user's space -----------------------------
    board.locator("input[aria-label='Team id']").fill("owls")
    board.get_by_role("button", name="Create team").click()
    expect(board.locator(".jp-WorkbenchLeaderboard-team")).to_have_text("You are in team “owls”.")
    board.get_by_role("button", name="Open starter").click()
    toolbar = page.locator(".jp-NotebookPanel-toolbar")
    expect(toolbar.locator(".jp-WorkbenchEventSubmit.jp-mod-predictions")).to_be_visible(timeout=APP_TIMEOUT_MS)
    folder = student_server.root_dir / "events" / "digits-live"
    assert (folder / "starter.ipynb").is_file() and (folder / "data" / "train.csv").is_file()
    assert (folder / "hidden" / "inputs.csv").is_file()
    assert not (folder / "hidden" / "labels.csv").exists()  # the labels never leave the organiser's side
    # The starter runs on the event's kernel, leased to the team: the status bar says whose and how much is left.
    expect(page.locator(".jp-WorkbenchDeviceStatus")).to_contain_text("team owls: 20.0 device-h left",
                                                                      timeout=APP_TIMEOUT_MS)

    # --- predictions submitted from the toolbar are scored and put the team on the board ---------
    toolbar.locator(".jp-WorkbenchEventSubmit.jp-mod-predictions").click()
    expect(page.locator(".jp-toast-message, .Toastify__toast").first).to_contain_text(
        "predictions.csv is not there yet")  # before the notebook ran: one sentence saying what to do
    predictions(events["live"], folder / "predictions.csv", 0.95, 0.95, 11)
    toolbar.locator(".jp-WorkbenchEventSubmit.jp-mod-predictions").click()
    board = page.locator("#aicc-workbench-leaderboard")  # a submission shows the board
    own = board.locator(".jp-WorkbenchLeaderboard-board tr.jp-mod-own")
    expect(own).to_be_visible(timeout=SCORING_TIMEOUT_MS)
    expect(own.locator("td").first).to_have_text("1")  # 95 % right beats the nearest-centroid baseline
    expect(board.locator(".jp-WorkbenchLeaderboard-submissions")).to_contain_text("scored")
    final = board.locator(".jp-WorkbenchLeaderboard-choose")  # the event's rule: up to 2 chosen by the team
    final.check()
    expect(final).to_be_checked()
    board.locator(".jp-WorkbenchPanel-refresh").click()
    expect(board.locator(".jp-WorkbenchLeaderboard-choose")).to_be_checked()  # stored, not just ticked
    expect(board.get_by_role("button", name="Organiser view")).to_be_hidden()
    expect(board.get_by_role("checkbox", name="Private board")).to_be_disabled()  # not while the event runs
    page.screenshot(path=str(artifacts_dir / "leaderboard-participant.png"), full_page=True)
