"""Who instructs which course: configuration, hub groups and course.yaml, on a real store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from traitlets.config import Config

from workbench.config import load_settings
from workbench.curriculum import catalog, load_course
from workbench.server.roles import EVERY_COURSE, Identity, instructed_courses
from workbench.store import open_store


def test_roles(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, repo_root: Path) -> None:
    store = open_store(db_url)
    course = tmp_path / "intro"
    shutil.copytree(repo_root / "curricula" / "intro", course)
    yaml = course / "course.yaml"
    yaml.write_text(yaml.read_text().replace("instructors: []", "instructors: [carol]"))
    catalog.register(store, load_course(course))

    assert instructed_courses(load_settings(Config()), store, Identity("anyone")) == {EVERY_COURSE}  # own server
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    settings = load_settings(Config({"Workbench": {"instructors": ["alice"]}}))
    assert instructed_courses(settings, store, Identity("bob")) == frozenset()
    assert instructed_courses(settings, store, Identity("alice")) == {EVERY_COURSE}
    assert instructed_courses(settings, store, Identity("carol")) == {"intro"}  # course.yaml roles.instructors
    assert instructed_courses(settings, store, Identity("dan", frozenset({"instructors:ml101"}))) == {"ml101"}
    assert instructed_courses(settings, store, Identity("eve", frozenset({"instructors"}))) == {EVERY_COURSE}
    # the hub service has no owner: nobody is an instructor by default
    monkeypatch.delenv("JUPYTERHUB_USER")
    service = load_settings(Config({"Workbench": {"hub_service": True}}))
    assert instructed_courses(service, store, Identity("bob", frozenset({"students"}))) == frozenset()
