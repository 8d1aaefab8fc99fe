"""The process that runs inside the sandbox: executes cells in an IPython shell, answers over pipes.

It is deliberately standalone (no ``workbench`` import) because the sandbox exposes only this file,
the Python installation and the submission's working directory. It reports what *happened* (the
execution result of each cell), never what the cell printed, so fake "passed" text earns nothing.
It reads one length-prefixed JSON command at a time from fd ``IN`` and writes one reply to ``OUT``;
the hidden tests reach it only when their turn comes, never through a file.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import traceback

IN, OUT, CAP = -1, -1, 0
PRELOAD: list[str] = []
# Python's own compile/exec/eval, taken before any student code runs: hidden test code is compiled with
# them, not through IPython (no cell cache in linecache, no input transformers, no run_cell events).
_compile, _exec, _eval = compile, exec, eval
HIDDEN_FILE = "<hidden>"
SHELL = None  # made by prepare(); a warm worker makes it once, before forking its sandboxes
WARM_UP = ("pass", "0", "assert False", "raise ValueError('warm-up')")  # first-use costs, paid once


class CappedStream(io.TextIOBase):
    """stdout/stderr that keeps the first CAP characters and counts the rest, so floods stay small."""

    def __init__(self, name: str) -> None:
        self.name, self.size, self.dropped = name, 0, 0
        self.parts: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = CAP - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        note = f"\n[output truncated: {self.dropped} more characters]" if self.dropped else ""
        return "".join(self.parts) + note


def send(obj: dict) -> None:
    data = json.dumps(obj).encode()
    os.write(OUT, b"%012d" % len(data))
    view = memoryview(data)
    while view:
        view = view[os.write(OUT, view):]


def receive() -> dict | None:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = os.read(IN, n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    try:
        return json.loads(exact(int(exact(12))))
    except EOFError:
        return None


def plain(value, depth: int = 0):
    """A JSON-safe copy of ``value``; arrays travel as .npy bytes (no pickle), anything else refused."""
    if depth > 20:
        raise TypeError("nested too deeply")
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    mod = type(value).__module__.split(".")[0]
    if mod == "torch":
        value = value.detach().cpu().numpy()
        mod = "numpy"
    if mod == "numpy":
        import numpy as np
        if isinstance(value, np.generic):
            return plain(value.item(), depth + 1)
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        return {"__npy__": base64.b64encode(buf.getvalue()).decode()}
    raise TypeError(f"a {type(value).__name__} is not a plain value (number, string, list, dict, array)")


def _quick_getmodule(shell) -> None:
    """IPython's tracebacks ask ``inspect.getmodule`` about each frame a few times; for a frame of a
    notebook cell (no module's file) it rescans all of ``sys.modules`` every time, ~5 ms with torch's
    1,200 modules, so a failing cell cost 20-50 ms. Frames, code and tracebacks of cells belong to no
    module: answer that at once, exactly what the full scan concludes; everything else is unchanged."""
    import inspect
    import types

    slow = inspect.getmodule
    cells = getattr(shell.compile, "_filename_map", None)
    if not isinstance(cells, dict):
        return
    kinds = (types.FrameType, types.CodeType, types.TracebackType)

    def getmodule(object, _filename=None):  # inspect's own signature
        if isinstance(object, kinds):
            name = _filename
            if name is None:
                frame = object.tb_frame if isinstance(object, types.TracebackType) else object
                code = frame.f_code if isinstance(frame, types.FrameType) else frame
                name = code.co_filename
            if name in cells:
                return None
        return slow(object, _filename)

    getmodule.__doc__, getmodule.__wrapped__ = slow.__doc__, slow  # type: ignore[attr-defined]
    inspect.getmodule = getmodule


def prepare(warm: bool = False):
    """The IPython shell that runs the cells. A warm worker calls this before forking with ``warm``:
    it also runs a few fixed cells (an expression, a failing assert, an exception) so the lazy
    imports and caches of display and traceback formatting are in the image every child copies, then
    puts the user namespace and the interpreter back as they were. No student code ever runs here."""
    global SHELL
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history.sqlite holding test cells on the sandbox's disk
    # Tracebacks in Python's own plain layout (each frame's cell, line and source line): what students
    # know from Python, and ~3 ms less per failing cell than IPython's context layout, which every
    # wrong answer in a class of hundreds pays.
    shell = InteractiveShell.instance(config=config, colors="NoColor", xmode="Plain")
    _quick_getmodule(shell)
    if warm:
        user_ns, hidden = dict(shell.user_ns), dict(shell.user_ns_hidden)
        real = sys.stdout, sys.stderr
        with capture_output(stdout=False, stderr=False, display=True):
            sys.stdout, sys.stderr = CappedStream("stdout"), CappedStream("stderr")
            try:
                for code in WARM_UP:
                    shell.run_cell(code, store_history=False, silent=False)
            finally:
                sys.stdout, sys.stderr = real
        shell.user_ns.clear()
        shell.user_ns.update(user_ns)
        shell.user_ns_hidden.clear()
        shell.user_ns_hidden.update(hidden)
        if shell.history_manager is not None:  # outputs, exceptions, Out: as a new shell has them
            shell.history_manager.reset(new_session=False)
        shell.last_execution_succeeded, shell.last_execution_result = True, None
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            sys.__dict__.pop(name, None)
    SHELL = shell
    return shell


def main() -> None:
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            __import__(name)
    from IPython.utils.capture import capture_output

    shell = SHELL if SHELL is not None else prepare()
    send({"ready": True})
    while True:
        cmd = receive()
        if cmd is None:
            return
        if cmd.get("op") in ("exec", "eval"):
            send(run_hidden(shell, cmd))
            continue
        if cmd.get("op") == "call":
            try:
                target = shell.user_ns[cmd["name"]]
                value = target(*cmd.get("args", []), **cmd.get("kwargs", {})) if cmd.get("call") else target
                send({"status": "ok", "value": plain(value)})
            except BaseException as exc:
                send({"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:2000]})
            continue
        out, err = CappedStream("stdout"), CappedStream("stderr")
        real = sys.stdout, sys.stderr
        error = None
        with capture_output(stdout=False, stderr=False, display=True) as captured:
            sys.stdout, sys.stderr = out, err
            try:
                result = shell.run_cell(cmd["code"], store_history=cmd.get("history", True), silent=False)
                error = result.error_before_exec or result.error_in_exec
            finally:
                sys.stdout, sys.stderr = real
        reply: dict = {"status": "ok", "stdout": out.value(), "stderr": err.value(), "display": []}
        for item in captured.outputs[:20]:
            reply["display"].append({k: str(v)[:CAP] for k, v in item.data.items() if k.startswith("text/")})
        if error is not None:
            reply.update(status="error", ename=type(error).__name__, evalue=str(error)[:2000],
                         traceback="".join(traceback.format_exception(error))[-20000:])
        send(reply)


class Unsendable(Exception):
    """A value the grader cannot receive as what it is (an object of a class of the student's, a
    DataFrame, something too large): the grader then fails the assert rather than trust this process."""


def typed(value, room: list[int], depth: int = 0):
    """``value`` as tagged JSON that keeps its type: tuples stay tuples, sets sets, numpy scalars keep
    their dtype, so the grader's ``==`` sees what an in-process assert would have seen. A subclass of
    a plain type is sent as its plain value, read with the base type's own slots (no method of the
    student's runs), so an ``int`` whose ``__eq__`` always says yes arrives as the number it holds.
    Types are asked of ``type()``, which an object cannot fake (``isinstance`` believes ``__class__``)."""
    room[0] -= 16
    if depth > 50 or room[0] < 0:
        raise Unsendable
    kind = type(value)
    if value is None or kind is bool:
        return value
    numpy = sys.modules.get("numpy")
    if numpy is not None and issubclass(kind, numpy.generic):
        if value.dtype.kind in "biuf" and value.dtype.itemsize <= 8:
            return {"t": "np", "d": value.dtype.str, "v": value.item()}
        return {"t": "npy", "scalar": True, "v": _npy(numpy, numpy.asarray(value), room)}
    if numpy is not None and issubclass(kind, numpy.ndarray):
        return {"t": "npy", "v": _npy(numpy, numpy.array(value, subok=False), room)}
    torch = sys.modules.get("torch")
    if torch is not None and issubclass(kind, torch.Tensor) and numpy is not None:
        return {"t": "npy", "v": _npy(numpy, value.detach().cpu().numpy(), room)}
    if issubclass(kind, int):
        number = int.__int__(value)
        if number.bit_length() > 8000:
            raise Unsendable
        return number
    if issubclass(kind, float):
        return float.__float__(value)
    if issubclass(kind, str):
        text = str.__str__(value)
        room[0] -= len(text)
        return text
    if issubclass(kind, complex):
        return {"t": "complex", "v": [complex.real.__get__(value), complex.imag.__get__(value)]}
    if issubclass(kind, (bytes, bytearray)):
        data = bytes(memoryview(value))
        room[0] -= len(data) * 2
        return {"t": "bytearray" if issubclass(kind, bytearray) else "bytes", "v": base64.b64encode(data).decode()}
    if issubclass(kind, (list, tuple, set, frozenset)):
        copies: dict = {list: list.copy, tuple: lambda v: tuple.__getitem__(v, slice(None)),
                        frozenset: frozenset.copy, set: set.copy}  # each base's own copy, never a subclass's __iter__
        base = next(b for b in copies if issubclass(kind, b))
        return {"t": base.__name__, "v": [typed(v, room, depth + 1) for v in copies[base](value)]}
    if issubclass(kind, dict):
        return {"t": "dict", "v": [[typed(k, room, depth + 1), typed(v, room, depth + 1)]
                                   for k, v in dict.items(dict.copy(value))]}
    if kind is range:
        return {"t": "range", "v": [value.start, value.stop, value.step]}
    if issubclass(kind, type) and getattr(value, "__module__", "").split(".")[0] in ("builtins", "numpy"):
        return {"t": "type", "v": f"{value.__module__}:{value.__qualname__}"}
    raise Unsendable


def _npy(numpy, array, room: list[int]) -> str:
    room[0] -= array.nbytes * 2
    if room[0] < 0 or array.dtype.hasobject:
        raise Unsendable
    buf = io.BytesIO()
    numpy.save(buf, array, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def _compile_hidden(source: str, mode: str):
    """Python's own compiler, never the (patchable) IPython one; IPython syntax (magics) goes through a
    fresh transformer manager, which has none of the transformers the student may have registered."""
    try:
        return _compile(source, HIDDEN_FILE, mode, dont_inherit=True, optimize=0)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return _compile(TransformerManager().transform_cell(source), HIDDEN_FILE, mode, dont_inherit=True,
                        optimize=0)


def run_hidden(shell, cmd: dict) -> dict:
    """Hidden test code (``exec``) or the student side of a lifted assert (``eval``), run on the
    user's namespace outside IPython's ``run_cell``. What it prints is discarded, and the reply names
    only the exception's type: the grader decides what the student is told."""
    out, err = CappedStream("stdout"), CappedStream("stderr")
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with shell.builtin_trap:
            code = _compile_hidden(cmd["code"], "eval" if cmd["op"] == "eval" else "exec")
            if cmd["op"] == "exec":
                _exec(code, shell.user_ns)
                return {"status": "ok"}
            value = _eval(code, shell.user_ns)
        try:
            return {"status": "ok", "value": typed(value, [CAP * 4 + (1 << 19)])}
        except Unsendable:
            return {"status": "ok", "value": {"t": "unsendable"}}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the test did not pass
        line, tb = 0, exc.__traceback__
        while tb is not None:  # the test's own line that raised (the grader shows that assert's message)
            if tb.tb_frame.f_code.co_filename == HIDDEN_FILE:
                line = tb.tb_lineno
            tb = tb.tb_next
        return {"status": "error", "ename": type(exc).__name__[:100], "line": line}
    finally:
        sys.stdout, sys.stderr = real


def serve(fd_in: int, fd_out: int, cap: int, preload: list[str]) -> None:
    """Answer commands on these pipes until EOF; the warm fork server (_zygote.py) calls this directly."""
    global IN, OUT, CAP, PRELOAD
    IN, OUT, CAP, PRELOAD = fd_in, fd_out, cap, preload
    main()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
          [m for m in sys.argv[4].split(",") if m] if len(sys.argv) > 4 else [])
