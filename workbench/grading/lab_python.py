"""The Python that runs student code in the sandbox: the labs' environment, not necessarily the grader's.

Why a setting of its own (``Workbench.lab_python``): a center's workbench service is installed with
the core only (no torch, no MindSpore: 0.5 GB instead of 4.6 GB), while the labs import those
frameworks from the environment their kernels run in. Grading a submission with the grader's own
interpreter would fail every such lab with ModuleNotFoundError, and could differ from what the
student's kernel had even where it did not. So the sandbox, cold and warm, runs its runner with the
labs' interpreter and shows that interpreter's installation read-only (its prefix and base prefix,
asked of the interpreter itself once per path), with its ``bin`` on PATH. Empty: the grader's own.

What the sandbox needs of that interpreter, and nothing more: Python 3.10 or newer (``_inside.py``
and ``_zygote.py`` use 3.10's standard library) and IPython (cells run in an IPython shell, as in a
kernel; every kernel environment has it, ipykernel requires it). Both runners are standalone, run
with ``-I`` and import nothing of the grader's environment; numpy only when a value is an array.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass

from workbench.config import ENV_LAB_PYTHON
from workbench.errors import ConfigError

MIN_VERSION = (3, 10)
SETTING = f"Workbench.lab_python ({ENV_LAB_PYTHON})"
_ASK = ("import importlib.util, json, sys; print(json.dumps([sys.prefix, sys.base_prefix, "
        "list(sys.version_info[:2]), importlib.util.find_spec('IPython') is not None]))")


@dataclass(frozen=True)
class LabPython:
    """An interpreter as the sandbox uses it: run as ``executable`` (a venv's ``bin/python`` must be run
    by that path, not the file its symlink names, to be that venv), with these prefixes bound."""

    executable: str
    prefix: str
    base_prefix: str

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.prefix, "bin")

    def ro_paths(self) -> list[str]:
        """What the sandbox binds read-only for it: both prefixes, and the interpreter's file (as given
        and as its symlinks resolve) where neither prefix holds it."""
        paths = [self.base_prefix, self.prefix]
        for path in (self.executable, os.path.realpath(self.executable)):
            if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths):
                paths.append(path)
        return list(dict.fromkeys(paths))


def own() -> LabPython:
    """The grader's own interpreter (the default, and what an unset setting means)."""
    return LabPython(sys.executable, sys.prefix, sys.base_prefix)


def resolve(setting: str) -> LabPython:
    """The interpreter ``Workbench.lab_python`` names ('' for the grader's own); a ``ConfigError``
    naming the setting and the path when it does not exist, does not run or cannot run the sandbox."""
    if not setting:
        return own()
    return _probe(os.path.abspath(os.path.expanduser(setting)))


@functools.cache  # success only (an exception is not cached): a fixed environment is seen at the next grading
def _probe(path: str) -> LabPython:
    """Ask the interpreter where it is installed (a few tens of milliseconds, once per path)."""
    fix = "set it to the Python of the environment the lab kernels run in (e.g. /opt/labs-venv/bin/python)"
    if not os.path.exists(path):
        raise ConfigError(f"{SETTING} is {path}, which does not exist: {fix}, or leave it empty to grade "
                          "with the grader's own Python")
    proc: subprocess.CompletedProcess[str] | None = None
    try:  # the sandbox's environment is empty but for a few variables: so is this one
        proc = subprocess.run([path, "-I", "-c", _ASK], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        prefix, base_prefix, version, has_ipython = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError, TypeError) as exc:
        raise ConfigError(f"{SETTING} is {path}, which does not run as Python ({_reason(exc, proc)}): {fix}") from exc
    if tuple(version) < MIN_VERSION:
        raise ConfigError(f"{SETTING} is {path}, which is Python {version[0]}.{version[1]}; the grading "
                          f"sandbox needs Python {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer there")
    if not has_ipython:
        raise ConfigError(f"{SETTING} is {path}, which has no IPython (the sandbox runs cells in an IPython "
                          f"shell, as a kernel does): install ipykernel into that environment ({prefix})")
    return LabPython(path, str(prefix), str(base_prefix))


def _reason(exc: BaseException, proc: subprocess.CompletedProcess[str] | None) -> str:
    if isinstance(exc, subprocess.TimeoutExpired):
        return "no answer within 60 s"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    lines = proc.stderr.strip().splitlines() if proc is not None else []
    return lines[-1][:200] if lines else f"exit status {proc.returncode if proc else '?'}, no answer"
