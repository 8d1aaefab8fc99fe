"""dlib's ResNet face descriptor (128-d), ported to torch and MindSpore from face-api's weights.

Why one network function over two small op tables: the network is written once (as face-api.js
writes it: conv + bias, per-channel scale, ReLU, residual blocks whose shortcut is a 2x2
average pool zero-padded in channels and space), and each framework supplies six primitive ops.
The per-channel scale after each convolution is folded into its filters and bias at load time
(``w * s``, ``b * s + t``): one op per layer instead of three, the same numbers.
Parity between torch and MindSpore then tests the ops, not two hand copies of the architecture.
MindSpore compiles the network function with ``ms.jit(fullgraph=True)``: op-by-op PyNative was 23x
slower than torch, and ``ms.jit``'s default (``fullgraph=False``, syntax level LAX) runs any construct it
cannot compile as interpreted Python inside the graph without a word, so STRICT makes that an error.
A graph is compiled once per input shape (about 1.3 s on 2 cores), so batches are zero-padded to a few
fixed sizes (:data:`BATCH_BUCKETS`): any number of faces costs at most four compilations.

Weights: ``face_recognition_model.bin`` holds the tensors in manifest order; most are uint8,
dequantised as ``q * scale + min``; a few are plain float32. Filters are TensorFlow HWIO and are
transposed to OIHW. Input: an aligned 150 x 150 RGB crop, 0-255.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.labs.face.graph_batches import compile_graph, max_pool2d_by_3d, run_padded, warn_if_op_by_op

BATCH_BUCKETS = (1, 2, 4, 8)
MEAN_RGB = np.array([122.782, 117.001, 104.298], np.float32)
INPUT_SIZE = 150
BLOCKS = (("conv32_down", "first"), ("conv32_1", "res"), ("conv32_2", "res"), ("conv32_3", "res"),
          ("conv64_down", "down"), ("conv64_1", "res"), ("conv64_2", "res"), ("conv64_3", "res"),
          ("conv128_down", "down"), ("conv128_1", "res"), ("conv128_2", "res"),
          ("conv256_down", "down"), ("conv256_1", "res"), ("conv256_2", "res"), ("conv256_down_out", "down"))


def load_weights(folder: str | Path) -> dict[str, np.ndarray]:
    """Dequantise face-api's ``face_recognition_model`` into float32 arrays (filters as OIHW)."""
    folder = Path(folder)
    manifest = json.loads((folder / "face_recognition_model-weights_manifest.json").read_text())[0]
    raw = b"".join((folder / p).read_bytes() for p in manifest["paths"])
    out, offset = {}, 0
    for spec in manifest["weights"]:
        count = math.prod(spec["shape"])
        q = spec.get("quantization")
        if q:
            values = np.frombuffer(raw, np.uint8, count, offset).astype(np.float32) * q["scale"] + q["min"]
            offset += count
        else:
            values = np.frombuffer(raw, np.float32, count, offset).copy()
            offset += 4 * count
        array = values.reshape(spec["shape"]).astype(np.float32)
        out[spec["name"]] = array.transpose(3, 2, 0, 1).copy() if array.ndim == 4 else array
    if offset != len(raw):
        raise ValueError(f"weights file has {len(raw)} bytes but the manifest describes {offset}")
    return out


class TorchOps:
    """The primitives :func:`forward` needs, on torch (NCHW)."""

    def __init__(self, weights: dict[str, np.ndarray], device: Any = "cpu") -> None:
        import torch
        import torch.nn.functional as fn

        self.torch, self.fn, self.device = torch, fn, device
        self.w = {k: torch.as_tensor(v, device=device) for k, v in weights.items()}

    def conv(self, x: Any, name: str, stride: int, pad: int) -> Any:
        return self.fn.conv2d(x, self.w[f"{name}/conv/filters"], self.w[f"{name}/conv/bias"], stride, pad)

    def relu(self, x: Any) -> Any:
        return self.fn.relu(x)

    def max_pool(self, x: Any) -> Any:
        return self.fn.max_pool2d(x, 3, 2)

    def avg_pool(self, x: Any) -> Any:
        return self.fn.avg_pool2d(x, 2, 2)

    def pad(self, x: Any, channels: int, rows: int, cols: int) -> Any:
        """Zeros appended: ``channels`` more channels, ``rows``/``cols`` more at the bottom/right."""
        return self.fn.pad(x, (0, cols, 0, rows, 0, channels))

    def head(self, x: Any) -> Any:
        return x.mean(dim=(2, 3)) @ self.w["fc"]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network on a normalised NCHW batch; any batch size, no compilation."""
        with self.torch.no_grad():
            x = self.torch.as_tensor(np.ascontiguousarray(batch), device=self.device)
            return network(self, x).detach().cpu().numpy()


class MindSporeOps:
    """The same primitives on MindSpore (NCHW), so torch and MindSpore run one forward function."""

    def __init__(self, weights: dict[str, np.ndarray], device: Any = None) -> None:
        import mindspore
        from mindspore import ops

        self.ms, self.ops = mindspore, ops
        self.w = {k: mindspore.Tensor(v) for k, v in weights.items()}
        self._compiled: Any = None

    def conv(self, x: Any, name: str, stride: int, pad: int) -> Any:
        return self.ops.conv2d(x, self.w[f"{name}/conv/filters"], self.w[f"{name}/conv/bias"], stride,
                               "pad" if pad else "valid", pad)

    def relu(self, x: Any) -> Any:
        return self.ops.relu(x)

    def max_pool(self, x: Any) -> Any:
        return max_pool2d_by_3d(self.ops, x, 3, 2, False)

    def avg_pool(self, x: Any) -> Any:
        return self.ops.avg_pool2d(x, 2, 2)

    def pad(self, x: Any, channels: int, rows: int, cols: int) -> Any:
        return self.ops.pad(x, (0, cols, 0, rows, 0, channels))

    def head(self, x: Any) -> Any:
        return self.ops.matmul(x.mean(axis=(2, 3)), self.w["fc"])

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network as one compiled graph, batches padded to :data:`BATCH_BUCKETS` (chunks of the largest).

        ``MS_JIT=0`` makes every ``ms.jit`` function run op by op; that is MindSpore's debugging switch,
        so it is honoured, but said out loud, since it costs 20-40x here.
        """
        if self._compiled is None:
            warn_if_op_by_op("the face descriptor", "20-40x slower than the compiled graph")
            ops = self

            def compiled(t: Any) -> Any:
                return network(ops, t)

            self._compiled = compile_graph(compiled)
        [out] = run_padded(lambda padded: [self._compiled(self.ms.Tensor(padded)).asnumpy()], batch, BATCH_BUCKETS)
        return out


def forward(ops: Any, crops: np.ndarray) -> np.ndarray:
    """128-d descriptors for (n, 150, 150, 3) RGB crops (0-255), written once for every ``ops`` table."""
    return ops.run(((np.asarray(crops, np.float32) - MEAN_RGB) / 256.0).transpose(0, 3, 1, 2))


def network(ops: Any, x: Any) -> Any:
    """The descriptor network on a normalised NCHW tensor; returns the (n, 128) tensor."""

    def layer(x: Any, name: str, stride: int, pad: int, relu: bool) -> Any:
        out = ops.conv(x, name, stride, pad)
        return ops.relu(out) if relu else out

    for name, kind in BLOCKS:
        if kind == "first":
            x = ops.max_pool(layer(x, name, 2, 0, True))
        elif kind == "res":
            out = layer(layer(x, f"{name}/conv1", 1, 1, True), f"{name}/conv2", 1, 1, False)
            x = ops.relu(out + x)
        else:  # down: stride-2 valid conv; shortcut = 2x2 average pool, zero-padded to the same shape
            out = layer(layer(x, f"{name}/conv1", 2, 0, True), f"{name}/conv2", 1, 1, False)
            pooled = ops.avg_pool(x)
            grow = pooled.shape[2] - out.shape[2]
            if grow:
                out = ops.pad(out, 0, grow, grow)
            pooled = ops.pad(pooled, out.shape[1] - pooled.shape[1], 0, 0)
            x = ops.relu(out + pooled)
    return ops.head(x)


@dataclass
class Descriptor:
    """A loaded descriptor network on one framework: ``embed(crops)`` -> (n, 128) float32.

    ``folder`` is where its weights came from, so another process can load the same network.
    """

    framework: str
    ops: Any
    folder: Path | None = None

    def embed(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        if crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"descriptor input must be (n, {INPUT_SIZE}, {INPUT_SIZE}, 3) RGB crops, "
                             f"got {crops.shape}")
        return forward(self.ops, crops).astype(np.float32)


def fold_scales(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each layer's ``conv`` then per-channel ``scale`` as one convolution: filters ``w * s``, bias ``b * s + t``."""
    out = {k: v for k, v in weights.items() if "/scale/" not in k}
    for key in [k for k in weights if k.endswith("/conv/filters")]:
        layer = key.removesuffix("/conv/filters")
        s, t = weights[f"{layer}/scale/weights"], weights[f"{layer}/scale/biases"]
        out[key] = (weights[key] * s[:, None, None, None]).astype(np.float32)
        out[f"{layer}/conv/bias"] = (weights[f"{layer}/conv/bias"] * s + t).astype(np.float32)
    return out


def load(folder: str | Path, framework: str = "torch", device: Any = None) -> Descriptor:
    """The descriptor on ``framework`` ("torch" or "mindspore"), weights from face-api's ``folder``."""
    weights = fold_scales(load_weights(folder))
    if framework == "torch":
        return Descriptor(framework, TorchOps(weights, device or "cpu"), Path(folder))
    if framework == "mindspore":
        return Descriptor(framework, MindSporeOps(weights, device), Path(folder))
    raise ValueError(f"unknown framework {framework!r}; use 'torch' or 'mindspore'")
