"""``GET grading/workers``: the server's warm grading workers and what the last grading runs paid.

Why: an instructor who autogrades a class twice should be able to see that the second run reused
the first one's workers (no interpreter or import start), and an admin how much of the machine idle
workers hold and when they go (``Workbench.grading_idle_s``). Instructors only: it names labs'
interpreters and imports, never a student's data.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.server.base import WorkbenchHandler
from workbench.server.grading_queue import GradingQueue
from workbench.server.openapi import ERRORS


class GradingWorkersHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.require_instructor()
        grading: GradingQueue = self.settings["workbench_grading"]
        self.send({"idle_s": grading.warm.idle_s, "images": grading.warm.describe(), "runs": list(grading.runs)})


ROUTES = [("grading/workers", GradingWorkersHandler)]
PATHS = {"/grading/workers": {"get": {
    "summary": "Warm grading workers per lab image (pid, busy, idle seconds; closed after Workbench.grading_idle_s "
               "unused) and the last grading runs with their worker costs: started, cloned or reused, and "
               "the seconds starting took (instructor)",
    "responses": {"200": {"description": "JSON object: idle_s, images, runs"}, **ERRORS}}}}
