"""The seeded public/private split of the hidden rows: which rows the public board is scored on.

Why a keyed hash of (seed, id) and not a shuffle of row numbers: the split must not change when the
organiser re-sorts or re-exports the labels file, and must be the same on every server and on every
run. Each id gets a 64-bit BLAKE2b key of ``seed`` and the id; the ``round(share * n)`` ids with the
smallest keys are public (Python's ``round``: halves go to the even count). Ties of the 64-bit key,
improbable as they are, break by the id itself, so nothing depends on the file's row order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def _key(seed: int, hidden_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\x00{hidden_id}".encode(), digest_size=8).digest(), "big")


def public_count(n: int, share: float) -> int:
    """How many of ``n`` hidden rows are public at ``share``."""
    return round(share * n)


def public_mask(ids: Sequence[str], share: float, seed: int) -> np.ndarray:
    """A boolean array over ``ids`` (in their given order): True where the row is on the public board."""
    keys = np.fromiter((_key(seed, i) for i in ids), dtype=np.uint64, count=len(ids))
    order = np.argsort(keys, kind="stable")
    if len(np.unique(keys)) != len(keys):  # a 64-bit tie: order by (key, id), not by position in the file
        order = np.array(sorted(range(len(ids)), key=lambda i: (int(keys[i]), ids[i])), dtype=np.int64)
    mask = np.zeros(len(ids), dtype=bool)
    mask[order[:public_count(len(ids), share)]] = True
    return mask
