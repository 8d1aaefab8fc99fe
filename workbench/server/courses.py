"""Courses: list, show, register (instructors), and open a lab into the user's space."""

from __future__ import annotations

import base64
import posixpath
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from nbformat import NotebookNode
from tornado import web

from workbench.curriculum import catalog, load_course
from workbench.curriculum.release import student_version
from workbench.grading import lab_files
from workbench.grading.sandbox import safe_relative
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, ok, param
from workbench.server.roles import EVERY_COURSE
from workbench.store import Store


class CoursesHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send({"courses": catalog.list_courses(self.store)})

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Register a course directory that lives on the server (instructors of every course only)."""
        self.require_instructor(EVERY_COURSE)
        path = self.json_body().get("path")
        if not isinstance(path, str) or not path:
            raise web.HTTPError(400, 'send {"path": "<course directory on the server>"}')
        course = load_course(path)
        created = catalog.register(self.store, course)
        self.send(catalog.get_course(self.store, course.id), status=201 if created else 200)


class CourseHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self, course_id: str) -> None:
        self.send(catalog.get_course(self.store, course_id))


def student_lab(store: Store, course_id: str, lab_id: str) -> dict[str, Any]:
    """What a student's server needs to open a lab: the student version (solutions and hidden tests
    stripped), the lab's device class, the course's shipped data directory (or None), and the files
    released with the lab (``lab_files.released``: small files beside the source, base64), which the
    grader shows beside the notebook too."""
    source = catalog.lab_notebook(store, course_id, lab_id)
    notebook = student_version(source)
    lab = next(lab for lab in catalog.get_course(store, course_id)["labs"] if lab["id"] == lab_id)
    data = Path(catalog.get_course_path(store, course_id)) / "data"
    return {"notebook": notebook, "device": lab["device"].get("kind", "cpu"),
            "data": str(data) if data.is_dir() else None,
            "files": {rel: base64.b64encode(content).decode() for rel, content in lab_files.released(source).items()}}


class StudentLabHandler(WorkbenchHandler):
    @web.authenticated
    @authorized
    def get(self, course_id: str, lab_id: str) -> None:
        self.send(student_lab(self.store, course_id, lab_id))


class OpenLabHandler(WorkbenchHandler):
    """Copy the student version of a lab into the user's space, once; reopening keeps their work."""

    async def student_lab(self, course_id: str, lab_id: str) -> dict[str, Any]:
        """From the store here; a hub client's relay asks the workbench service instead."""
        return student_lab(self.store, course_id, lab_id)

    @web.authenticated
    @authorized
    async def post(self, course_id: str, lab_id: str) -> None:
        contents = self.contents_manager
        path = posixpath.join(course_id, f"{lab_id}.ipynb")
        if await ensure_async(contents.file_exists(path)):
            self.send({"path": path, "created": False})
            return
        lab = await self.student_lab(course_id, lab_id)
        if not await ensure_async(contents.dir_exists(course_id)):
            await ensure_async(contents.save({"type": "directory"}, course_id))
        notebook = nbformat.from_dict(lab["notebook"])
        self._select_device_kernel(notebook, lab["device"])
        model = {"type": "notebook", "format": "json", "content": notebook}
        await ensure_async(contents.save(model, path))
        await self._release_files(course_id, lab.get("files") or {})
        if lab["data"]:
            self._link_course_data(course_id, Path(lab["data"]))
        self.send({"path": path, "created": True}, status=201)

    async def _release_files(self, course_id: str, files: dict[str, str]) -> None:
        """Put the lab's released files beside the student's copy (``<course>/<file>``), as the grader
        puts them beside the notebook; a file already there (the student's, or another lab's of the
        same name) is kept."""
        contents = self.contents_manager
        for rel, encoded in sorted(files.items()):
            path = posixpath.join(course_id, safe_relative(rel))
            folder = posixpath.dirname(path)
            parts = folder.split("/")
            for depth in range(2, len(parts) + 1):
                here = "/".join(parts[:depth])
                if not await ensure_async(contents.dir_exists(here)):
                    await ensure_async(contents.save({"type": "directory"}, here))
            if not await ensure_async(contents.file_exists(path)):
                await ensure_async(contents.save({"type": "file", "format": "base64", "content": encoded}, path))

    def _link_course_data(self, course_id: str, data: Path) -> None:
        """Show the course's shipped data beside the student's copies as ``<course>/data``.

        Labs look for ``./data`` (``workbench.labs.data.course_data``), as they find it in the grader's
        sandbox; a link, not a copy, since scenes and weights are megabytes per student. Under the hub
        the course's data directory is readable by every account; its notebooks are not.
        """
        link = Path(self.settings["server_root_dir"]).expanduser() / course_id / "data"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(data, target_is_directory=True)

    def _select_device_kernel(self, notebook: NotebookNode, device: str) -> None:
        """Point the copy at the kernel spec of the lab's device class, so opening it leases that device.

        The kernel spec is the request (jupyter_server's kernel API takes no launch parameters);
        without the workbench kernel specs installed the notebook keeps its own.
        """
        name = f"workbench-{device}"
        specs = self.kernel_spec_manager.find_kernel_specs()
        if name in specs:
            spec = self.kernel_spec_manager.get_kernel_spec(name)
            notebook.metadata["kernelspec"] = {
                "name": name, "display_name": spec.display_name, "language": spec.language,
            }


ROUTES = [
    ("courses", CoursesHandler),
    (r"courses/(?P<course_id>[^/]+)", CourseHandler),
    (r"courses/(?P<course_id>[^/]+)/labs/(?P<lab_id>[^/]+)/open", OpenLabHandler),
    (r"courses/(?P<course_id>[^/]+)/labs/(?P<lab_id>[^/]+)/student", StudentLabHandler),
]
PATHS = {
    "/courses": {
        "get": {"summary": "Registered courses with their labs",
                "responses": {"200": ok("courses", "CourseList"), **ERRORS}},
        "post": {"summary": "Register or update a course directory on the server (instructor)",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["path"],
                     "properties": {"path": {"type": "string"}}}}}},
                 "responses": {"200": ok("updated", "Course"), "201": ok("added", "Course"),
                               "400": {"description": "invalid course; every problem listed"},
                               **ERRORS}},
    },
    "/courses/{course_id}": {"get": {
        "summary": "One course", "parameters": [param("course_id")],
        "responses": {"200": ok("course", "Course"), **ERRORS, **NOT_FOUND}}},
    "/courses/{course_id}/labs/{lab_id}/student": {"get": {
        "summary": "The lab's student version (no solutions, no hidden tests), its device class and data directory",
        "parameters": [param("course_id"), param("lab_id")],
        "responses": {"200": {"description": "JSON object with notebook, device, data"}, **ERRORS, **NOT_FOUND}}},
    "/courses/{course_id}/labs/{lab_id}/open": {"post": {
        "summary": "Copy the lab's student version into the user's space (once); return its path",
        "parameters": [param("course_id"), param("lab_id")],
        "responses": {"200": ok("already there", "OpenedLab"), "201": ok("copied", "OpenedLab"),
                      **ERRORS, **NOT_FOUND}}},
}
