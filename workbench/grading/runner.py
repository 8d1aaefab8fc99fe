"""Drive one sandboxed inside-runner: send a cell, wait for its result with a deadline, and turn
every way a sandbox can end (timeout, kill, memory, garbage on the pipe) into a status.

The grader side reads replies with a size cap and a deadline, so a flood or a hang inside costs at
most that; when the process dies the caller decides whether to start a fresh one and replay.
"""

from __future__ import annotations

import json
import os
import select
import time
from dataclasses import dataclass, field
from typing import Any

from workbench.grading.sandbox import Sandbox, SandboxProcess, SandboxSpec

HEADER = 12


@dataclass
class CellOutcome:
    """What happened when one cell or call ran: status is ok, error, timeout, memory or killed."""

    status: str
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    display: list[dict[str, str]] = field(default_factory=list)
    value: Any = None
    line: int = 0  # hidden test code: the line of the test that raised (to find the assert's own message)

    @property
    def dead(self) -> bool:
        """The sandbox is gone (or no longer trustworthy) after this outcome."""
        return self.status in ("timeout", "killed")


class Runner:
    """A started sandbox plus the length-prefixed JSON protocol spoken with it."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self.sandbox: SandboxProcess = (spec.launcher or Sandbox)(spec)
        self.max_reply = spec.limits.output_bytes * 8 + (1 << 20)

    def start(self, deadline: float) -> CellOutcome:
        self.sandbox.start()
        return self._reply(deadline)

    def _write(self, obj: dict[str, Any]) -> bool:
        data = json.dumps(obj).encode()
        try:
            os.write(self.sandbox.to_child, b"%012d" % len(data))
            view = memoryview(data)
            while view:
                view = view[os.write(self.sandbox.to_child, view):]
            return True
        except OSError:
            return False

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sandbox.from_child], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.sandbox.from_child, min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _reply(self, deadline: float) -> CellOutcome:
        try:
            head = self._read_exact(HEADER, deadline)
            if head is None:
                return CellOutcome("timeout")
            if not head.isdigit() or int(head) > self.max_reply:
                self.sandbox.kill()
                return CellOutcome("killed", evalue="the sandbox broke the result protocol")
            body = self._read_exact(int(head), deadline)
            if body is None:
                return CellOutcome("timeout")
            data = json.loads(body)
        except (EOFError, OSError, ValueError):
            return CellOutcome("killed", evalue=self._death_reason())
        if data.get("ready"):
            return CellOutcome("ok")
        status = data.get("status")
        if status == "error" and data.get("ename") == "MemoryError":
            status = "memory"
        elif status not in ("ok", "error"):
            status = "killed"
        return CellOutcome(
            status=status, ename=str(data.get("ename", "")), evalue=str(data.get("evalue", "")),
            traceback=str(data.get("traceback", "")), stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")), display=list(data.get("display", []))[:20],
            value=data.get("value"), line=data.get("line") if type(data.get("line")) is int else 0,
        )

    def _death_reason(self) -> str:
        code = self.sandbox.exit_status()
        return f"the student's process ended during this cell (exit status {code})"

    def run_cell(self, code: str, deadline: float, history: bool = True) -> CellOutcome:
        if not self._write({"op": "run", "code": code, "history": history}):
            return CellOutcome("killed", evalue=self._death_reason())
        outcome = self._reply(deadline)
        if outcome.dead:
            self.close()
        return outcome

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any], deadline: float,
             call: bool = True) -> CellOutcome:
        if not self._write({"op": "call", "name": name, "args": args, "kwargs": kwargs, "call": call}):
            return CellOutcome("killed", evalue=self._death_reason())
        outcome = self._reply(deadline)
        if outcome.dead:
            self.close()
        return outcome

    def ask(self, cmd: dict[str, Any], deadline: float) -> CellOutcome:
        """Any other command (the hidden tests' ``exec`` and ``eval``, see ``hidden.py``) and its reply."""
        if not self._write(cmd):
            return CellOutcome("killed", evalue=self._death_reason())
        outcome = self._reply(deadline)
        if outcome.dead:
            self.close()
        return outcome

    def alive(self) -> bool:
        return self.sandbox.alive() and self.sandbox.to_child >= 0

    def close(self) -> None:
        self.sandbox.kill()
