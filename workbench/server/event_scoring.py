"""The server's event scorer: queued hackathon submissions are scored one at a time, off the event loop.

One thread per process that holds the store. It claims the oldest queued submission, scores it in
a helper thread and waits at most the event's time limit: a scorer that hangs is failed with a
sentence and left behind, and the queue moves on. Between claims it queues phase migrations that
are due and fails overdue runs. At a start, what a killed predecessor left "running" is re-queued
once (``scoring_runs.resume``). Submissions stored by the CLI while the server runs are picked up
by the same polling.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select

from workbench.errors import WorkbenchError
from workbench.hackathon import catalog, scoring_runs
from workbench.store import Store
from workbench.store import events_models as e
from workbench.store.models import utcnow

POLL_S = 2.0
HOUSEKEEPING_S = 10.0


class EventScoring:
    def __init__(self, store: Store, log: logging.Logger | logging.LoggerAdapter, lab_python: str = "",
                 inventory: str = "") -> None:
        self.store = store
        self.lab_python = lab_python
        self.inventory = inventory  # where a notebook run of an npu/gpu event leases its team's device
        self.log = log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="workbench-event-scoring", daemon=True)
        self._tidied = 0.0

    def start(self) -> None:
        again, failed = scoring_runs.resume(self.store)
        if again or failed:
            self.log.info("workbench: %d event submission(s) left running by a restart re-queued, %d failed",
                          again, failed)
        self._thread.start()

    def wake(self) -> None:
        """A submission was queued: score it now rather than at the next poll."""
        self._wake.set()

    def close(self) -> None:
        """Stop claiming; a run in progress is left to finish or to the next start's resume."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._tidied > HOUSEKEEPING_S:
                    self._housekeeping()
                if self._score_next():
                    continue
            except WorkbenchError as exc:
                self.log.error("workbench: event scoring: %s", exc.message)
            except Exception:
                self.log.exception("workbench: event scoring failed; retrying at the next poll")
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _housekeeping(self) -> None:
        self._tidied = time.monotonic()
        with self.store.session() as s:
            ids = list(s.scalars(select(e.EventRow.id).where(e.EventRow.finalized.is_(None))))
        for event_id in ids:
            try:
                event = catalog.event(self.store, event_id)
            except WorkbenchError as exc:
                self.log.warning("workbench: event '%s' skipped: %s", event_id, exc.message)
                continue
            now = utcnow()
            if scoring_runs.migrate(self.store, event, now):
                self.log.info("workbench: event '%s': earlier submissions queued for the new phase", event_id)
            scoring_runs.fail_overdue(self.store, event, now)

    def _score_next(self) -> bool:
        claimed = scoring_runs.claim(self.store)
        if claimed is None:
            return False
        try:
            event = catalog.event(self.store, claimed["event"])
        except WorkbenchError as exc:
            scoring_runs.fail(self.store, claimed["id"], exc.message)
            return True
        limit = scoring_runs.time_limit(event, claimed["kind"])
        worker = threading.Thread(target=scoring_runs.score, args=(self.store, event, claimed, self.lab_python,
                                                                  self.inventory),
                                  name=f"workbench-score-{claimed['id']}", daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            scoring_runs.fail(self.store, claimed["id"], f"scoring did not finish within {limit:g} s (the event's "
                              "time limit); this does not count against your limits")
            self.log.error("workbench: scoring submission %d overran %g s; left behind", claimed["id"], limit)
        return True
