"""Values from the student's process, as the grader receives them: tagged plain data (see
``_inside.typed``) decoded back into Python and numpy values.

Why a format of our own rather than pickle: the student's process is untrusted, and unpickling runs
whatever code the bytes name. This decoder builds only numbers, strings, bytes, lists, tuples,
dicts, sets, ranges, numpy arrays and scalars (``np.load`` without pickle, numeric dtypes only for
scalars) and the built-in and numpy types themselves; anything else is refused as ``Unsendable``,
and a lifted assert fed it fails.
"""

from __future__ import annotations

import base64
import importlib
import io
from typing import Any


class Unsendable(Exception):
    """The student's process sent no value the grader can compare (a class of its own, a DataFrame)."""


def decode(value: Any, depth: int = 0) -> Any:
    """Typed plain data from the student's process (``_inside.typed``) back into values; anything
    else is refused (never unpickled, never a class of the student's)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if depth > 60 or type(value) is not dict or not isinstance(value.get("t"), str):
        raise Unsendable
    tag, data = value["t"], value.get("v", "")
    data_items: list[Any] = data if isinstance(data, list) else []
    try:
        if tag in ("list", "tuple", "set", "frozenset"):
            items = [decode(v, depth + 1) for v in data_items]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict":
            return {decode(k, depth + 1): decode(v, depth + 1) for k, v in data_items}
        if tag == "complex":
            return complex(float(data_items[0]), float(data_items[1]))
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(str(data))
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "range":
            return range(*(int(x) for x in data_items))
        import numpy as np

        if tag == "np":
            dtype = np.dtype(value["d"])
            if dtype.kind not in "biuf" or type(data) not in (bool, int, float):
                raise Unsendable
            return dtype.type(data)
        if tag == "npy":
            array = np.load(io.BytesIO(base64.b64decode(str(data))), allow_pickle=False)
            return array[()] if value.get("scalar") else array
        if tag == "type":
            module, _, name = str(data).partition(":")
            if module.split(".")[0] not in ("builtins", "numpy"):
                raise Unsendable
            found: Any = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)
            if isinstance(found, type):
                return found
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ImportError, OverflowError):
        raise Unsendable from None
    raise Unsendable
