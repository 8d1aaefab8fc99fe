"""Feeding MindSpore's compiled graphs from the face lab: what the descriptor and MTCNN share.

Why a module of its own: a graph compiled with ``ms.jit`` is compiled again for every new input
shape, so both networks pad their batches to a few fixed sizes, and both must say out loud when
``MS_JIT=0`` (MindSpore's debugging switch) makes them run op by op instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np


def bucket(n: int, sizes: tuple[int, ...]) -> int:
    """The smallest of ``sizes`` that holds ``n`` (beyond the largest: the next multiple of it)."""
    return next((s for s in sizes if s >= n), -(-n // sizes[-1]) * sizes[-1])


def run_padded(run: Callable[[np.ndarray], Sequence[np.ndarray]], batch: np.ndarray,
               sizes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """``run`` (a compiled graph, arrays in and out) over ``batch`` in chunks of the largest of
    ``sizes``, each zero-padded to the smallest size that holds it; its outputs, unpadded, joined."""
    largest, parts = sizes[-1], []
    for start in range(0, len(batch), largest):
        chunk = batch[start:start + largest]
        padded = np.zeros((bucket(len(chunk), sizes), *chunk.shape[1:]), np.float32)
        padded[:len(chunk)] = chunk
        parts.append([out[:len(chunk)] for out in run(padded)])
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def warn_if_op_by_op(what: str, cost: str) -> None:
    """``MS_JIT=0`` is honoured, but said, since ``what`` then costs ``cost``."""
    if os.environ.get("MS_JIT") == "0":
        warnings.warn(f"MS_JIT=0 is set: MindSpore runs {what} op by op (PyNative), {cost}; unset MS_JIT to have "
                      "it compiled", stacklevel=4)
