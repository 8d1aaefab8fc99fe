"""A class under a real JupyterHub: each user sees only what their role allows, whoever they claim to be."""

from __future__ import annotations

import time

from tests.fixtures.hub import INSTRUCTOR, STUDENT_A, STUDENT_B, Center


def test_identity_and_roles_come_from_the_hub(center: Center) -> None:
    center.start_server(STUDENT_A)
    assert center.api(STUDENT_A, "GET", "me") == (200, {"user": STUDENT_A, "role": "student", "instructs": []})
    assert center.api(INSTRUCTOR, "GET", "me", direct=True) == (
        200, {"user": INSTRUCTOR, "role": "instructor", "instructs": ["intro"]})
