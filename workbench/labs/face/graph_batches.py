"""Feeding MindSpore's compiled graphs from the face lab: what the descriptor and MTCNN share.

Why a module of its own: both networks are compiled the same way (:func:`compile_graph`), a compiled
graph is compiled again for every new input shape, so both pad their batches to a few fixed sizes, and
both must say out loud when ``MS_JIT=0`` (MindSpore's debugging switch) makes them run op by op instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def compile_graph(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (MindSpore ops on tensors) as a compiled graph, by the executor MindSpore's mode calls for.

    In PyNative mode, a student's kernel's, ``ms.jit(fullgraph=True)``: compiled, and STRICT syntax, so a construct
    MindSpore cannot compile is an error rather than an interpreted node. In GRAPH_MODE, which only the pipeline's
    worker processes set (:mod:`.pipeline_workers`: they own their process), a ``Cell`` around ``fn``, which MindSpore
    calls through its graph executor directly rather than PyNative's queue: 0.29 ms per call of a 2-op graph against
    ``jit``'s 1.05 ms (one pinned core, 2026-12-03); detection 22.5 -> 20.2 ms per face, the same descriptors.
    """
    import mindspore

    if mindspore.get_context("mode") != mindspore.GRAPH_MODE:
        return mindspore.jit(fn, fullgraph=True)

    class Graph(mindspore.nn.Cell):
        def __init__(self) -> None:
            super().__init__()
            self.fn = fn

        def construct(self, *args: Any) -> Any:
            return self.fn(*args)

    return Graph()


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
