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


def max_pool2d_by_3d(ops: Any, x: Any, size: int, stride: int, ceil_mode: bool) -> Any:
    """Max pooling of an NCHW tensor with ``size`` x ``size`` windows, no padding, ``ceil_mode`` as torch's.

    Why the 3-D primitive on a depth of one: on this CPU build ``MaxPool3D`` took 0.58 ms where ``MaxPool`` took 1.35
    (O-Net's first pool, 8 x 32 x 46 x 46, one pinned core, 2026-12-03), and the descriptor's embedding went from 13.4
    to 12.5 ms per face against ``ops.max_pool2d``; the same numbers. It also has torch's ceil mode (a last window half
    past the edge), which 2-D ``MaxPool`` lacks. ``ops`` (``mindspore.ops``) is passed in: compiled code cannot import.
    """
    b, c, h, w = x.shape
    out = ops.MaxPool3D((1, size, size), (1, stride, stride), "pad", (0, 0, 0, 0, 0, 0), ceil_mode=ceil_mode)(
        x.reshape(b, c, 1, h, w))
    return out.reshape(b, c, out.shape[3], out.shape[4])


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
