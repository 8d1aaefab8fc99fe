"""The service's Jupyter server answers the workbench API and nothing else.

Every hub user may reach the service (the hub grants ``access:services!service=workbench``), and a
Jupyter server also serves its account's files, kernels and terminals. Those would hand a student
the course sources and code running as the service, so only the ``workbench`` resource is
authorized; the workbench handlers then check each row against the user's roles.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer

RESOURCE = "workbench"


class WorkbenchOnlyAuthorizer(Authorizer):
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource == RESOURCE
