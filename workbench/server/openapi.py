"""``GET openapi.json``: the API described for humans and generated clients.

Each handler module documents its own routes in ``PATHS`` (and new schemas in ``SCHEMAS``) next to
the code; this module merges them. The test suite checks every mounted route is described.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench._version import __version__
from workbench.server.base import WorkbenchHandler


def ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


ERRORS = {
    "403": {"description": "no valid token, or the user's role does not allow this",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}
NOT_FOUND = {"404": {"description": "no such course, lab or kernel",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


def param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "AICC Workbench API",
        "version": __version__,
        "description": "REST API of the workbench jupyter_server extension. Authenticate as for "
        "any Jupyter API: `Authorization: token <token>` or the login cookie.",
    },
    "servers": [{"url": "/workbench/api/v1"}],
    "components": {
        "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string", "description": "what went wrong and what to do"},
                "problems": {"type": "array", "items": {"type": "string"}}}},
            "Health": {"type": "object", "required": ["version", "store", "devices"], "properties": {
                "version": {"type": "string"},
                "store": {"type": "string", "enum": ["sqlite", "postgresql"]},
                "devices": {"type": "object"}}},
            "Me": {"type": "object", "required": ["user", "role"], "properties": {
                "user": {"type": "string"},
                "role": {"type": "string", "enum": ["student", "instructor"]}}},
            "Device": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["npu", "gpu", "cpu"]},
                "count": {"type": "integer", "minimum": 1},
                "fallback": {"type": "array", "items": {"$ref": "#/components/schemas/Device"}}}},
            "Lab": {"type": "object", "required": ["id", "title", "points"], "properties": {
                "id": {"type": "string"}, "title": {"type": "string"},
                "points": {"type": "number"},
                "due": {"type": ["string", "null"], "format": "date-time"},
                "device": {"$ref": "#/components/schemas/Device"},
                "frameworks": {"type": "array", "items": {"type": "string"}},
                "grading": {"type": "object", "description": "the grader's limits for this lab",
                            "additionalProperties": {"type": "number"}}}},
            "Course": {"type": "object", "required": ["id", "title", "labs"], "properties": {
                "id": {"type": "string"}, "title": {"type": "string"},
                "description": {"type": "string"},
                "labs": {"type": "array", "items": {"$ref": "#/components/schemas/Lab"}}}},
            "CourseList": {"type": "object", "required": ["courses"], "properties": {
                "courses": {"type": "array", "items": {"$ref": "#/components/schemas/Course"}}}},
            "OpenedLab": {"type": "object", "required": ["path", "created"], "properties": {
                "path": {"type": "string", "description": "notebook path under the server root"},
                "created": {"type": "boolean"}}},
            "KernelDevice": {"type": "object", "required": ["kernel_id", "device"], "properties": {
                "kernel_id": {"type": "string"}, "device": {"type": "string"},
                "lease": {"type": ["integer", "null"]},
                "time_left_s": {"type": ["number", "null"]},
                "queue_position": {"type": ["integer", "null"]},
                "team": {"type": ["string", "null"], "description": "an event kernel's team (its lease holder)"},
                "team_hours_left": {"type": ["number", "null"],
                                    "description": "device-hours the team's event quota has left"}}},
        },
    },
    "security": [{"token": []}],
    "paths": {},
}


def document(modules: tuple[ModuleType, ...]) -> dict[str, Any]:
    """The full OpenAPI document: the shared parts plus every module's PATHS and SCHEMAS."""
    spec = copy.deepcopy(SPEC)
    for module in modules:
        spec["paths"].update(getattr(module, "PATHS", {}))
        spec["components"]["schemas"].update(getattr(module, "SCHEMAS", {}))
    return spec


class OpenAPIHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send(self.settings["workbench_openapi"])


ROUTES = [("openapi.json", OpenAPIHandler)]
PATHS = {"/openapi.json": {"get": {"summary": "This document",
                                   "responses": {"200": {"description": "OpenAPI 3.1"}}}}}
