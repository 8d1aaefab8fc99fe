"""A submitted predictions CSV checked against the hidden ids: one message per problem, naming the
line and the fix, and the predictions returned in the hidden order when all is well."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import PredictionsError
from workbench.hackathon.predictions import MAX_LISTED, Expected, parse

from .event_files import predictions_csv

IDS = [f"a{i}" for i in range(6)]
INDEX = {hidden_id: i for i, hidden_id in enumerate(IDS)}
CLASSES = Expected("id", "label", "class", INDEX, ("0", "1", "2"), "hidden/inputs.csv")
NUMBERS = Expected("id", "label", "number", INDEX, (), "hidden/inputs.csv")


def refused(data: bytes, expected: Expected = CLASSES) -> list[str]:
    with pytest.raises(PredictionsError) as caught:
        parse(data, expected)
    head, *lines = caught.value.message.splitlines()
    assert head.startswith("predictions.csv: ") and head.endswith("— nothing was scored:")
    return [line.strip() for line in lines]


def test_aligned_to_the_hidden_order_whatever_the_row_order() -> None:
    order = [3, 0, 5, 1, 4, 2]
    labels = ["2", "0", "1", "1", "0", "2"]
    got = parse(predictions_csv([IDS[i] for i in order], [labels[i] for i in order]), CLASSES)
    assert got.tolist() == [int(v) for v in labels]
    numbers = parse(b"\xef\xbb\xbf" + predictions_csv(IDS, [0.5, -1, "1e3", 2, 3, 4]) + b"\n\n", NUMBERS)
    assert numbers.tolist() == [0.5, -1.0, 1000.0, 2.0, 3.0, 4.0]  # a BOM and blank lines are fine
    assert parse(predictions_csv(IDS, ["1.0", "2", "0", "0.0", "1", "2"]), CLASSES).tolist() == [1, 2, 0, 0, 1, 2]
    plain = predictions_csv(IDS, [" 1", "2 ", "0", "0", "1", "2"])
    quoted = plain.replace(b"a0,", b'"a0",')  # read by csv.reader, not the one-split path
    crlf = plain.replace(b"\n", b"\r\n")
    assert [parse(d, CLASSES).tolist() for d in (plain, quoted, crlf)] == [[1, 2, 0, 0, 1, 2]] * 3


def test_columns_named_wrong_missing_or_extra() -> None:
    assert refused(predictions_csv(IDS, ["1"] * 6, header="id,prediction")) == [
        "line 1: column 'prediction' should be named 'label' — the header must be id,label"]
    assert refused(predictions_csv(IDS, ["1"] * 6, header="ID,label")) == [
        "line 1: column 'ID' should be named 'id' — the header must be id,label"]
    assert refused(b"id\n" + "\n".join(IDS).encode()) == ["line 1: no column 'label' — the header must be id,label"]
    rows = b"id,label,confidence\n" + b"".join(f"{i},1,0.9\n".encode() for i in IDS)
    assert refused(rows) == ["line 1: unexpected column 'confidence' — remove it: a predictions file has exactly "
                             "the columns id,label"]


def test_unknown_missing_and_duplicate_ids() -> None:
    data = predictions_csv(["a0", "a1", "zz", "a1", "a2", ""], ["0"] * 6)
    assert refused(data) == [
        "line 4: id 'zz' is not one of the hidden ids — predict exactly the ids in hidden/inputs.csv",
        "line 5: id 'a1' again (first on line 3) — keep one row per id",
        "line 7: empty id — every row starts with one of the ids in hidden/inputs.csv",
        "3 hidden ids have no row (a3, a4, a5) — add one row for each id in hidden/inputs.csv",
    ]


def test_values_of_the_wrong_kind() -> None:
    assert refused(predictions_csv(IDS, ["0", "cat", "", "7", "1", "2"])) == [
        "line 3: (id a1) 'cat' is not a class of this task — write one of 0, 1, 2",
        "line 4: (id a2) empty label — write one of the classes 0, 1, 2",
        "line 5: (id a3) '7' is not a class of this task — write one of 0, 1, 2",
    ]
    assert refused(predictions_csv(IDS, ["0.5", "nan", "", "0,7", "inf", "high"]).replace(b'0,7', b'"0,7"'),
                   NUMBERS) == [
        "line 3: (id a1) 'nan' is not a finite number — write a number such as 0.5; NaN and infinity cannot be scored",
        "line 4: (id a2) empty label — write a number such as 0.5 (a dot for decimals)",
        "line 5: (id a3) '0,7' is not a number — write a number such as 0.5 (a dot for decimals)",
        "line 6: (id a4) 'inf' is not a finite number — write a number such as 0.5; NaN and infinity cannot be scored",
        "line 7: (id a5) 'high' is not a number — write a number such as 0.5 (a dot for decimals)",
    ]


def test_rows_with_the_wrong_number_of_values() -> None:
    data = b"id,label\na0,1\na1,0,5\na2\n" + b"".join(f"{i},1\n".encode() for i in IDS[3:])
    assert refused(data) == [
        "line 3: 3 values, expected 2 (id,label) — one id and one prediction per line, no commas inside a value",
        "line 4: 1 value, expected 2 (id,label) — one id and one prediction per line, no commas inside a value",
        "2 hidden ids have no row (a1, a2) — add one row for each id in hidden/inputs.csv",
    ]


def test_not_text_or_empty() -> None:
    with pytest.raises(PredictionsError, match=r"not UTF-8 text \(byte 9\) — save it as a UTF-8 CSV file"):
        parse(b"id,label\n\xff\xfe", CLASSES)
    with pytest.raises(PredictionsError, match="the file is empty — write the header id,label and one row per id"):
        parse(b"\n", CLASSES)


def test_a_long_list_is_capped_with_a_count() -> None:
    many = {f"b{i}": i for i in range(100)}
    expected = Expected("id", "label", "number", many, (), "hidden/inputs.csv")
    lines = refused(predictions_csv(list(many), ["x"] * 100), expected)
    assert len(lines) == MAX_LISTED + 1
    assert lines[0].startswith("line 2: (id b0) 'x' is not a number")
    assert lines[-1] == f"… and {100 - MAX_LISTED} more problems"


def test_text_predictions_for_a_custom_scorer() -> None:
    expected = Expected("id", "label", "text", INDEX, (), "hidden/inputs.csv")
    got = parse(predictions_csv(IDS, ["a b", "c", "d", "e", "f", "g"]), expected)
    assert got.dtype == np.dtype(object) and got.tolist() == ["a b", "c", "d", "e", "f", "g"]
    assert refused(predictions_csv(IDS, ["a", "", "c", "d", "e", "f"]), expected) == [
        "line 3: (id a1) empty label — write a prediction"]
