"""Hidden tests without a sandbox: which asserts lift, that expected values never go to the student's
side, that typed values survive the trip with their types (and liars arrive as plain values), the
grader's verdicts, and the scrubber."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from workbench.grading import _inside, lifting
from workbench.grading.runner import CellOutcome
from workbench.grading.secrecy import REDACTED, Scrubber, fragments, visible
from workbench.grading.typed_values import Unsendable, decode

IMPORTS = {"np": "numpy"}


def sent(lifted: lifting.Lifted) -> str:
    """Everything of a lifted cell that reaches the student's process."""
    return "\n".join([*(i.source for i in lifted.items if i.kind == "sandbox"),
                      *(leaf for i in lifted.items for leaf in i.leaves), *lifted.deferred])


@pytest.mark.parametrize("cell, leaves", [
    ("assert add(40, 2) == 42", ["add(40, 2)"]),
    ("assert 42 == add(40, 2)", ["add(40, 2)"]),
    ("assert np.allclose(f([1, 2]), [0.5, 0.25], atol=1e-6)", ["f([1, 2])"]),
    ("assert abs(f(0.5) - 0.7853981) < 1e-6", ["f(0.5)"]),
    ("import math\nassert math.isclose(f(2), 4.0001, rel_tol=1e-3)", ["f(2)"]),
    ("assert isinstance(f(1), int) and f(1) > 0", ["f(1)", "f(1)"]),
    ("assert type(f(1)) is int", ["type(f(1))"]),
    ("assert len(f('abc')) == 3", ["len(f('abc'))"]),
    ("assert (np.asarray(f(3)) == np.arange(3)).all()", ["np.asarray(f(3))"]),
    ("from numpy.testing import assert_allclose\nassert_allclose(f(2), 4.25)", ["f(2)"]),
    ('"""doc"""\nz = normalise([1.0, 2.0])\nassert abs(z.mean()) < 1e-9', ["abs(z.mean())"]),
    ("x = [1, 2, 3]\nexpected = [2, 4, 6]\nassert f(x) == expected", ["f(x)"]),
])
def test_liftable_forms_send_only_the_students_side(cell: str, leaves: list[str]) -> None:
    lifted = lifting.lift(cell, IMPORTS, set())
    assert lifted is not None
    assert [leaf for item in lifted.items for leaf in item.leaves] == leaves
    for expected in ("42", "0.5, 0.25", "0.7853981", "4.0001", "4.25", "[2, 4, 6]", "np.arange"):
        if expected in cell:
            assert expected not in sent(lifted), expected


@pytest.mark.parametrize("cell", [
    "assert f(3)",  # the student's own truth
    "assert not f(3)",
    "assert f(3) == g(3)",  # no side free of student names
    "for i in range(3):\n    assert f(i) == i",
    "assert all(f(i) == i for i in range(3))",
    "try:\n    f(-1)\nexcept ValueError:\n    pass",
    "x = np.array([1, 2])\nassert np.allclose(f(x), x * 2)",  # the expected side reads an input
    "np.random.seed(0)\nexpected = np.random.rand(3)\nassert np.allclose(f(), expected)",  # random state
    "assert torch.equal(relu(t), torch.tensor([0.0]))",  # a library the grader does not judge with
    "%time f(3)",
    "f(3)",  # nothing to judge
])
def test_other_forms_run_in_the_students_process(cell: str) -> None:
    assert lifting.lift(cell, IMPORTS, set()) is None


def test_constants_later_cells_read_are_set_after_the_judgement() -> None:
    lifted = lifting.lift("expected = 42\nassert f(1) == expected", IMPORTS, {"expected"})
    assert lifted is not None and lifted.deferred == ["expected = 42"]
    assert "42" not in "".join(i.source for i in lifted.items if i.kind == "sandbox")


class Liar(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class Opaque:
    def __eq__(self, other: object) -> bool:
        return True


def trip(value: Any) -> Any:
    """The student's process encodes, JSON carries, the grader decodes."""
    return decode(json.loads(json.dumps(_inside.typed(value, [1 << 20]))))


def test_values_keep_their_types_and_liars_arrive_as_plain_values() -> None:
    for value in (None, True, 3, 2.5, float("inf"), "s", (1, (2, 3)), [1, [2]], {1: "a", (2, 3): {4}},
                  frozenset({1}), 1 + 2j, b"\x00", range(3)):
        back = trip(value)
        assert back == value and type(back) is type(value)
    for scalar in (np.float32(0.1), np.int64(7), np.bool_(True), np.complex128(1j)):
        back = trip(scalar)
        assert back == scalar and type(back) is type(scalar)
    array = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(trip(array), array) and trip(array).dtype == array.dtype
    liar = trip(Liar(0))
    assert type(liar) is int and liar != 42
    assert trip(int) is int and trip(np.float64) is np.float64
    for opaque in (Opaque(), object(), np.array([Opaque()], dtype=object), type("Mine", (), {})):
        with pytest.raises((_inside.Unsendable, Unsendable)):
            trip(opaque)
    with pytest.raises(Unsendable):
        decode({"t": "np", "d": "O", "v": 1})  # never an object dtype, never a pickle


def fake_ask(namespace: dict[str, Any]) -> Any:
    """The student's process, without a sandbox: exec/eval there, values typed as _inside sends them."""
    def ask(cmd: dict[str, Any]) -> CellOutcome:
        try:
            if cmd["op"] == "exec":
                exec(cmd["code"], namespace)
                return CellOutcome("ok")
            value = eval(cmd["code"], namespace)
        except Exception as exc:
            return CellOutcome("error", ename=type(exc).__name__)
        try:
            typed = _inside.typed(value, [1 << 20])
        except _inside.Unsendable:
            typed = {"t": "unsendable"}
        return CellOutcome("ok", value=json.loads(json.dumps(typed)))
    return ask


CELL = ("assert double(21) == 42\nassert np.allclose(double(np.array([1.5])), [3.0])\n"
        "assert abs(double(0.25) - 0.5) < 1e-12")


@pytest.mark.parametrize("student, verdict", [
    ("def double(x):\n    return x * 2", ("passed", "", "")),
    ("def double(x):\n    return x * 3", ("failed", "AssertionError", "")),
    ("class Liar(int):\n    def __eq__(self, other): return True\n    __hash__ = int.__hash__\n"
     "def double(x):\n    return Liar(0)", ("failed", "AssertionError", "")),
    ("import numpy\nnumpy.allclose = lambda *a, **k: True\n"
     "def double(x):\n    return 42 if type(x) is int else x", ("failed", "AssertionError", "")),
    ("class Yes:\n    def __eq__(self, other): return True\ndef double(x):\n    return Yes()", ("unsendable", "", "")),
    ("def double(x):\n    raise KeyError(x)", ("error", "KeyError", "")),
])
def test_the_grader_decides(student: str, verdict: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(np, "allclose", np.allclose)  # a student below patches numpy: give it back afterwards
    namespace: dict[str, Any] = {"np": np}
    exec(student, namespace)
    lifted = lifting.lift(CELL, IMPORTS, set())
    assert lifted is not None
    assert lifting.judge(lifted, fake_ask(namespace)) == verdict


def test_an_asserts_own_literal_message_is_what_the_student_is_told() -> None:
    cell = "assert f(1) == 1\nassert f(2) == 4, 'f(2) should be 4'\nassert f(3) == 9, f'not {f(3)}'"
    lifted = lifting.lift(cell, IMPORTS, set())
    assert lifted is not None
    assert lifting.judge(lifted, fake_ask({"f": lambda x: 1})) == ("failed", "AssertionError", "f(2) should be 4")
    assert lifting.judge(lifted, fake_ask({"f": lambda x: x * x if x < 3 else 0})) == ("failed", "AssertionError", "")
    loop = "for x in [2]:\n    assert f(x) == 4, (\n        'f(2) should be 4')"
    assert lifting.message_at(loop, 2) == "f(2) should be 4" and lifting.message_at(loop, 1) == ""
    assert "f(2) should be 4" not in fragments("### BEGIN HIDDEN TESTS\n" + cell + "\n### END HIDDEN TESTS")


SOURCE = ("assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(40, 2) == 42  # QX-7781: note\n"
          "assert f('a secret str') == 0.78539\nassert g() == 42\n### END HIDDEN TESTS")


def test_scrubber_removes_hidden_text_but_not_public_or_common_text() -> None:
    assert visible(SOURCE) == "assert add(1, 2) == 3"
    found = fragments(SOURCE)
    assert {"QX-7781", "a secret str", "0.78539", "assert add(40, 2) == 42"} <= found
    assert "### BEGIN HIDDEN TESTS" not in found and "42" not in found
    scrub = Scrubber([SOURCE], visible(SOURCE))
    text = "QX-7781 'a secret str' 0.78539 assert add(40, 2) == 42 | assert add(1, 2) == 3 | 42"
    assert scrub.text(text) == f"{REDACTED} {REDACTED} {REDACTED} {REDACTED} | assert add(1, 2) == 3 | 42"
    output = scrub.output({"stdout": "QX-7781", "stderr": "", "display": [{"text/plain": "a secret str"}],
                           "code": "print(1)"})
    assert output == {"stdout": REDACTED, "stderr": "", "display": [{"text/plain": REDACTED}], "code": "print(1)"}
