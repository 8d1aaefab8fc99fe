"""Check a submitted predictions CSV against the hidden ids and return it aligned to them.

A team fixes a file in one go when told everything wrong with it: each problem is one line naming
the CSV line (1 is the header), the id where there is one, and what to write instead; the list is
capped at ``MAX_LISTED`` with a count of the rest. Messages depend only on the file and on what
every team already has (the hidden *inputs'* ids, the task's columns and classes), never on the
labels or on which rows are public, so a refused file teaches a probing team nothing.

Why not pandas or ``csv.DictReader``: the core installs without pandas, and the fast path (every
row well-formed, the common case) is ``csv.reader`` in C, ``map`` over dicts and NumPy calls, no
Python code per row: 100,000 rows in well under 0.1 s on an idle core (``bench/score_predictions.py``);
per-row checks run only to find the rows at fault once something is wrong.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from workbench.errors import PredictionsError

MAX_LISTED = 20
KINDS = ("class", "number", "text")  # a class label, a real number, any non-empty text (custom scorers)


@dataclass(frozen=True)
class Expected:
    """What a predictions file must hold: the columns, the kind of value, and one row per hidden id."""

    id_column: str
    target_column: str
    kind: str
    index: Mapping[str, int]  # hidden id -> its position in the hidden order
    classes: tuple[str, ...] = ()  # for kind "class": the task's class labels, position = code
    inputs_name: str = "the hidden inputs"  # the file teams take the ids from, for messages

    @property
    def header(self) -> str:
        return f"{self.id_column},{self.target_column}"


def table(text: str) -> list[list[str]]:
    """CSV rows, one per physical line (so row i is line i + 1; a blank line is an empty row).
    Raises csv.Error for the caller to word."""
    return list(csv.reader(text.splitlines()))


def _plain_cells(body: str, width: int) -> list[str] | None:
    """Every cell of the rows after the header, row by row, when they are plain CSV (no quotes, no
    carriage returns, no blank lines, ``width`` cells on every line); None otherwise, for ``table``.
    One ``split`` of the whole text instead of one per line: the common file costs a few milliseconds,
    and a file this refuses is read by ``csv.reader`` to the same rows."""
    body = body.rstrip("\n")
    if not body or '"' in body or "\r" in body or "\n\n" in body:
        return None
    lines = body.count("\n") + 1
    cells = body.replace("\n", ",").split(",")
    if len(cells) != lines * width:
        return None
    raw = np.frombuffer(body.encode(), dtype=np.uint8)  # UTF-8 never puts ',' or '\n' inside a character
    per_line = np.bincount(np.searchsorted(np.flatnonzero(raw == 10), np.flatnonzero(raw == 44)), minlength=lines)
    return cells if (per_line == width - 1).all() else None


class _Found:
    """Problems with their line (0: about the whole file), listed in line order, capped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.items.append((line, f"line {line}: {message}" if line else message))

    def raise_any(self) -> None:
        if not self.items:
            return
        ordered = [text for _, text in sorted(self.items, key=lambda item: item[0] or math.inf)]
        shown = ordered[:MAX_LISTED]
        more = len(ordered) - len(shown)
        count = len(ordered)
        head = f"{self.name}: {count} problem{'s' if count != 1 else ''} — nothing was scored:"
        tail = [f"  … and {more} more problem{'s' if more != 1 else ''}"] if more else []
        raise PredictionsError("\n".join([head, *(f"  {text}" for text in shown), *tail]))


def _rows(rows: list[list[str]], width: int, at: tuple[int, int], expected: Expected,
          found: _Found) -> tuple[list[str], list[str], np.ndarray]:
    """(ids, values, CSV line numbers) of the rows ``csv.reader`` read after the header; rows with the
    wrong number of cells reported and left out, blank lines skipped."""
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    kept = np.flatnonzero(widths == width)
    for i in np.flatnonzero((widths != width) & (widths > 0)):
        count = int(widths[i])
        found.add(int(i) + 2, f"{count} value{'s' if count != 1 else ''}, expected {width} ({expected.header}) "
                  "— one id and one prediction per line, no commas inside a value")
    id_at, value_at = at
    return [rows[i][id_at].strip() for i in kept], [rows[i][value_at].strip() for i in kept], kept + 2


def _header(header: list[str], expected: Expected, found: _Found) -> None:
    wanted = [expected.id_column, expected.target_column]
    names = [name.strip() for name in header]
    for name in dict.fromkeys(n for n in names if names.count(n) > 1):
        found.add(1, f"column '{name}' appears twice — the header must be {expected.header}")
    missing = [w for w in wanted if w not in names]
    extra = [n for n in dict.fromkeys(names) if n not in wanted]
    for name in extra:
        same = [w for w in missing if w.lower() == name.lower()]
        if same or (len(extra) == 1 and len(missing) == 1):
            found.add(1, f"column '{name}' should be named '{(same or missing)[0]}' — the header must be "
                      f"{expected.header}")
            missing.remove((same or missing)[0])
        else:
            found.add(1, f"unexpected column '{name}' — remove it: a predictions file has exactly the "
                      f"columns {expected.header}")
    for name in missing:
        found.add(1, f"no column '{name}' — the header must be {expected.header}")


def _class_codes(values: list[str], expected: Expected, ids: list[str], lines: np.ndarray,
                 found: _Found) -> np.ndarray:
    lookup = {label: code for code, label in enumerate(expected.classes)}
    codes = np.fromiter(map(lookup.get, values, repeat(-1)), dtype=np.int64, count=len(values))
    shown = ", ".join(expected.classes[:12]) + (", …" if len(expected.classes) > 12 else "")
    for i in np.flatnonzero(codes < 0):
        value = values[i]
        code = lookup.get(_as_whole(value), -1)
        if code >= 0:
            codes[i] = code
        elif not value:
            found.add(int(lines[i]), f"(id {ids[i]}) empty {expected.target_column} — write one of the classes {shown}")
        else:
            found.add(int(lines[i]), f"(id {ids[i]}) '{value[:40]}' is not a class of this task — write one of "
                      f"{shown}")
    return codes


def _as_whole(value: str) -> str:
    """'3.0' as '3', so a class written as a float still matches its integer label."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def _numbers(values: list[str], expected: Expected, ids: list[str], lines: np.ndarray, found: _Found) -> np.ndarray:
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:  # find the rows at fault, one by one (only now)
        numbers = np.full(len(values), np.nan)
        for i, value in enumerate(values):
            try:
                numbers[i] = float(value)
            except ValueError:
                what = f"empty {expected.target_column}" if not value else f"'{value[:40]}' is not a number"
                found.add(int(lines[i]), f"(id {ids[i]}) {what} — write a number such as 0.5 (a dot for decimals)")
                numbers[i] = 0.0
    for i in np.flatnonzero(~np.isfinite(numbers)):
        found.add(int(lines[i]), f"(id {ids[i]}) '{values[i][:40]}' is not a finite number — write a number such "
                  "as 0.5; NaN and infinity cannot be scored")
    return numbers


def _ids(ids: list[str], lines: np.ndarray, expected: Expected, found: _Found) -> np.ndarray:
    """Each row's position in the hidden order; unknown, empty, duplicate and missing ids reported."""
    n = len(expected.index)
    pos = np.fromiter(map(expected.index.get, ids, repeat(-1)), dtype=np.int64, count=len(ids))
    for i in np.flatnonzero(pos < 0):
        if not ids[i]:
            found.add(int(lines[i]), f"empty {expected.id_column} — every row starts with one of the ids in "
                      f"{expected.inputs_name}")
        else:
            found.add(int(lines[i]), f"id '{ids[i][:40]}' is not one of the hidden ids — predict exactly the ids "
                      f"in {expected.inputs_name}")
    valid = np.flatnonzero(pos >= 0)
    order = valid[np.argsort(pos[valid], kind="stable")]
    ordered = pos[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    for j in np.flatnonzero(~starts):
        i, earlier = order[j], order[first[j]]
        found.add(int(lines[i]), f"id '{ids[i]}' again (first on line {int(lines[earlier])}) — keep one row per id")
    seen = np.zeros(n, dtype=bool)
    seen[pos[valid]] = True
    missing = np.flatnonzero(~seen)
    if len(missing):
        names = {position: hidden for hidden, position in expected.index.items()}
        sample = ", ".join(names[int(m)] for m in missing[:5]) + (", …" if len(missing) > 5 else "")
        count = len(missing)
        found.add(0, f"{count} hidden id{'s have' if count != 1 else ' has'} no row ({sample}) — add one row for "
                  f"each id in {expected.inputs_name}")
    return pos


def parse(data: bytes, expected: Expected, name: str = "predictions.csv") -> np.ndarray:
    """The predictions in the hidden order: class codes (int64), numbers (float64) or text (object);
    PredictionsError listing what is wrong otherwise."""
    found = _Found(name)
    try:
        text = data.decode("utf-8-sig")
        header_line, _, body = text.partition("\n")
        header = next(csv.reader([header_line.rstrip("\r")]), [])
        cells = _plain_cells(body, len(header))
        rows = None if cells is not None else table(body)
    except UnicodeDecodeError as exc:
        raise PredictionsError(f"{name}: not UTF-8 text (byte {exc.start}) — save it as a UTF-8 CSV file") from exc
    except csv.Error as exc:
        raise PredictionsError(f"{name}: not a readable CSV file ({exc}) — write plain comma-separated "
                               "values") from exc
    if not text.strip():
        raise PredictionsError(f"{name}: the file is empty — write the header {expected.header} and one row per "
                               f"id in {expected.inputs_name}")
    _header(header, expected, found)
    found.raise_any()
    names = [n.strip() for n in header]
    id_at, value_at, width = names.index(expected.id_column), names.index(expected.target_column), len(names)
    if cells is not None:
        ids, values = cells[id_at::width], cells[value_at::width]
        if " " in body or "\t" in body:
            ids, values = [i.strip() for i in ids], [v.strip() for v in values]
        lines = np.arange(2, len(ids) + 2)
    else:
        ids, values, lines = _rows(rows or [], width, (id_at, value_at), expected, found)
    pos = _ids(ids, lines, expected, found)
    if expected.kind == "class":
        parsed: np.ndarray = _class_codes(values, expected, ids, lines, found)
    elif expected.kind == "number":
        parsed = _numbers(values, expected, ids, lines, found)
    else:
        parsed = np.array(values, dtype=object)
        for i in (i for i, v in enumerate(values) if not v):
            found.add(int(lines[i]), f"(id {ids[i]}) empty {expected.target_column} — write a prediction")
    found.raise_any()
    aligned = np.empty(len(expected.index), dtype=parsed.dtype)
    aligned[pos] = parsed
    return aligned
