"""Otter's in-code markers rewritten as ours: solution lines and blocks, ignored lines, prompt strings,
and otter's own student view of a solution cell (its documented solution-removal rules)."""

from __future__ import annotations

import re

from workbench.curriculum import cells
from workbench.curriculum.importers.common import ImportError_
from workbench.curriculum.importers.otter_master import OTTER_LINES

BEGIN_SOLUTION = re.compile(r"(\s*)#\s*BEGIN SOLUTION( NO PROMPT)?\s*$")
SOLUTION_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?:\[[^\]]*\])*(?:,\s*)?)+\s*=)[^=].*?#\s?SOLUTION\s*$")
SOLUTION_LINE = re.compile(r"(\s*).*?#\s?SOLUTION\s*$")


def solution(source: str) -> str:
    """Otter's in-code solution markers as ours. What otter removes without a prompt (``# SOLUTION NO
    PROMPT`` and ``# SEED`` lines, ``# BEGIN SOLUTION NO PROMPT`` blocks) also goes inside hidden
    markers, so students see neither it nor our stub."""
    out = []
    no_prompt_block = False
    for line in source.splitlines():
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if re.match(r"#\s*BEGIN SOLUTION", stripped):
            no_prompt_block = bool(re.search(r"NO PROMPT\s*$", stripped))
            out += [indent + cells.HIDDEN_BEGIN] if no_prompt_block else []
            out.append(indent + cells.SOLUTION_BEGIN)
        elif re.match(r"#\s*END SOLUTION", stripped):
            out.append(indent + cells.SOLUTION_END)
            out += [indent + cells.HIDDEN_END] if no_prompt_block else []
            no_prompt_block = False
        elif match := re.search(r"\s*#\s*(SOLUTION|SOLUTION NO PROMPT|SEED)\s*$", line):
            region = [indent + cells.SOLUTION_BEGIN, line[: match.start()], indent + cells.SOLUTION_END]
            if match.group(1) != "SOLUTION" and not no_prompt_block:
                region = [indent + cells.HIDDEN_BEGIN, *region, indent + cells.HIDDEN_END]
            out += region
        elif not OTTER_LINES.match(line):
            out.append(line)
    return "\n".join(out)


def without_ignored(source: str) -> str:
    """``source`` less otter's ignored lines (``# IGNORE`` at the end, ``# BEGIN/END IGNORE`` blocks)."""
    out: list[str] = []
    block = False
    for line in source.splitlines():
        if re.match(r"\s*#\s*BEGIN\s*IGNORE\s*$", line, re.I):
            if block:
                raise ImportError_("'# BEGIN IGNORE' inside another ignore block; close it with '# END IGNORE'")
            block = True
        elif re.match(r"\s*#\s*END\s*IGNORE\s*$", line, re.I):
            if not block:
                raise ImportError_("'# END IGNORE' without a '# BEGIN IGNORE' before it")
            block = False
        elif not block and not re.search(r"#\s*IGNORE\s*$", line, re.I):
            out.append(line)
    if block:
        raise ImportError_("'# BEGIN IGNORE' is never closed; add '# END IGNORE'")
    return "\n".join(out)


def prompt_span(lines: list[str]) -> tuple[int, int] | None:
    """(first, last) line of the first in-code prompt string, or None."""
    begin = next((i for i, line in enumerate(lines) if re.search(r"#\s*BEGIN PROMPT\s*$", line)), None)
    if begin is None:
        return None
    end = next((i for i in range(begin + 1, len(lines)) if re.search(r"#\s*END PROMPT\s*$", lines[i])), None)
    if end is None:
        raise ImportError_("an in-code '\"\"\" # BEGIN PROMPT' string is never closed; end it with "
                           "'\"\"\" # END PROMPT'")
    return begin, end


def without_prompts(source: str) -> str:
    """The solution code of a cell with in-code prompts: the prompt strings removed."""
    lines = source.splitlines()
    while (span := prompt_span(lines)) is not None:
        del lines[span[0]: span[1] + 1]
    return "\n".join(lines)


def student_view(source: str) -> str:
    """What otter shows students for a solution cell (its documented solution-removal rules): prompt
    strings unwrapped, ``# BEGIN SOLUTION`` blocks and ``x = 1  # SOLUTION`` values as ``...``, and
    ``NO PROMPT`` / ``# SEED`` lines gone."""
    out: list[str] = []
    block = False
    for line in source.splitlines():
        end = line.rstrip()
        if end.endswith(("# SOLUTION NO PROMPT", "# SEED")) or re.search(r"#\s*(BEGIN|END) PROMPT$", end) \
                or OTTER_LINES.match(line):
            continue
        if block:
            block = not re.search(r"#\s*END SOLUTION$", end)
            continue
        if match := BEGIN_SOLUTION.match(line):
            block = True
            out += [] if match.group(2) else [match.group(1) + "..."]
        elif match := SOLUTION_ASSIGNMENT.match(line):
            out.append(match.group(1) + " ...")
        elif match := SOLUTION_LINE.match(line):
            out.append(match.group(1) + "...")
        else:
            out.append(line)
    return "\n".join(out)


def one_region(source: str) -> str:
    """A prompted code answer as a single solution region (otter's in-code markers dropped), so the
    prompt, its student stub, stands in for the whole cell and is shown exactly once."""
    marks = (cells.SOLUTION_BEGIN, cells.SOLUTION_END, cells.HIDDEN_BEGIN, cells.HIDDEN_END)
    code = "\n".join(line for line in solution(source).splitlines() if line.strip() not in marks)
    return f"{cells.SOLUTION_BEGIN}\n{code}\n{cells.SOLUTION_END}"
