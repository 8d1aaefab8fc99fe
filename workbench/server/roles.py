"""Who instructs which course: one rule for the personal server and the hub service.

A user instructs a course when any of these says so; nothing the user can write is asked:
- ``Workbench.instructors``, from the configuration of the process that holds the store (the
  admin's, under the hub service): every course;
- ``Workbench.default_role = instructor``: everyone, every course (a personal server's owner);
- the JupyterHub group ``instructors``: every course; ``instructors:<course>``: that course.
  Groups arrive with the user's identity from the hub (``HubOAuth``), so a group written into a
  user's own Jupyter config changes nothing;
- the course's own ``roles.instructors`` in course.yaml: that course.
Everyone else is a student of every course, and sees only their own rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.config import Workbench
from workbench.curriculum import catalog
from workbench.store import Store

EVERY_COURSE = "*"
GROUP = "instructors"


@dataclass(frozen=True)
class Identity:
    """A user as the hub (or the personal server) vouches for them."""

    name: str
    groups: frozenset[str] = field(default_factory=frozenset)


def instructed_courses(settings: Workbench, store: Store, who: Identity) -> frozenset[str]:
    """The course ids ``who`` instructs; ``EVERY_COURSE`` stands for all of them."""
    if who.name in settings.instructors or settings.default_role == "instructor" or GROUP in who.groups:
        return frozenset({EVERY_COURSE})
    courses = {g.partition(":")[2] for g in who.groups if g.startswith(f"{GROUP}:") and g.partition(":")[2]}
    courses |= {course for course, names in catalog.instructors(store).items() if who.name in names}
    return frozenset(courses)
