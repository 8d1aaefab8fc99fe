"""Hidden test text: where it is in a cell, what of a cell the student's own run may see, and the
scrubber that removes it from everything a grade records.

Why a scrubber when the feedback run never receives hidden code (``hidden.py``): it is the backstop
that does not depend on that design holding everywhere. Whatever reaches a ``GradeResult`` (task
messages, printed output, display data, the student's own code) passes through it, and every stored
or exported view (``workbench grade --json``, the gradebook, feedback pages, REST, exports) is made
from that. It removes verbatim copies only: the whole hidden region, each of its lines, each string
literal, comment and long number written in it. Text that also appears in the public part of the
notebook (the student has it anyway), an assert's own literal message (written for the student and
shown when that assert fails) and fragments too short to be telling are left alone.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from collections.abc import Iterable
from typing import Any

from workbench.curriculum import cells

REDACTED = "[hidden test text]"
MIN_LINE = 8  # a line of hidden code this long or longer is removed wherever it appears
MIN_TEXT = 4  # string literals and comments
MIN_NUMBER = 4  # number literals as written ("0.7854", "1e-9"); "42" is too common to redact
MIN_WORD = 6  # a word of a comment or string with a digit in it ("QX-7781")


def has_hidden(source: str) -> bool:
    return cells.HIDDEN_BEGIN in source


def visible(source: str) -> str:
    """The cell as the student's release shows it: hidden regions (markers included) removed."""
    if not has_hidden(source):
        return source
    return cells.replace_regions(source, cells.HIDDEN_BEGIN, cells.HIDDEN_END, None)


def hidden_lines(source: str) -> set[int]:
    """1-based numbers of the lines inside hidden regions (not the marker lines, which are public)."""
    numbers: set[int] = set()
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(cells.HIDDEN_BEGIN):
            inside = True
        elif stripped.startswith(cells.HIDDEN_END):
            inside = False
        elif inside:
            numbers.add(number)
    return numbers


def hidden_regions(source: str) -> list[str]:
    lines = source.splitlines()
    numbers = sorted(hidden_lines(source))
    regions: list[list[str]] = []
    for number in numbers:
        if not regions or number - 1 not in numbers:
            regions.append([])
        regions[-1].append(lines[number - 1])
    return ["\n".join(region) for region in regions]


def _literals(source: str, inside: set[int]) -> Iterable[str]:
    """String literals (their value and as written), comments and long numbers on hidden lines."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        tokens = []
    for token in tokens:
        if not inside & set(range(token.start[0], token.end[0] + 1)):
            continue
        if token.type == tokenize.COMMENT:
            yield token.string
            yield token.string.lstrip("#").strip()
        elif token.type == tokenize.STRING:
            yield token.string
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if isinstance(value, str):
                yield value
                yield repr(value)[1:-1]
                yield from value.splitlines()
        elif token.type == tokenize.NUMBER and len(token.string) >= MIN_NUMBER:
            yield token.string
            try:
                yield repr(ast.literal_eval(token.string))
            except (ValueError, SyntaxError):
                continue
    if not tokens:  # not Python (IPython syntax): comments and quoted text by pattern
        lines = source.splitlines()
        for number in inside:
            yield from re.findall(r"#.*$", lines[number - 1])
            for single, double in re.findall(r"'([^']*)'|\"([^\"]*)\"", lines[number - 1]):
                yield single or double


def fragments(source: str) -> set[str]:
    """Every piece of the cell's hidden text the scrubber looks for."""
    inside = hidden_lines(source)
    if not inside:
        return set()
    found: set[str] = set()
    for region in hidden_regions(source):
        found.update({region.strip(), textwrap.dedent(region).strip()})
        for line in region.splitlines():
            found.update(part for part in (line.strip(), line.split("#")[0].strip()) if len(part) >= MIN_LINE)
    for text in _literals(source, inside):
        text = text.strip()
        if len(text) >= MIN_TEXT:
            found.add(text)
        found.update(word for word in re.split(r"[\s'\"`,;:()\[\]{}]+", text) if _telling(word))
    shown = assert_messages(source)  # written for the student: shown when their assert fails (hidden.py)
    return {f for f in found if f and not any(f in message for message in shown)}


def assert_messages(source: str) -> list[str]:
    """The string-literal messages of the cell's asserts."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.msg.value for n in ast.walk(tree)
            if isinstance(n, ast.Assert) and isinstance(n.msg, ast.Constant) and isinstance(n.msg.value, str)]


def _telling(word: str) -> bool:
    """A word of a comment or string worth redacting on its own: a code, a number, a long token
    ("QX-7781", "expected-0.7854"), not an everyday word of a sentence."""
    return (len(word) >= MIN_WORD and any(c.isdigit() for c in word)) or len(word) >= 16


class Scrubber:
    """Replaces hidden test text with ``REDACTED`` in strings; built once per source (per plan)."""

    def __init__(self, hidden_sources: Iterable[str], public: str) -> None:
        found: set[str] = set()
        for source in hidden_sources:
            found |= fragments(source)
        kept = sorted((f for f in found if f not in public), key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(f) for f in kept)) if kept else None

    def text(self, value: str) -> str:
        if self.pattern is None or not value:
            return value
        return self.pattern.sub(REDACTED, value)

    def output(self, output: dict[str, Any]) -> dict[str, Any]:
        """One stored cell output (stdout, stderr, display data, the student's code, any message) scrubbed."""
        if self.pattern is None:
            return output
        clean: dict[str, Any] = {key: self.text(value) if isinstance(value, str) and key not in
                                 ("grade_id", "role", "status") else value for key, value in output.items()}
        display: list[dict[str, Any]] = list(output.get("display") or [])
        clean["display"] = [{k: self.text(str(v)) for k, v in item.items()} for item in display]
        return clean
