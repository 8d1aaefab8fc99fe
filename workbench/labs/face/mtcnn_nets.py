"""MTCNN's three networks (P-Net, R-Net, O-Net) written once over a small op table, run on torch or MindSpore.

Why one network function over two op tables (as :mod:`workbench.labs.face.descriptor` does): the
architecture lives in one place, so parity between the frameworks tests the ops, not two hand copies.
Both tables read the same shipped weight files (``pnet.pt``, ``rnet.pt``, ``onet.pt``, facenet-pytorch's
release; opened with ``torch.load``, torch being a dependency of the workbench either way).

MindSpore compiles each network (:func:`.graph_batches.compile_graph`: ``ms.jit(fullgraph=True)`` in PyNative
mode, a ``Cell`` in the pipeline workers' GRAPH_MODE; op by op, PyNative, costs a Python
dispatch per op; ``fullgraph`` makes an uncompilable construct an error rather than an interpreted
node). A graph is compiled once per input shape, so inputs are zero-padded to fixed shapes: R-Net and
O-Net batches to :data:`BATCH_BUCKETS` crops, and P-Net gets every pyramid level of a photo at once,
side by side on one canvas whose sides are taken from :data:`SIDE_BUCKETS` (:func:`atlas`). Padding
must not change any output cell a level has alone: convolutions only look right and down, so cells
inside a level are untouched, except that a level's last pooled row/column (ceil mode, a window half
past the edge) would see its neighbour or the padding; an additive mask of ``-1e4`` outside each
level's first-convolution output keeps that window's maximum to the level's half, exactly as ceil
mode does. Each level's outputs are cut back out of the canvas's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.labs.face.graph_batches import bucket, compile_graph, max_pool2d_by_3d, run_padded, warn_if_op_by_op

NETS = ("pnet", "rnet", "onet")
BATCH_BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64)
SIDE_BUCKETS = (16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512)
MASKED = -1e4  # far below any first-layer activation here (inputs are in [-1, 1])


def load_weights(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The three networks' tensors as float32 arrays, from the shipped ``<net>.pt`` files."""
    import torch

    return {net: {k: v.numpy().astype(np.float32) for k, v in
                  torch.load(Path(folder) / f"{net}.pt", weights_only=True).items()} for net in NETS}


def pnet(ops: Any, x: Any, mask: Any = None) -> tuple[Any, Any]:
    """Face probability map and box offsets (stride 2, 12 x 12 windows); ``mask`` is added after layer 1."""
    x = ops.prelu(ops.conv("pnet", x, "conv1"), "pnet", "prelu1")
    if mask is not None:
        x = x + mask
    x = ops.max_pool(x, 2, 2)
    x = ops.prelu(ops.conv("pnet", x, "conv2"), "pnet", "prelu2")
    x = ops.prelu(ops.conv("pnet", x, "conv3"), "pnet", "prelu3")
    return ops.face_prob(ops.conv("pnet", x, "conv4_1")), ops.conv("pnet", x, "conv4_2")


def rnet(ops: Any, x: Any) -> tuple[Any, Any]:
    """Face probability and box offsets of 24 x 24 crops."""
    x = ops.max_pool(ops.prelu(ops.conv("rnet", x, "conv1"), "rnet", "prelu1"), 3, 2)
    x = ops.max_pool(ops.prelu(ops.conv("rnet", x, "conv2"), "rnet", "prelu2"), 3, 2)
    x = ops.flatten(ops.prelu(ops.conv("rnet", x, "conv3"), "rnet", "prelu3"))
    x = ops.prelu(ops.dense("rnet", x, "dense4"), "rnet", "prelu4")
    return ops.face_prob(ops.dense("rnet", x, "dense5_1")), ops.dense("rnet", x, "dense5_2")


def onet(ops: Any, x: Any) -> tuple[Any, Any, Any]:
    """Face probability, box offsets and five landmarks (fractions of the box) of 48 x 48 crops."""
    x = ops.max_pool(ops.prelu(ops.conv("onet", x, "conv1"), "onet", "prelu1"), 3, 2)
    x = ops.max_pool(ops.prelu(ops.conv("onet", x, "conv2"), "onet", "prelu2"), 3, 2)
    x = ops.max_pool(ops.prelu(ops.conv("onet", x, "conv3"), "onet", "prelu3"), 2, 2)
    x = ops.flatten(ops.prelu(ops.conv("onet", x, "conv4"), "onet", "prelu4"))
    x = ops.prelu(ops.dense("onet", x, "dense5"), "onet", "prelu5")
    return (ops.face_prob(ops.dense("onet", x, "dense6_1")), ops.dense("onet", x, "dense6_2"),
            ops.dense("onet", x, "dense6_3"))


class TorchNets:
    """The op table on torch, and the three networks on NCHW float32 arrays (any shape, no compilation)."""

    def __init__(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        import torch
        import torch.nn.functional as fn

        self.torch, self.fn = torch, fn
        self.w = {net: {k: torch.from_numpy(v) for k, v in w.items()} for net, w in weights.items()}

    def conv(self, net: str, x: Any, name: str) -> Any:
        return self.fn.conv2d(x, self.w[net][f"{name}.weight"], self.w[net][f"{name}.bias"])

    def prelu(self, x: Any, net: str, name: str) -> Any:
        return self.fn.prelu(x, self.w[net][f"{name}.weight"])

    def max_pool(self, x: Any, size: int, stride: int) -> Any:
        return self.fn.max_pool2d(x, size, stride, ceil_mode=True)

    def dense(self, net: str, x: Any, name: str) -> Any:
        return self.fn.linear(x, self.w[net][f"{name}.weight"], self.w[net][f"{name}.bias"])

    def flatten(self, x: Any) -> Any:
        return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # Caffe's flatten order

    def face_prob(self, x: Any) -> Any:
        return self.fn.softmax(x, 1)[:, 1]

    def pnet(self, levels: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """P-Net on each (3, h, w) pyramid level: probability (h', w') and offsets (4, h', w'), one call each."""
        out = []
        with self.torch.no_grad():
            for level in levels:
                prob, reg = pnet(self, self.torch.from_numpy(np.ascontiguousarray(level[None])))
                out.append((prob[0].numpy(), reg[0].numpy()))
        return out

    def crops(self, net: str, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        """R-Net or O-Net on an (n, 3, s, s) batch of crops."""
        x = self.torch.from_numpy(batch).contiguous(memory_format=self.torch.channels_last)  # 10x faster ceil-mode pool
        with self.torch.no_grad():
            return tuple(t.numpy() for t in (rnet if net == "rnet" else onet)(self, x))


class MindSporeNets:
    """The op table on MindSpore, and the three networks as compiled graphs on padded, fixed-shape inputs."""

    def __init__(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        import mindspore
        from mindspore import ops

        self.ms, self.ops = mindspore, ops
        self.w = {net: {k: mindspore.Tensor(v) for k, v in w.items()} for net, w in weights.items()}
        self.slopes_at_most_one = {net: {k: bool(v.max() <= 1) for k, v in w.items() if k.startswith("prelu")}
                                   for net, w in weights.items()}
        warn_if_op_by_op("MTCNN", "several times slower than the compiled graphs")
        me = self

        def pnet_graph(x: Any, mask: Any) -> Any:
            return pnet(me, x, mask)

        def rnet_graph(x: Any) -> Any:
            return rnet(me, x)

        def onet_graph(x: Any) -> Any:
            return onet(me, x)

        self._pnet = compile_graph(pnet_graph)
        self._rnet = compile_graph(rnet_graph)
        self._onet = compile_graph(onet_graph)

    def conv(self, net: str, x: Any, name: str) -> Any:
        return self.ops.conv2d(x, self.w[net][f"{name}.weight"], self.w[net][f"{name}.bias"])

    def prelu(self, x: Any, net: str, name: str) -> Any:
        """PReLU in elementwise ops, the same numbers, 2-4x faster here than MindSpore's PReLU kernel.

        Where every slope ``a`` of the layer is at most 1 (all but P-Net's and R-Net's first), ``max(x, a * x)``:
        ``a * x`` is at most ``x`` for positive ``x`` and at least ``x`` for negative ``x``, in floats too, since
        rounding is monotonic; two ops instead of ``relu(x) + a * (x - relu(x))``'s four (O-Net 4.9 -> 4.75 ms
        per face of CPU, 2026-12-03).
        """
        slope = self.w[net][f"{name}.weight"]
        slope = slope.reshape(1, -1, 1, 1) if x.ndim == 4 else slope
        if self.slopes_at_most_one[net][f"{name}.weight"]:
            return self.ops.maximum(x, slope * x)
        positive = self.ops.relu(x)
        return positive + slope * (x - positive)

    def max_pool(self, x: Any, size: int, stride: int) -> Any:
        return max_pool2d_by_3d(self.ops, x, size, stride, True)

    def dense(self, net: str, x: Any, name: str) -> Any:
        return self.ops.dense(x, self.w[net][f"{name}.weight"], self.w[net][f"{name}.bias"])

    def flatten(self, x: Any) -> Any:
        return x.transpose(0, 3, 2, 1).reshape(x.shape[0], -1)

    def face_prob(self, x: Any) -> Any:
        return self.ops.softmax(x, 1)[:, 1]

    def pnet(self, levels: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """P-Net on every pyramid level in one call: the levels side by side on one canvas (:func:`atlas`)."""
        canvas, mask, offsets = atlas(levels)
        prob, reg = (t.asnumpy()[0] for t in self._pnet(self.ms.Tensor(canvas), self.ms.Tensor(mask)))
        out = []
        for level, x in zip(levels, offsets, strict=True):
            rows, cols, left = pnet_side(level.shape[1]), pnet_side(level.shape[2]), x // 2
            out.append((prob[:rows, left:left + cols], reg[:, :rows, left:left + cols]))
        return out

    def crops(self, net: str, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        """R-Net or O-Net on an (n, 3, s, s) batch, in chunks padded to :data:`BATCH_BUCKETS` crops."""
        graph = self._rnet if net == "rnet" else self._onet
        return run_padded(lambda padded: [t.asnumpy() for t in graph(self.ms.Tensor(padded))], batch, BATCH_BUCKETS)


def atlas(levels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The (3, h, w) levels side by side at even offsets on a zero canvas of :data:`SIDE_BUCKETS` sides.

    Returns the (1, 3, H, W) canvas, the (1, 1, H - 2, W - 2) mask added after P-Net's first layer
    (0 where that layer's 3 x 3 window lies inside one level, :data:`MASKED` elsewhere) and each level's
    left offset. Why one canvas: MindSpore's per-call cost (hand-offs between its frontend, actor and kernel
    threads) exceeded P-Net's arithmetic at these sizes, so one call per photo beats one per level, and one
    canvas shape per photo size means one compiled graph for it. Why even offsets: P-Net's stride is 2, so
    each level's cells then fall on the canvas's cells.
    """
    offsets, x = [], 0
    for level in levels:
        offsets.append(x)
        x += level.shape[2] + level.shape[2] % 2
    rows, cols = bucket(max(level.shape[1] for level in levels), SIDE_BUCKETS), bucket(x, SIDE_BUCKETS)
    canvas = np.zeros((1, 3, rows, cols), np.float32)
    mask = np.full((1, 1, rows - 2, cols - 2), MASKED, np.float32)
    for level, left in zip(levels, offsets, strict=True):
        _, h, w = level.shape
        canvas[0, :, :h, left:left + w] = level
        mask[0, 0, :h - 2, left:left + w - 2] = 0.0
    return canvas, mask, offsets


def pnet_side(n: int) -> int:
    """P-Net's output cells along an input side of ``n`` pixels (3x3 conv, ceil-mode 2x2 pool, two 3x3 convs)."""
    return -(-(n - 2) // 2) - 4


def load(folder: str | Path, framework: str = "torch") -> TorchNets | MindSporeNets:
    """The three networks on ``framework`` ("torch" or "mindspore"), weights from ``folder``."""
    if framework == "torch":
        return TorchNets(load_weights(folder))
    if framework == "mindspore":
        return MindSporeNets(load_weights(folder))
    raise ValueError(f"unknown framework {framework!r}; use 'torch' or 'mindspore'")
