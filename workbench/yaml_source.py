"""Read a YAML file people write by hand (course.yaml, event.yaml) so every problem names its line.

Why a module of its own: the course and event loaders both report *all* problems at once, each as
``file:line: what is wrong — what to write instead``; the line of a key comes from PyYAML's node
tree, which ``yaml.safe_load`` throws away. Both loaders read their file through ``read`` and check
keys through ``unknown_keys``, so a typo gets the same did-you-mean everywhere; both open their
directory through ``open_mapping``, so a missing file or a document that is not a mapping reads the
same for a course and an event.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ValidationProblem, WorkbenchError

KeyPath = tuple[Any, ...]
Lines = dict[KeyPath, int]


class Problems:
    """Problems found in one file (or, with ``file=``, a file it names), in the order found."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.items: list[ValidationProblem] = []

    def add(self, line: int | None, message: str, file: Path | None = None) -> None:
        where = str(file or self.file) + (f":{line}" if line else "")
        self.items.append(ValidationProblem(where, message))


def key_lines(node: yaml.Node | None) -> Lines:
    """Map each key path in a YAML document to its 1-based line, for precise messages."""
    found: Lines = {}

    def walk(n: yaml.Node, path: KeyPath) -> None:
        found[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                key_path = path + (key.value,)
                walk(value, key_path)
                found[key_path] = key.start_mark.line + 1  # a key's problems point at the key
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    if node is not None:
        walk(node, ())
    return found


def read(file: Path, problems: Problems) -> tuple[Any, Lines] | None:
    """The parsed document and its key lines, or None (with the problem added) when it is not YAML."""
    text = file.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return None
    return data, key_lines(node)


Opened = tuple[Path, dict[str, Any], Lines, Problems]


def open_mapping(directory: str | Path, name: str, holds: str, shape: str,
                 error: Callable[[list[ValidationProblem]], WorkbenchError]) -> Opened:
    """Open ``directory/name`` as a YAML mapping: its resolved directory, the mapping, its key lines
    and the problem list the caller goes on filling; raise ``error`` when there is no such file, it is
    not YAML or it is not a mapping. ``holds`` says what the directory should hold, ``shape`` what
    the mapping should have, each for the message a user reads.
    """
    root = Path(directory).expanduser().resolve()
    file = root / name
    problems = Problems(file)
    if not file.is_file():
        hint = "" if root.is_dir() else f" (the directory {root} does not exist)"
        problems.add(None, f"no {name} here{hint}; {holds}")
        raise error(problems.items)
    parsed = read(file, problems)
    if parsed is None:
        raise error(problems.items)
    data, lines = parsed
    if not isinstance(data, dict):
        problems.add(1, f"{name} must be a mapping with {shape}")
        raise error(problems.items)
    return root, data, lines, problems


def unknown_keys(data: dict[str, Any], known: set[str], what: str, path: KeyPath, lines: Lines,
                 problems: Problems) -> None:
    """One problem per key not in ``known``, with the closest known key or the list of allowed ones."""
    for key in data:
        if key not in known:
            hint = difflib.get_close_matches(str(key), sorted(known), n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(sorted(known))}"
            problems.add(lines.get((*path, key)), f"{what}: unknown key '{key}' — {fix}")
