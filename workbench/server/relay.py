"""A single-user server under JupyterHub relays the workbench API to the workbench service.

The service (``workbench.service``) holds the store, the course sources and the grader; this
server holds the user's files and kernels and the user's own hub token. So four endpoints run
here and ask the service for what they need — opening a lab (the student version comes from the
service), submitting (the notebook is read here and sent), a hackathon submission named by a path
in the user's space (read here, sent as base64), and a kernel's device (the kernel is here, its
lease there) — and every other request goes to the service unchanged, with the user's
token: the service decides what this user may see, never this server, whose configuration the
user can write.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import httpclient, web

from workbench.errors import NotFoundError
from workbench.server.base import API_PREFIX, WorkbenchHandler
from workbench.server.courses import OpenLabHandler
from workbench.service.client import ServiceClient, api_url, auth_header


class ServiceRelay(WorkbenchHandler):
    """Forwards one request to the service and its answer back, status and body as they are."""

    @property
    def service_url(self) -> str:
        return self.workbench.effective_service_url

    async def relay(self, method: str, path: str, body: bytes | None = None) -> None:
        url = api_url(self.service_url, path)
        if self.request.query:
            url += "?" + self.request.query
        request = httpclient.HTTPRequest(url, method=method, body=body, headers={
            **auth_header(), "Content-Type": "application/json"}, request_timeout=60,
            allow_nonstandard_methods=True)
        try:
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as exc:
            raise web.HTTPError(502, f"the workbench service at {self.service_url} cannot be reached ({exc}); "
                                     "ask the center's admin whether it runs") from exc
        if response.code == 599:
            raise web.HTTPError(502, f"the workbench service at {self.service_url} did not answer "
                                     f"({response.error}); ask the center's admin whether it runs")
        self.set_status(response.code)
        self.set_header("Content-Type", response.headers.get("Content-Type", "application/json"))
        policy = response.headers.get("Content-Security-Policy")
        if policy and response.headers.get("Content-Type", "").startswith("text/html"):
            self.set_header("Content-Security-Policy", policy)  # the service's page says what it needs
        self.finish(response.body)


class ProxyHandler(ServiceRelay):
    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self.relay("GET", path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self.relay("POST", path, self.request.body or b"{}")

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self.relay("PUT", path, self.request.body or b"{}")


class SubmitRelay(ServiceRelay):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.relay("GET", "submissions")

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """The student's current copy goes to the service in the body; the service stores and grades it."""
        body = self.json_body()
        course, lab = body.get("course"), body.get("lab")
        if not isinstance(course, str) or not course or not isinstance(lab, str) or not lab:
            raise web.HTTPError(400, 'name the lab: {"course": "<course id>", "lab": "<lab id>"}')
        path = posixpath.join(course, f"{lab}.ipynb")
        contents = self.contents_manager
        if not await ensure_async(contents.file_exists(path)):
            raise NotFoundError(f"{path} is not in your space; open the lab first (Courses panel → Open)")
        model = await ensure_async(contents.get(path, content=True, type="notebook"))
        payload = {"course": course, "lab": lab, "notebook": model["content"]}
        await self.relay("POST", "submissions", json.dumps(payload).encode())


class EventSubmitRelay(ServiceRelay):
    @web.authenticated
    @authorized
    async def get(self, event_id: str) -> None:
        await self.relay("GET", f"events/{event_id}/submissions")

    @web.authenticated
    @authorized
    async def post(self, event_id: str) -> None:
        """A hackathon submission named by ``path`` is a file in the user's space, which only this
        server reads: it goes to the service as ``content_base64``, as a lab's notebook does above."""
        body = self.json_body()
        path = body.pop("path", None)
        if isinstance(path, str) and path and "content_base64" not in body:
            contents = self.contents_manager
            if not await ensure_async(contents.file_exists(path)):
                raise NotFoundError(f"{path} is not a file in your space")
            model = await ensure_async(contents.get(path, content=True, type="file", format="base64"))
            body["content_base64"] = model["content"].replace("\n", "")
        await self.relay("POST", f"events/{event_id}/submissions", json.dumps(body).encode())


class OpenLabRelay(OpenLabHandler):
    async def student_lab(self, course_id: str, lab_id: str) -> dict[str, Any]:
        client = ServiceClient(self.workbench.effective_service_url)
        return dict(await asyncio.to_thread(client.get_json, f"courses/{course_id}/labs/{lab_id}/student"))


ROUTES = [
    (r"courses/(?P<course_id>[^/]+)/labs/(?P<lab_id>[^/]+)/open", OpenLabRelay),
    ("submissions", SubmitRelay),
    (r"events/(?P<event_id>[^/]+)/submissions", EventSubmitRelay),
]
PROXY_ROUTE = (rf"/{API_PREFIX}/(?P<path>.*)", ProxyHandler)
