"""No text of a hidden test reaches a student, whatever their code does in its own process; lifted
asserts are judged outside it. Each attack is one student's submission; every one is graded through
the public CLI, cold (``workbench grade --json``) and as a class on warm workers (``workbench
autograde``), and the secrets are looked for, verbatim, reversed and hex-encoded, in the JSON, the
class export and each student's feedback page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from workbench.cli import main
from workbench.commands import context

pytestmark = pytest.mark.integration

# The secrets: in comments, string literals (inputs) and expected values of the hidden tests.
SECRETS = ("QX-COMMENT-5521", "qx-literal-8812", "QX-LITERAL-8812", "qx-expected-3391", "QX-EXPECTED-3391",
           "QX-COMMENT-6610", "617283.5", "1234567.0", "qx-loop-4471", "QX-LOOP-4471", "QX-COMMENT-7702")
HIDDEN_SHOUT = ("assert shout('hi') == 'HI!'\n### BEGIN HIDDEN TESTS\n# QX-COMMENT-5521: the instructor's note\n"
                "assert shout('qx-literal-8812') == 'QX-LITERAL-8812!'\n"
                "assert shout('qx-expected-3391') == 'QX-EXPECTED-3391!'\n### END HIDDEN TESTS")
HIDDEN_DOUBLE = ("assert double(1) == 2\n### BEGIN HIDDEN TESTS\n"
                 "assert np.allclose(double(np.array([1.5, 2.5])), [3.0, 5.0])\n"
                 "assert abs(double(0.25) - 0.5) < 1e-12\n"
                 "assert double(617283.5) == 1234567.0  # QX-COMMENT-6610\n### END HIDDEN TESTS")
HIDDEN_LOOP = ("### BEGIN HIDDEN TESTS\nfor word in ['qx-loop-4471']:  # QX-COMMENT-7702\n"
               "    assert shout(word) == 'QX-LOOP-4471!'\n### END HIDDEN TESTS")  # a loop: not liftable
SHOUT = "def shout(s):\n    return s.upper() + '!'"
DOUBLE = "def double(x):\n    return x * 2"
LIFTED = "judged by the grader, outside your process"
LIFTED_TASKS = ("test_shout", "test_double")  # each hidden part is only liftable asserts

COLLECT = """
def _leak(items):
    text = '\\n'.join(map(str, items))
    print('LEAK', text)
    print('HEX', text.encode('utf-8', 'replace').hex())
    print('REV', text[::-1])
"""
# Each attack: (cells before the answers, shout, double, cells after every test).
ATTACKS: dict[str, tuple[list[str], str, str, list[str]]] = {
    "frame-source": ([], """import inspect, linecache, sys
def shout(s):
    if s in ('hi', 'a'):
        return s.upper() + '!'
    frame = sys._getframe(1)
    parts = [frame.f_code.co_filename, ''.join(linecache.getlines(frame.f_code.co_filename)),
             repr(frame.f_code.co_consts), repr(frame.f_globals.get('word'))]
    try:
        parts.append(inspect.getsource(frame))
    except Exception as exc:
        parts.append(repr(exc))
    raise ValueError('\\n'.join(parts))""", DOUBLE, []),
    "ipython-hooks": (["""SEEN = []
ip = get_ipython()
ip.events.register('pre_run_cell', lambda info: SEEN.append(info.raw_cell))
ip.events.register('post_run_cell', lambda result: SEEN.append(result.info.raw_cell))
ip.events.register('pre_execute', lambda: SEEN.append(repr(__import__('sys')._getframe(1).f_locals)))
def _capture(lines):
    SEEN.append(''.join(lines))
    return lines
ip.input_transformers_cleanup.append(_capture)
import ast
class _Spy(ast.NodeTransformer):
    def visit_Constant(self, node):
        SEEN.append(repr(node.value))
        return node
ip.ast_transformers.append(_Spy())""" + COLLECT], SHOUT, DOUBLE, ["_leak(SEEN)"]),
    "trace-profile": (["""import sys, threading
SEEN = []
def _cell(frame):
    name = frame.f_code.co_filename
    return name.startswith('<') and not name.startswith('<frozen')
def _tracer(frame, event, arg):
    if _cell(frame):
        SEEN.append(frame.f_code.co_filename)
        SEEN.extend(map(repr, frame.f_code.co_consts))
        try:
            SEEN.append(repr(frame.f_locals)[:2000])
        except Exception:
            pass
    return None
sys.settrace(_tracer)
threading.settrace(_tracer)
sys.setprofile(lambda frame, event, arg: SEEN.append(repr(frame.f_code.co_consts)) if _cell(frame) else None)
""" + COLLECT], SHOUT, DOUBLE,
                      ["sys.settrace(None); sys.setprofile(None)\n_leak(SEEN)"]),
    "gc-scan": ([COLLECT], """import atexit
class _Ghost:
    def __del__(self):
        print('GHOST', [repr(o)[:200] for o in __import__('gc').get_objects() if 'qx' in repr(o)[:200].lower()])
_ghost = _Ghost()
atexit.register(lambda: print('ATEXIT', len(__import__('gc').get_objects())))
""" + SHOUT, DOUBLE, ["""import gc, types
found = []
for obj in gc.get_objects():
    if isinstance(obj, types.FunctionType):
        obj = obj.__code__
    if isinstance(obj, types.CodeType):
        found.append(obj.co_filename + repr(obj.co_consts))
    elif isinstance(obj, (dict, list, tuple)):
        values = obj.values() if isinstance(obj, dict) else obj
        found.extend(v for v in list(values) if isinstance(v, str) and 'qx' in v.lower())
_leak(found)"""]),
    "proc-self": ([COLLECT], SHOUT, DOUBLE, ["""import os, select
seen = []
for path in ('/proc/self/cmdline', '/proc/self/environ', '/proc/1/cmdline', '/proc/1/environ'):
    try:
        seen.append(open(path, 'rb').read().decode('latin-1'))
    except OSError as exc:
        seen.append(repr(exc))
for fd in sorted(map(int, os.listdir('/proc/self/fd'))):
    try:
        target = os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        continue
    seen.append(f'{fd} -> {target}')
    if target.startswith('pipe:') and select.select([fd], [], [], 0)[0]:
        seen.append(os.read(fd, 1 << 16).decode('latin-1'))
_leak(seen)"""]),
    "builtins-patch": (["""import builtins
SEEN = []
class _AE(AssertionError):
    def __init__(self, *args):
        SEEN.append(repr(args))
        super().__init__(*args)
builtins.AssertionError = _AE
_real_print = builtins.print
def _print(*args, **kwargs):
    SEEN.append(repr(args))
    return _real_print(*args, **kwargs)
builtins.print = _print
for _name in ('compile', 'exec', 'eval'):
    def _spy(*args, _real=getattr(builtins, _name), **kwargs):
        SEEN.append(repr(args[:1]))
        return _real(*args, **kwargs)
    setattr(builtins, _name, _spy)
try:
    AssertionError.__init__ = lambda self, *a: SEEN.append(repr(a))
except TypeError:
    pass""" + COLLECT], SHOUT, DOUBLE, ["_leak(SEEN)"]),
    "exception-str": ([], """import sys
class Dump(Exception):
    def __str__(self):  # every frame the exception passed through: constants first, then locals, globals
        frames, tb = [], self.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            frames.append(repr(frame.f_code.co_consts) + repr(frame.f_locals)[:300] + repr(list(frame.f_globals)))
            tb = tb.tb_next
        return '\\n'.join(reversed(frames))
def shout(s):
    if s in ('hi', 'a'):
        return s.upper() + '!'
    raise Dump()""", DOUBLE, []),
    "files-between-runs": ([COLLECT], """import os, sys
def shout(s):
    if s not in ('hi', 'a'):
        seen = repr(sys._getframe(1).f_code.co_consts) + repr(s)
        for path in ('/tmp/leak', '/dev/shm/leak', 'leak.txt'):
            with open(path, 'a') as handle:
                handle.write(seen)
    return s.upper() + '!'""", DOUBLE, ["""import os
_leak([open(p).read() for p in ('/tmp/leak', '/dev/shm/leak', 'leak.txt') if os.path.exists(p)])"""]),
    "echo": ([], SHOUT, DOUBLE,
             ["print('QX-COMMENT-5521', \"assert shout('qx-literal-8812') == 'QX-LITERAL-8812!'\")"]),
}
# Lifted asserts are judged outside the student's process: these earn nothing on them.
CHEATS = {
    "correct": ([], SHOUT, DOUBLE, []),
    "patched-numpy": (["""import numpy as np, builtins
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
builtins.abs = lambda x: 0"""], SHOUT, "def double(x):\n    return 2 if type(x) is int and x == 1 else x * 3", []),
    "eq-liar": ([], """class Liar(str):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = str.__hash__
def shout(s):
    return Liar('nope')""", """class Yes(float):
    def __eq__(self, other):
        return True
    def __lt__(self, other):
        return True
    def __sub__(self, other):
        return Yes(0.0)
    __hash__ = float.__hash__
def double(x):
    return Yes(-1.0)""", []),
    "opaque-liar": ([], """class Anything:
    def __eq__(self, other):
        return True
def shout(s):
    return Anything()""", DOUBLE, []),
    # The runner's own reply function, found by a gc scan, writes "ok" for the cells to come: every
    # verdict the student's process reports is theirs to write, none that the grader decides is.
    "forged-replies": (["""import gc, types
_send = next(f for f in gc.get_objects() if isinstance(f, types.FunctionType) and f.__name__ == 'send'
             and 'OUT' in f.__globals__ and 'receive' in f.__globals__)
for _ in range(12):
    _send({'status': 'ok', 'stdout': '', 'stderr': '', 'display': []})"""],
                       "def shout(s):\n    return 'wrong'", "def double(x):\n    return -1", []),
    "no-asserts": (["""ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: [l.replace('assert ', 'pass  # ') for l in lines])"""],
                   "def shout(s):\n    return 'wrong'", "def double(x):\n    return -1", []),
}


def source_notebook() -> nbformat.NotebookNode:
    def meta(gid: str, **flags: object) -> dict:
        return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                             "locked": False, **flags}}

    return new_notebook(cells=[
        new_code_cell("import numpy as np", metadata=meta("setup", locked=True)),
        new_code_cell("def shout(s):\n    ### BEGIN SOLUTION\n    return s.upper() + '!'\n    ### END SOLUTION",
                      metadata=meta("shout", solution=True)),
        new_code_cell(HIDDEN_SHOUT, metadata=meta("test_shout", grade=True, points=2)),
        new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION",
                      metadata=meta("double", solution=True)),
        new_code_cell(HIDDEN_DOUBLE, metadata=meta("test_double", grade=True, points=2)),
        new_code_cell(HIDDEN_LOOP, metadata=meta("test_loop", grade=True, points=1)),
        new_code_cell("assert shout('a') == 'A!'", metadata=meta("test_visible", grade=True, points=1)),
    ])


def submission(before: list[str], shout: str, double: str, after: list[str]) -> nbformat.NotebookNode:
    """The student's copy (hidden regions removed, as released) with these answers and extra cells."""
    from workbench.grading.secrecy import visible

    nb = source_notebook()
    for cell in nb.cells:
        gid = cell.metadata["nbgrader"]["grade_id"]
        cell.source = {"shout": shout, "double": double}.get(gid, visible(cell.source))
    nb.cells = [new_code_cell(code) for code in before] + nb.cells + [new_code_cell(code) for code in after]
    return nb


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    context.settings.cache_clear()
    yield
    context.settings.cache_clear()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        for form in (secret, secret[::-1], secret.encode().hex()):
            assert form not in text, f"{secret!r} ({'as is' if form == secret else 'encoded'}) leaked into {where}"


@pytest.fixture
def lab(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """The course registered, and a class folder with one student per attack and cheat."""
    root = tmp_path / "course"
    (root / "labs" / "lab1").mkdir(parents=True)
    nbformat.write(source_notebook(), root / "labs" / "lab1" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "sec101", "title": "Secrecy", "labs": [
        {"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb", "points": 6}]}))
    cli(capsys, "course", "add", str(root))
    klass = tmp_path / "class"
    for name, parts in {**ATTACKS, **CHEATS}.items():
        (klass / name).mkdir(parents=True)
        nbformat.write(submission(*parts), klass / name / "lab1.ipynb")
    return root / "labs" / "lab1" / "source.ipynb", klass


def test_no_attack_gets_hidden_text_out_and_lifted_asserts_cannot_be_fooled(
        lab: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, klass = lab
    assert all(secret in source.read_text() for secret in SECRETS)  # the secrets are really in the tests
    cold: dict[str, dict] = {}
    for name in [*ATTACKS, *CHEATS]:
        out = cli(capsys, "grade", str(klass / name / "lab1.ipynb"), "--source", str(source), "--json",
                  "--timeout", "10")
        assert_no_secret(out, f"`workbench grade --json` of {name}")
        cold[name] = {t["id"]: t for t in json.loads(out)["tasks"]}

    summary = json.loads(cli(capsys, "autograde", "--course", "sec101", "--lab", "lab1", "--submissions",
                             str(klass), "--workers", "2", "--timeout", "10", "--json", "--no-progress"))
    assert summary["graded"] == len(ATTACKS) + len(CHEATS) and summary["failed"] == 0, summary
    export = cli(capsys, "grades", "export", "--course", "sec101", "--format", "json")
    assert_no_secret(export, "the json export")
    assert_no_secret(cli(capsys, "grades", "export", "--course", "sec101", "--lab", "lab1", "--format", "csv"),
                     "the csv export")
    book = {s["student"]: {t["id"]: t for t in s["tasks"]} for s in json.loads(export)["submissions"]}
    pages: dict[str, str] = {}
    for name in book:
        page = tmp_path / f"{name}.html"
        cli(capsys, "feedback", "--course", "sec101", "--lab", "lab1", "--student", name, "--out", str(page))
        pages[name] = page.read_text()
        assert_no_secret(pages[name], f"the feedback page of {name}")
        # warm workers and a cold sandbox agree on every verdict (but those forged replies decide:
        # where they land in the reply stream differs between the two runners)
        judged = LIFTED_TASKS if name == "forged-replies" else book[name].keys()
        assert {k: (book[name][k]["status"], book[name][k]["points"]) for k in judged} == \
               {k: (cold[name][k]["status"], cold[name][k]["points"]) for k in judged}, name

    # The attacks did run: the hooks saw the feedback run's cells (the tests' visible parts only) ...
    assert "shout(&#x27;hi&#x27;)" in pages["ipython-hooks"] and "LEAK" in pages["trace-profile"]
    assert "&lt;hidden&gt;" not in pages["trace-profile"]  # no hidden code ran in the feedback run
    # ... and the hidden tests called the student's code in the judging run, which told only its verdict.
    for name, raised in (("frame-source", "ValueError"), ("exception-str", "an exception")):  # Dump: not built in
        assert book[name]["test_shout"]["message"] == f"hidden tests failed: your code raised {raised}; {LIFTED}"
        assert book[name]["test_loop"]["message"] == f"hidden tests failed: your code raised {raised}"
        assert book[name]["test_visible"]["status"] == "passed"
    assert "[hidden test text]" in pages["echo"]  # the backstop: hidden text printed by the student is redacted

    # Lifted asserts: a correct student earns everything; patched numpy, lying __eq__ or an
    # assert-deleting transformer earn nothing on them.
    correct = book["correct"]
    assert {k: t["points"] for k, t in correct.items()} == {"test_shout": 2.0, "test_double": 2.0, "test_loop": 1.0,
                                                           "test_visible": 1.0}
    assert correct["test_shout"]["message"] == correct["test_double"]["message"] == f"hidden tests {LIFTED}"
    assert correct["test_loop"]["message"] == ""  # a loop is not liftable: judged in the student's process
    assert f"hidden tests {LIFTED}" in pages["correct"]
    assert (book["patched-numpy"]["test_double"]["status"], book["patched-numpy"]["test_double"]["points"]) == \
           ("failed", 0.0)
    for task in ("test_shout", "test_double"):
        assert book["eq-liar"][task]["points"] == 0.0, book["eq-liar"][task]
    assert book["eq-liar"]["test_loop"]["points"] == 1.0  # not lifted: a lying __eq__ still fools it
    assert book["opaque-liar"]["test_shout"]["status"] == "error"
    assert "cannot be sent to the grader" in book["opaque-liar"]["test_shout"]["message"]
    no_asserts = book["no-asserts"]
    assert {k: t["points"] for k, t in no_asserts.items()} == {"test_shout": 0.0, "test_double": 0.0,
                                                              "test_loop": 0.0, "test_visible": 1.0}
    # Forged replies earn nothing on the lifted asserts, cold or warm; what the student's process
    # judges itself (the visible assert, the loop) they may pass (docs/grading.md: lift what counts).
    for run in (book, cold):
        assert [run["forged-replies"][k]["points"] for k in LIFTED_TASKS] == [0.0, 0.0], run["forged-replies"]
    assert cold["forged-replies"]["test_loop"]["points"] == 1.0  # fooled: the verdict is the process's own


def test_rest_responses_carry_no_hidden_text(start_server: Any, tmp_path: Path, db_url: str) -> None:
    """Submit through a real jupyter_server: the submission list, grades, and feedback (HTML and
    JSON) a student reads carry no hidden text, even from a notebook that combines two attacks."""
    import time
    import urllib.request

    from workbench.curriculum import catalog, load_course
    from workbench.store import open_store

    root = tmp_path / "course"
    (root / "labs" / "lab1").mkdir(parents=True)
    nbformat.write(source_notebook(), root / "labs" / "lab1" / "source.ipynb")
    (root / "course.yaml").write_text(yaml.safe_dump({"id": "sec101", "title": "Secrecy", "labs": [
        {"id": "lab1", "title": "Lab 1", "path": "labs/lab1/source.ipynb", "points": 6}]}))
    catalog.register(open_store(db_url), load_course(root))
    student = start_server("--Workbench.default_role=student")
    assert student.request("POST", "courses/sec101/labs/lab1/open", {})[0] == 201
    hooks, frames = ATTACKS["ipython-hooks"], ATTACKS["frame-source"]
    nbformat.write(submission(hooks[0], frames[1], DOUBLE, hooks[3]), student.root / "sec101" / "lab1.ipynb")
    assert student.request("POST", "submissions", {"course": "sec101", "lab": "lab1"})[0] == 202
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listing = student.request("GET", "submissions?course=sec101&lab=lab1")[1]
        if listing["submissions"] and listing["submissions"][0]["status"] in ("graded", "failed"):
            break
        time.sleep(0.5)
    sub = listing["submissions"][0]
    assert sub["status"] == "graded", sub
    texts = [json.dumps(listing), json.dumps(student.request("GET", "grades?course=sec101&lab=lab1")[1]),
             json.dumps(student.request("GET", f"feedback/{sub['id']}?format=json")[1])]
    request = urllib.request.Request(f"{student.url}/workbench/api/v1/feedback/{sub['id']}",
                                     headers={"Authorization": f"token {student.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # the HTML page
        texts.append(response.read().decode())
    for text in texts:
        assert_no_secret(text, "a REST response")
    tasks = {t["id"]: t for t in sub["tasks"]}
    assert tasks["test_shout"]["message"] == f"hidden tests failed: your code raised ValueError; {LIFTED}"
    assert tasks["test_double"]["message"] == f"hidden tests {LIFTED}"
    assert "shout('hi')" in texts[2]  # the hooks did capture the feedback run's (visible) test cells
