"""Run an otter master notebook once, to obtain the outputs its tests are judged against.

Otter judges a test that ends in an expression by comparing its output with the master's, and
``otter assign`` reads that output from the saved master. Masters are often saved without outputs,
so the importer executes the master (nbclient, ``python3`` kernel, cwd = the notebook's folder, a
per-cell timeout) and uses the outputs of that run where the saved ones are missing. Otter's own
lines (``import otter``, ``grader = otter.Notebook()``, ``grader.check(...)``) are removed first:
they need otter installed and only check the master against itself.

The master is the instructor's own notebook, imported by the instructor, so it runs unsandboxed
with the instructor's rights, exactly as running it in Jupyter would; the sandbox is for student
code. A failure stops the import with one line naming the notebook and the cell.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

from nbformat import NotebookNode

from workbench.curriculum.importers.common import ImportError_

OTTER_LINES = re.compile(r"^\s*(import otter|grader\s*=\s*otter\.|grader\.(check|export|check_all)\()")
DEFAULT_TIMEOUT = 300.0


def without_otter_lines(source: str) -> str:
    """``source`` less otter's own lines, which neither the master run nor our course needs."""
    return "\n".join(line for line in source.splitlines() if not OTTER_LINES.match(line))


def _first_line(cell: NotebookNode) -> str:
    line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def run_master(path: Path, nb: NotebookNode, timeout: float = DEFAULT_TIMEOUT) -> NotebookNode:
    """The master notebook executed top to bottom (a copy, otter's own lines removed), or one line
    naming the notebook and the cell that failed."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    master = copy.deepcopy(nb)
    for cell in master.cells:
        if cell.cell_type == "code":
            cell.source = without_otter_lines(cell.source)
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(master, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    hint = "fix the master notebook, or import with --no-run"
    index, cell = -1, None
    try:
        with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's own log lines are noise here
            for index, cell in enumerate(master.cells):
                client.execute_cell(cell, index)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        if cell is None:
            raise ImportError_(f"{path}: the python3 kernel for running the master notebook died ({exc}); {hint}") \
                from None
        where = f"cell {index + 1} ({_first_line(cell)!r})"
        if isinstance(exc, CellExecutionError):
            why = f"{exc.ename}: {exc.evalue}".strip().rstrip(":")
        elif isinstance(exc, CellTimeoutError):
            why = f"it did not finish within {timeout:g} s (raise --timeout)"
        else:
            why = "the kernel died"
        why = " ".join(why.split())
        raise ImportError_(f"{path}: running the master notebook failed in {where}: {why}; {hint}") from None
    except NoSuchKernel:
        raise ImportError_(f"{path}: no 'python3' Jupyter kernel to run the master notebook with; "
                           "install ipykernel, or import with --no-run") from None
    except RuntimeError as exc:  # the kernel did not start
        raise ImportError_(f"{path}: could not start a python3 kernel to run the master notebook ({exc}); "
                           f"{hint}") from None
    return master
