"""Hackathon submissions, boards, finalize and exports over REST.

``POST events/<id>/submissions`` takes JSON: ``{"kind": "predictions"|"notebook", "content_base64":
"..."}`` (the file's bytes, base64), or ``{"kind": ..., "path": "<file in your space>"}``, which a
personal server reads from its own contents manager and a single-user server under the hub reads
and relays as ``content_base64`` (``relay.py``). JSON with base64, not a raw body, so the route
takes one content type and the hub relay forwards it unchanged. The submission is stored and
queued; the server's event scorer scores it (``event_scoring``). A team member sees their own
team's submissions and files only: another team's is 403, as is any private score before finalize.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.errors import NotFoundError
from workbench.hackathon import board, catalog, export, submissions
from workbench.hackathon.model import Event
from workbench.server.events import EventHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.store.models import utcnow


def _id(text: str) -> int:
    if not text.isdigit():
        raise web.HTTPError(404, f"no submission '{text}'; submission ids are numbers")
    return int(text)


class EventSubmissionsHandler(EventHandler):
    @web.authenticated
    @authorized
    async def post(self, event_id: str) -> None:
        event = self.event(event_id)
        team = self.require_team(event)
        body = self.json_body()
        kind = self.text_field(body, "kind")
        data = await self._content(body)
        sub = submissions.accept(self.store, event, team, self.username, kind, data, utcnow(),
                                 Path(self.workbench.data_dir))
        scoring = self.settings.get("workbench_event_scoring")
        if scoring is not None:
            scoring.wake()
        self.send(submissions.visible(sub, event, False), status=202)

    async def _content(self, body: dict[str, Any]) -> bytes:
        encoded, path = body.get("content_base64"), body.get("path")
        if isinstance(encoded, str):
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise web.HTTPError(400, f'"content_base64" is not base64 ({exc}); encode the file\'s bytes') from exc
        if isinstance(path, str) and path and not self.workbench.hub_service:
            contents = self.contents_manager
            if not await ensure_async(contents.file_exists(path)):
                raise NotFoundError(f"{path} is not a file in your space")
            model = await ensure_async(contents.get(path, content=True, type="file", format="base64"))
            return base64.b64decode(model["content"])
        raise web.HTTPError(400, 'send {"kind": "predictions" or "notebook", "content_base64": "<the file, '
                                 'base64>"} (or "path": "<file in your space>")')

    @web.authenticated
    @authorized
    def get(self, event_id: str) -> None:
        event = self.event(event_id)
        if self.organises(event):
            self.send({"submissions": submissions.listing(self.store, event.id, self.get_argument("team", None))})
            return
        team = self.require_team(event)
        done = catalog.finalized(self.store, event.id)
        self.send({"team": team, "submissions": [submissions.visible(sub, event, done)
                                                 for sub in submissions.listing(self.store, event.id, team)]})


class EventSubmissionHandler(EventHandler):
    def own(self, event: Event, sub_id: str) -> dict[str, Any]:
        sub = submissions.get(self.store, event.id, _id(sub_id))
        if not self.organises(event) and sub["team"] != self.my_team(event):
            raise web.HTTPError(403, f"submission {sub['id']} belongs to another team; teams see only their own")
        return sub

    @web.authenticated
    @authorized
    def get(self, event_id: str, sub_id: str) -> None:
        event = self.event(event_id)
        sub = self.own(event, sub_id)
        self.send(sub if self.organises(event) else
                  submissions.visible(sub, event, catalog.finalized(self.store, event.id)))


class EventSubmissionFileHandler(EventSubmissionHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str, sub_id: str) -> None:
        event = self.event(event_id)
        sub = submissions.get(self.store, event.id, _id(sub_id))
        self.own(event, sub_id)
        path = Path(self.store_path(sub["id"]))
        self.set_header("Content-Type", "text/csv" if sub["kind"] == "predictions" else "application/x-ipynb+json")
        self.finish(path.read_bytes())

    def store_path(self, sub_id: int) -> str:
        from workbench.store import events_models as e

        with self.store.session() as s:
            row = s.get(e.EventSubmission, sub_id)
            assert row is not None
            return row.path


class ChooseHandler(EventHandler):
    @web.authenticated
    @authorized
    def post(self, event_id: str) -> None:
        event = self.event(event_id)
        team = self.require_team(event)
        ids = self.json_body().get("submissions")
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise web.HTTPError(400, 'send {"submissions": [<id>, ...]}: your final entries')
        for sub_id in ids:
            if submissions.get(self.store, event.id, sub_id)["team"] != team:
                raise web.HTTPError(403, f"submission {sub_id} belongs to another team; choose your own team's")
        self.send({"chosen": [s["id"] for s in submissions.choose(self.store, event, team, ids)]})


class BoardHandler(EventHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str) -> None:
        event = self.event(event_id)
        if self.get_argument("private", "") in ("1", "true"):
            if not catalog.finalized(self.store, event.id):
                raise web.HTTPError(403, f"the private board of event '{event.id}' is revealed at finalize, after "
                                         f"the window closes ({event.closes.isoformat()})")
            self.send(board.private_board(self.store, event))
            return
        self.send(board.public_board(self.store, event, self.get_argument("phase", None), self.organises(event)))


class FinalizeHandler(EventHandler):
    @web.authenticated
    @authorized
    def post(self, event_id: str) -> None:
        event = self.event(event_id)
        self.require_organiser(event)
        self.send(board.finalize(self.store, event, utcnow()))


class ExportHandler(EventHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str, what: str) -> None:
        event = self.event(event_id)
        self.require_organiser(event)
        if what not in ("board.csv", "submissions.csv"):
            raise web.HTTPError(404, f"no export '{what}'; exports are board.csv and submissions.csv")
        text = export.final_board_csv(self.store, event) if what == "board.csv" else \
            export.records_csv(self.store, event)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{event.id}-{what}"')
        self.finish(text)


_E = r"events/(?P<event_id>[^/]+)"
ROUTES = [
    (f"{_E}/submissions", EventSubmissionsHandler),
    (rf"{_E}/submissions/(?P<sub_id>[^/]+)", EventSubmissionHandler),
    (rf"{_E}/submissions/(?P<sub_id>[^/]+)/file", EventSubmissionFileHandler),
    (f"{_E}/choose", ChooseHandler),
    (f"{_E}/board", BoardHandler),
    (f"{_E}/finalize", FinalizeHandler),
    (rf"{_E}/export/(?P<what>[^/]+)", ExportHandler),
]
_OBJ = {"description": "JSON object", "content": {"application/json": {"schema": {"type": "object"}}}}
_CSV = {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
_EV = [param("event_id")]
_SUB = [*_EV, param("sub_id")]
PATHS = {
    "/events/{event_id}/submissions": {
        "post": {"summary": "Submit for the caller's team: stored immutably with its hash and queued for scoring; "
                            "refused (400, the reason and when the next is allowed) outside the window or over "
                            "the per-day (event time zone) or total limit; failed ones do not count",
                 "parameters": _EV, "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["kind"], "properties": {
                         "kind": {"type": "string", "enum": ["predictions", "notebook"]},
                         "content_base64": {"type": "string", "description": "the file's bytes, base64"},
                         "path": {"type": "string", "description": "or a file in the caller's space"}}}}}},
                 "responses": {"202": _OBJ, **ERRORS, **NOT_FOUND}},
        "get": {"summary": "The caller's team's submissions with status and reason (every team's for organisers, "
                           "?team= to filter); private scores only after finalize",
                "parameters": _EV, "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/submissions/{sub_id}": {"get": {
        "summary": "One submission (own team's, or any for organisers; another team's is 403)",
        "parameters": _SUB, "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/submissions/{sub_id}/file": {"get": {
        "summary": "The stored file of a submission (own team's, or any for organisers; another team's is 403)",
        "parameters": _SUB, "responses": {"200": {"description": "the CSV or notebook as stored"},
                                          **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/choose": {"post": {
        "summary": "The team's final entries for the 'chosen' rule: up to k scored submissions",
        "parameters": _EV, "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["submissions"],
            "properties": {"submissions": {"type": "array", "items": {"type": "integer"}}}}}}},
        "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/board": {"get": {
        "summary": "Public board of a phase (?phase=, default the one open now; a blind phase shows teams only "
                   "'received' counts), or ?private=1: the private board with shake-up, after finalize (403 before)",
        "parameters": [*_EV, {"name": "phase", "in": "query", "required": False, "schema": {"type": "string"}},
                       {"name": "private", "in": "query", "required": False, "schema": {"type": "string"}}],
        "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/finalize": {"post": {
        "summary": "Pick each team's final entries by the rule and reveal the private board (organisers, after "
                   "the window)", "parameters": _EV, "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/export/{what}": {"get": {
        "summary": "Organisers: board.csv (final board, after finalize) or submissions.csv (every record)",
        "parameters": [*_EV, {"name": "what", "in": "path", "required": True,
                              "schema": {"type": "string", "enum": ["board.csv", "submissions.csv"]}}],
        "responses": {"200": _CSV, **ERRORS, **NOT_FOUND}}},
}
