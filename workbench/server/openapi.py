"""``GET openapi.json``: the API described for humans and generated clients.

The test suite checks that every route the server mounts is described here.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench._version import __version__
from workbench.server.base import WorkbenchHandler


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_ERRORS = {
    "403": {"description": "no valid token, or the user's role does not allow this",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}
_NOT_FOUND = {"404": {"description": "no such course, lab or kernel",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


def _param(name: str) -> dict[str, Any]:
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
                "frameworks": {"type": "array", "items": {"type": "string"}}}},
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
                "queue_position": {"type": ["integer", "null"]}}},
        },
    },
    "security": [{"token": []}],
    "paths": {
        "/health": {"get": {"summary": "Version, store kind and device inventory summary",
                            "responses": {"200": _ok("health", "Health"), **_ERRORS}}},
        "/me": {"get": {"summary": "The current user and role",
                        "responses": {"200": _ok("user", "Me"), **_ERRORS}}},
        "/courses": {
            "get": {"summary": "Registered courses with their labs",
                    "responses": {"200": _ok("courses", "CourseList"), **_ERRORS}},
            "post": {"summary": "Register or update a course directory on the server (instructor)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["path"],
                         "properties": {"path": {"type": "string"}}}}}},
                     "responses": {"200": _ok("updated", "Course"), "201": _ok("added", "Course"),
                                   "400": {"description": "invalid course; every problem listed"},
                                   **_ERRORS}},
        },
        "/courses/{course_id}": {"get": {
            "summary": "One course", "parameters": [_param("course_id")],
            "responses": {"200": _ok("course", "Course"), **_ERRORS, **_NOT_FOUND}}},
        "/courses/{course_id}/labs/{lab_id}/open": {"post": {
            "summary": "Copy the lab's student version into the user's space (once) and return its path",
            "parameters": [_param("course_id"), _param("lab_id")],
            "responses": {"200": _ok("already there", "OpenedLab"), "201": _ok("copied", "OpenedLab"),
                          **_ERRORS, **_NOT_FOUND}}},
        "/kernels/{kernel_id}/device": {"get": {
            "summary": "Device, lease, time left and queue position of a running kernel",
            "parameters": [_param("kernel_id")],
            "responses": {"200": _ok("device", "KernelDevice"), **_ERRORS, **_NOT_FOUND}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
}


class OpenAPIHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send(SPEC)


ROUTES = [("openapi.json", OpenAPIHandler)]
