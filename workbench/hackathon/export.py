"""The organiser's exports: the final board and every submission's record, as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from workbench.hackathon import board, submissions
from workbench.hackathon.model import Event
from workbench.store import Store

BOARD_COLUMNS = ("rank", "team", "name", "baseline", "score", "public_score", "public_rank", "shake_up",
                 "submission")
RECORD_COLUMNS = ("id", "team", "member", "kind", "phase", "created", "sha256", "size", "status", "reason",
                  "attempts", "scored", "public_score", "private_score", "chosen", "final", "migrated_from")


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def final_board_csv(store: Store, event: Event) -> str:
    """The private board with shake-up (the event must be finalized)."""
    return _csv(BOARD_COLUMNS, board.private_board(store, event)["rows"])


def records_csv(store: Store, event: Event) -> str:
    """Every submission of the event, oldest first, with status, reason and both scores."""
    return _csv(RECORD_COLUMNS, list(reversed(submissions.listing(store, event.id))))
