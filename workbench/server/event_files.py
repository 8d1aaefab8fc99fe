"""Opening an event: the starter notebook and the public files into the participant's own space.

The service (or a personal server) owns the event directory, whose ``hidden/labels`` no participant
may read; what a team may have — the starter notebook, the training data and the hidden *inputs*
(as Kaggle gives its test.csv) — is sent as ``GET events/{id}/starter`` and written by the
participant's own server under ``events/<id>/`` (``POST events/{id}/open``), once: reopening keeps
their work. The notebook is marked ``metadata.workbench.event`` so the notebook toolbar offers
"Submit predictions" and "Submit notebook" for that event, and runs on the event's kernel spec
(``workbench-event-<id>``, written into the user's own Jupyter data directory): the device kernel
spec of the event's quota kind with ``course: event:<id>``, so its kernel leases as the user's team
(``workbench.devices.team_holders``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import posixpath
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.paths import jupyter_data_dir
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.grading.sandbox import safe_relative
from workbench.hackathon import catalog
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.service.client import ServiceClient
from workbench.store import Store

STARTER = "starter.ipynb"


def event_starter(store: Store, event_id: str) -> dict[str, Any]:
    """The starter notebook (marked with its event) and the files a team may read, base64 by path
    relative to the event directory — never the labels, whatever event.yaml names."""
    event = catalog.event(store, event_id)
    notebook = nbformat.read(event.task.starter, as_version=4)
    notebook.metadata.setdefault("workbench", {})["event"] = event.id
    files = {}
    for path in (event.task.train, event.task.hidden_inputs):
        if path.is_file() and path != event.task.hidden_labels:
            files[path.relative_to(event.root).as_posix()] = base64.b64encode(path.read_bytes()).decode()
    return {"event": event.id, "title": event.title, "device": event.quota.kind, "notebook": notebook,
            "files": files}


class StarterHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str) -> None:
        self.send(event_starter(self.store, event_id))


class OpenEventHandler(WorkbenchHandler):
    """Write the starter and the public files into ``events/<id>/`` of the caller's space, once."""

    async def starter(self, event_id: str) -> dict[str, Any]:
        """From the store here; a hub client asks the workbench service, which owns the event."""
        if self.workbench.effective_service_url:
            client = ServiceClient(self.workbench.effective_service_url)
            return dict(await asyncio.to_thread(client.get_json, f"events/{event_id}/starter"))
        return event_starter(self.store, event_id)

    @web.authenticated
    @authorized
    async def post(self, event_id: str) -> None:
        contents = self.contents_manager
        folder = posixpath.join("events", safe_relative(event_id))
        path = posixpath.join(folder, STARTER)
        if await ensure_async(contents.file_exists(path)):
            self.send({"path": path, "created": False})
            return
        starter = await self.starter(event_id)
        await self._folders(folder)
        for rel, encoded in sorted(starter["files"].items()):
            target = posixpath.join(folder, safe_relative(rel))
            await self._folders(posixpath.dirname(target))
            if not await ensure_async(contents.file_exists(target)):
                await ensure_async(contents.save({"type": "file", "format": "base64", "content": encoded}, target))
        notebook = nbformat.from_dict(starter["notebook"])
        self._event_kernel(notebook, starter)
        await ensure_async(contents.save({"type": "notebook", "format": "json", "content": notebook}, path))
        self.send({"path": path, "created": True}, status=201)

    def _event_kernel(self, notebook: nbformat.NotebookNode, starter: dict[str, Any]) -> None:
        """Write ``workbench-event-<id>`` (the device spec of the event's kind, leasing for the team) into
        the user's Jupyter data directory and point the notebook at it; without the workbench device
        specs installed the notebook keeps its own kernel."""
        base, specs = f"workbench-{starter['device']}", self.kernel_spec_manager
        if base not in specs.find_kernel_specs():
            return
        spec = specs.get_kernel_spec(base).to_dict()
        spec["display_name"] = f"Python 3 ({starter['device'].upper()}, {starter['title']} team)"
        spec.setdefault("metadata", {}).setdefault("kernel_provisioner", {}).setdefault("config", {})[
            "course"] = f"event:{starter['event']}"
        name = f"workbench-event-{starter['event']}"
        folder = Path(jupyter_data_dir()) / "kernels" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
        notebook.metadata["kernelspec"] = {"name": name, "display_name": spec["display_name"],
                                           "language": spec.get("language", "python")}

    async def _folders(self, folder: str) -> None:
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            here = "/".join(parts[:depth])
            if not await ensure_async(self.contents_manager.dir_exists(here)):
                await ensure_async(self.contents_manager.save({"type": "directory"}, here))


_E = r"events/(?P<event_id>[^/]+)"
ROUTES = [(f"{_E}/starter", StarterHandler), (f"{_E}/open", OpenEventHandler)]
# A hub client runs `open` itself (the files go into its user's space); `starter` it relays.
CLIENT_ROUTES = [(f"{_E}/open", OpenEventHandler)]
_OBJ = {"description": "JSON object", "content": {"application/json": {"schema": {"type": "object"}}}}
PATHS = {
    "/events/{event_id}/starter": {"get": {
        "summary": "The starter notebook and the files a team may read (training data, hidden inputs; never "
                   "the labels), base64 by path",
        "parameters": [param("event_id")], "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/open": {"post": {
        "summary": "Write the starter and the public files into events/<id>/ of the caller's space, once "
                   "(201; 200 with created false when already there)",
        "parameters": [param("event_id")], "responses": {"200": _OBJ, "201": _OBJ, **ERRORS, **NOT_FOUND}}},
}
