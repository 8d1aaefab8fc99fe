"""Calls to the workbench hub service from a user's side: the single-user server, its kernel
provisioner and its kernels. Each call carries the user's own hub token (``JUPYTERHUB_API_TOKEN``),
so the service knows who asks from the hub, never from anything the caller claims.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from workbench.errors import WorkbenchError

API = "workbench/api/v1"
ENV_TOKEN = "JUPYTERHUB_API_TOKEN"


class ServiceError(WorkbenchError):
    """The service refused or could not be reached; the message is the service's own when it sent one."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def with_moments(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The service's JSON with the ISO times under ``keys`` as datetimes again, as the store gives them."""
    for key in keys:
        if isinstance(data.get(key), str):
            data[key] = datetime.fromisoformat(data[key])
    return data


def api_url(service_url: str, path: str, query: dict[str, str] | None = None) -> str:
    url = f"{service_url.rstrip('/')}/{API}/{path.lstrip('/')}"
    return f"{url}?{urllib.parse.urlencode(query)}" if query else url


def auth_header() -> dict[str, str]:
    token = os.environ.get(ENV_TOKEN, "")
    if not token:
        raise ServiceError(f"${ENV_TOKEN} is not set: this server was not started by JupyterHub, so it cannot "
                           "reach the workbench service (unset WORKBENCH_SERVICE_URL for a personal server)")
    return {"Authorization": f"token {token}"}


class ServiceClient:
    """Blocking JSON calls (threads and kernels); the server's own handlers use tornado's client."""

    def __init__(self, service_url: str, timeout: float = 30.0) -> None:
        self.service_url = service_url
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(api_url(self.service_url, path, query), data=data, method=method,
                                         headers={**auth_header(), "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                message = json.loads(raw).get("error") or raw.decode(errors="replace")
            except (json.JSONDecodeError, AttributeError):
                message = raw.decode(errors="replace") or err.reason
            raise ServiceError(str(message), err.code) from None
        except OSError as exc:
            raise ServiceError(f"the workbench service at {self.service_url} cannot be reached ({exc}); "
                               "ask the center's admin whether it runs") from None

    def get_json(self, path: str, query: dict[str, str] | None = None) -> Any:
        return self.call("GET", path, query=query)

    def post_json(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})
