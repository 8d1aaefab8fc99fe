"""Submit, grades and feedback over REST: what the Submit button and the Gradebook panel call.

``POST submissions`` takes the student's *current* ``<course>/<lab>.ipynb``: from the body (a
single-user server under the hub sends it to the workbench service), or on a personal server from
its own contents manager. It stores it by temp file + rename with a hash row, and queues grading on
the server's grading thread (``grading_queue``, never on the event loop). Students
see only their own submissions, grades and feedback; instructors see everyone's, set manual
points and trigger a class re-grade of the stored submissions.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.curriculum import catalog
from workbench.errors import NotFoundError
from workbench.grading import autograde, class_view, feedback, gradebook
from workbench.server.base import WorkbenchHandler
from workbench.server.grading_queue import GradingQueue
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.store.models import utcnow


def _id(text: str) -> int:
    if not text.isdigit():
        raise web.HTTPError(404, f"no submission '{text}'; submission ids are numbers (GET submissions)")
    return int(text)


class GradingHandler(WorkbenchHandler):
    @property
    def grading(self) -> GradingQueue:
        return self.settings["workbench_grading"]

    def course_lab(self, body: dict[str, Any] | None = None) -> tuple[str, str]:
        get = (lambda k: body.get(k)) if body is not None else (lambda k: self.get_argument(k, None))
        course, lab = get("course"), get("lab")
        if not isinstance(course, str) or not course or not isinstance(lab, str) or not lab:
            raise web.HTTPError(400, 'name the lab: {"course": "<course id>", "lab": "<lab id>"}')
        return course, lab

    def own_or_instructor(self, sub: dict[str, Any]) -> None:
        if sub["student"] != self.username:
            self.require_instructor(sub["course"])


class SubmissionsHandler(GradingHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        course, lab = self.course_lab(body)
        source = catalog.lab_notebook(self.store, course, lab)
        notebook = body.get("notebook")
        if notebook is None:  # a personal server reads the student's copy itself
            notebook = await self._own_copy(course, lab)
        elif not isinstance(notebook, dict):
            raise web.HTTPError(400, '"notebook" must be the notebook\'s JSON (nbformat 4)')
        data = nbformat.writes(nbformat.from_dict(notebook)).encode()
        stored, sha = gradebook.store_file(data, Path(self.workbench.data_dir), course, lab,
                                           gradebook.check_name(self.username, "user"))
        [(sub_id, todo)] = gradebook.add_submissions(
            self.store, course, lab, [gradebook.Incoming(self.username, stored, sha, utcnow())],
            autograde.source_digest(source))
        if todo:
            self.grading.queue(course, lab, [(sub_id, stored)])
        self.send(gradebook.submission(self.store, sub_id, outputs=False), status=202 if todo else 200)

    async def _own_copy(self, course: str, lab: str) -> dict[str, Any]:
        path = posixpath.join(course, f"{lab}.ipynb")
        contents = self.contents_manager
        if self.workbench.hub_service or not await ensure_async(contents.file_exists(path)):
            raise NotFoundError(f"{path} is not in your space; open the lab first (Courses panel → Open)")
        model = await ensure_async(contents.get(path, content=True, type="notebook"))
        return dict(model["content"])

    @web.authenticated
    @authorized
    def get(self) -> None:
        course = self.get_argument("course", None)
        if not course:
            raise web.HTTPError(400, "add ?course=<course id> (and optionally &lab=<lab id>)")
        mine = not self.instructs(course)
        found = gradebook.submissions(self.store, course, self.get_argument("lab", None),
                                      student=self.username if mine else None)
        self.send({"submissions": found})


class GradesHandler(GradingHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        course, lab = self.course_lab()
        mine = not self.instructs(course)
        latest = gradebook.submissions(self.store, course, lab, student=self.username if mine else None,
                                       latest_only=True)
        tasks: list[str] = []
        for sub in latest:
            tasks += [t["id"] for t in sub["tasks"] if t["id"] not in tasks]
        rows = [{"student": s["student"], "submission": s["id"], "status": s["status"], "score": s["score"],
                 "max_score": s["max_score"], "penalty": s["penalty"], "needs_manual": s["needs_manual"],
                 "points": {t["id"]: t["points"] for t in s["tasks"]}} for s in latest]
        book: dict[str, Any] = {"course": course, "lab": lab, "tasks": tasks, "rows": rows}
        if not mine:  # the class at a glance: histograms and the tasks lost to a limit (class_view.py)
            book["overview"] = class_view.overview(latest)
        self.send(book)


class TaskGradeHandler(GradingHandler):
    @web.authenticated
    @authorized
    def put(self, submission_id: str, task_id: str) -> None:
        self.require_instructor()
        body = self.json_body()
        points = body.get("points")
        if not isinstance(points, (int, float)) or isinstance(points, bool):
            raise web.HTTPError(400, 'send {"points": <number>, "comment": "<why>"}')
        sub = gradebook.submission(self.store, _id(submission_id), outputs=False)
        self.require_instructor(sub["course"])
        self.send(gradebook.set_points(self.store, sub["course"], sub["lab"], sub["student"], task_id,
                                       float(points), str(body.get("comment", "")), self.username,
                                       submission_id=_id(submission_id)))


class AutogradeHandler(GradingHandler):
    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self.json_body()
        course, lab = self.course_lab(body)
        self.require_instructor(course)
        source = catalog.lab_notebook(self.store, course, lab)
        pending = autograde.stored_pending(self.store, course, lab, autograde.source_digest(source),
                                          force=bool(body.get("force")))
        workers = body.get("workers")
        self.grading.queue(course, lab, pending, workers=int(workers) if workers else None)
        self.send({"queued": [sub_id for sub_id, _ in pending]}, status=202)


class FeedbackHandler(GradingHandler):
    @property
    def content_security_policy(self) -> str:
        """jupyter_server's API policy (``default-src 'none'``) plus exactly what the page needs: its
        one style block (by hash) and its embedded chart (``data:``); still no script of any kind."""
        return f"{super().content_security_policy}; {feedback.CSP}"

    @web.authenticated
    @authorized
    def get(self, submission_id: str) -> None:
        sub = gradebook.submission(self.store, _id(submission_id))
        self.own_or_instructor(sub)
        if self.get_argument("format", "html") == "json":
            self.send(sub)
            return
        self.finish(feedback.render(sub), set_content_type="text/html; charset=UTF-8")


ROUTES = [
    ("submissions", SubmissionsHandler),
    ("grades", GradesHandler),
    (r"grades/(?P<submission_id>[^/]+)/(?P<task_id>[^/]+)", TaskGradeHandler),
    ("autograde", AutogradeHandler),
    (r"feedback/(?P<submission_id>[^/]+)", FeedbackHandler),
]
_OBJ = {"description": "JSON object", "content": {"application/json": {"schema": {"type": "object"}}}}
_LAB_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["course", "lab"],
    "properties": {"course": {"type": "string"}, "lab": {"type": "string"}}}}}}
_QUERY = [{"name": "course", "in": "query", "required": True, "schema": {"type": "string"}},
          {"name": "lab", "in": "query", "required": False, "schema": {"type": "string"}}]
PATHS = {
    "/submissions": {
        "post": {"summary": "Submit the user's current <course>/<lab>.ipynb; stored with its hash, grading queued",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["course", "lab"],
                     "properties": {"course": {"type": "string"}, "lab": {"type": "string"},
                                    "notebook": {"type": "object", "description": "the notebook (nbformat 4); "
                                                 "omitted on a personal server, which reads its own copy"}}}}}},
                 "responses": {"202": {**_OBJ, "description": "stored, grading queued"},
                               "200": {**_OBJ, "description": "identical to a graded submission"},
                               **ERRORS, **NOT_FOUND}},
        "get": {"summary": "Own submissions (every student's for instructors), newest first", "parameters": _QUERY,
                "responses": {"200": _OBJ, **ERRORS}}},
    "/grades": {"get": {"summary": "Latest grade per student: own row, or for instructors a students x tasks "
                                   "table with an overview (score histograms per lab and task, tasks failed for "
                                   "a limit)", "parameters": _QUERY, "responses": {"200": _OBJ, **ERRORS}}},
    "/grades/{submission_id}/{task_id}": {"put": {
        "summary": "Manual points for one task (instructor); the newest adjustment wins",
        "parameters": [param("submission_id"), param("task_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["points"],
            "properties": {"points": {"type": "number"}, "comment": {"type": "string"}}}}}},
        "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/autograde": {"post": {"summary": "Re-grade the lab's stored submissions not yet graded against the "
                                       "current source (instructor; force: all)", "requestBody": _LAB_BODY,
                            "responses": {"202": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/feedback/{submission_id}": {"get": {
        "summary": "Feedback for a submission: HTML page, or ?format=json (own, or any for instructors)",
        "parameters": [param("submission_id")],
        "responses": {"200": {"description": "text/html, or JSON with ?format=json"}, **ERRORS, **NOT_FOUND}}},
}
