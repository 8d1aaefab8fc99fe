"""One small API over torch and MindSpore, so every lab is written once and runs on both.

Why a layer *spec* instead of two model classes: the architecture is declared once as plain
tuples (``("linear", 4, 32)``, ``("relu",)``, ...), initial weights are drawn once with NumPy
from a seed and loaded into either framework, and mini-batches are drawn in the same order, so
the two frameworks start from the same point and results can be compared number for number.

Pick the framework with the ``FRAMEWORK`` environment variable (``torch`` or ``mindspore``;
default ``torch``) or pass a name to :func:`get`. ``bind(session)`` binds to the device the
workbench leased (``workbench.session()``); labs never import other workbench modules.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAMES = ("torch", "mindspore")
Layer = tuple[Any, ...]


class FrameworkError(RuntimeError):
    """A framework name or a layer spec this module does not know; the message says what to use."""


def mlp(n_in: int, hidden: Sequence[int], n_out: int) -> list[Layer]:
    """A multilayer perceptron spec: linear + ReLU per hidden width, then a linear head."""
    layers: list[Layer] = []
    width = n_in
    for h in hidden:
        layers += [("linear", width, h), ("relu",)]
        width = h
    return [*layers, ("linear", width, n_out)]


def cnn(in_channels: int, size: int, channels: Sequence[int], n_out: int) -> list[Layer]:
    """A small CNN spec for ``size`` x ``size`` inputs: (3x3 conv, ReLU, 2x2 max-pool) per width."""
    layers: list[Layer] = []
    c = in_channels
    for width in channels:
        layers += [("conv", c, width, 3), ("relu",), ("maxpool",)]
        c, size = width, size // 2
    return [*layers, ("flatten",), ("linear", c * size * size, n_out)]


def init_weights(spec: Sequence[Layer], seed: int = 0) -> list[np.ndarray]:
    """He-uniform weights and zero biases in (weight, bias) order per layer, identical for both frameworks."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    shape: tuple[int, ...]
    for layer in spec:
        if layer[0] == "linear":
            _, n_in, n_out = layer
            shape, fan_in = (n_out, n_in), n_in
        elif layer[0] == "conv":
            _, c_in, c_out, k = layer
            shape, fan_in = (c_out, c_in, k, k), c_in * k * k
        else:
            continue
        bound = np.sqrt(6.0 / fan_in)
        out += [rng.uniform(-bound, bound, shape).astype(np.float32), np.zeros(shape[0], np.float32)]
    return out


def batches(n: int, batch_size: int, epoch: int, seed: int) -> list[np.ndarray]:
    """Shuffled mini-batch indices for one epoch, the same for both frameworks given the seed.

    The ragged last batch is dropped (a fresh shuffle each epoch still visits every sample):
    one batch shape means MindSpore's compiled train step is built once, not twice per run.
    """
    order = np.random.default_rng(seed * 100_003 + epoch).permutation(n)
    size = min(batch_size, n)
    return [order[i:i + size] for i in range(0, n - size + 1, size)]


@dataclass
class TrainLog:
    """What a training run reports: loss per epoch and the wall time it took."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


class Framework:
    """The shared interface; :class:`TorchFramework` and :class:`MindSporeFramework` implement it."""

    name = ""

    def bind(self, session: Any = None) -> str:
        """Bind to the leased device (``session.use(name)``) or the best local one; return its name."""
        raise NotImplementedError

    def tensor(self, array: Any, dtype: str = "float32") -> Any:
        raise NotImplementedError

    def to_numpy(self, tensor: Any) -> np.ndarray:
        raise NotImplementedError

    def build(self, spec: Sequence[Layer], seed: int = 0) -> Any:
        """The model for ``spec`` with the seeded NumPy initial weights."""
        raise NotImplementedError

    def set_weights(self, model: Any, weights: Sequence[np.ndarray]) -> None:
        raise NotImplementedError

    def weights(self, model: Any) -> list[np.ndarray]:
        raise NotImplementedError

    def train(self, model: Any, x: np.ndarray, y: np.ndarray, epochs: int = 50, lr: float = 1e-2,
              batch_size: int = 32, seed: int = 0) -> TrainLog:
        """Adam on cross-entropy; ``x`` float32 features, ``y`` integer class ids."""
        raise NotImplementedError

    def predict(self, model: Any, x: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
        """Logits as a NumPy array, in batches so a whole scene never sits in one tensor."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work, so timings measure the work and not the queueing."""


class TorchFramework(Framework):
    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cpu")
        # Lab models are tiny: on a shared 2-core host, 2 intra-op threads made training 6x slower
        # than 1 (threads spin waiting for each other). FRAMEWORK_THREADS overrides.
        torch.set_num_threads(int(os.environ.get("FRAMEWORK_THREADS", "1")))

    def bind(self, session: Any = None) -> str:
        torch = self.torch
        if session is not None:
            self.device = session.use("torch")
        else:
            self.device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
        return str(self.device)

    def tensor(self, array: Any, dtype: str = "float32") -> Any:
        return self.torch.as_tensor(np.asarray(array, dtype=dtype), device=self.device)

    def to_numpy(self, tensor: Any) -> np.ndarray:
        return tensor.detach().cpu().numpy()

    def build(self, spec: Sequence[Layer], seed: int = 0) -> Any:
        nn = self.torch.nn
        modules: list[Any] = []
        for layer in spec:
            kind = layer[0]
            if kind == "linear":
                modules.append(nn.Linear(layer[1], layer[2]))
            elif kind == "conv":
                modules.append(nn.Conv2d(layer[1], layer[2], layer[3], padding=layer[3] // 2))
            elif kind == "relu":
                modules.append(nn.ReLU())
            elif kind == "maxpool":
                modules.append(nn.MaxPool2d(2))
            elif kind == "flatten":
                modules.append(nn.Flatten())
            else:
                raise FrameworkError(f"unknown layer {kind!r}; use linear, conv, relu, maxpool or flatten")
        model = nn.Sequential(*modules).to(self.device)
        self.set_weights(model, init_weights(spec, seed))
        return model

    def set_weights(self, model: Any, weights: Sequence[np.ndarray]) -> None:
        params = list(model.parameters())
        if len(params) != len(weights):
            raise FrameworkError(f"model has {len(params)} parameter tensors, got {len(weights)} arrays")
        with self.torch.no_grad():
            for p, w in zip(params, weights, strict=True):
                p.copy_(self.torch.as_tensor(np.asarray(w, dtype=np.float32)).reshape(p.shape))

    def weights(self, model: Any) -> list[np.ndarray]:
        return [self.to_numpy(p) for p in model.parameters()]

    def train(self, model: Any, x: np.ndarray, y: np.ndarray, epochs: int = 50, lr: float = 1e-2,
              batch_size: int = 32, seed: int = 0) -> TrainLog:
        torch = self.torch
        xt, yt = self.tensor(x), torch.as_tensor(np.asarray(y, dtype=np.int64), device=self.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        log = TrainLog()
        start = time.perf_counter()
        model.train()
        for epoch in range(epochs):
            total = 0.0
            for idx in batches(len(x), batch_size, epoch, seed):
                ix = torch.as_tensor(idx, device=self.device)
                opt.zero_grad()
                loss = loss_fn(model(xt[ix]), yt[ix])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            log.losses.append(total / (len(x) // min(batch_size, len(x)) * min(batch_size, len(x))))
        self.synchronize()
        log.seconds = time.perf_counter() - start
        return log

    def predict(self, model: Any, x: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
        model.eval()
        out = []
        with self.torch.no_grad():
            for i in range(0, len(x), batch_size):
                out.append(self.to_numpy(model(self.tensor(x[i:i + batch_size]))))
        return np.concatenate(out) if out else np.zeros((0,), np.float32)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


class MindSporeFramework(Framework):
    name = "mindspore"

    def __init__(self) -> None:
        # MindSpore logs deprecation warnings of its own optimisers (FusedSparseAdam) at WARNING on
        # every run; students would read them as their mistake. Errors still show.
        os.environ.setdefault("GLOG_v", "3")
        import mindspore

        self.ms = mindspore
        self.target = "CPU"

    def bind(self, session: Any = None) -> str:
        if session is not None:
            self.target = str(session.use("mindspore"))
        else:
            try:
                self.ms.set_device("CPU", 0)  # the MindSpore 2.5+ API; Ascend/GPU come from the lease
            except RuntimeError:  # the runtime already started in this process (a model ran): keep it on the CPU
                if self.ms.get_context("device_target") != "CPU":
                    raise
            self.target = "CPU"
        return self.target

    def tensor(self, array: Any, dtype: str = "float32") -> Any:
        return self.ms.Tensor(np.ascontiguousarray(np.asarray(array, dtype=dtype)))

    def to_numpy(self, tensor: Any) -> np.ndarray:
        return tensor.asnumpy()

    def build(self, spec: Sequence[Layer], seed: int = 0) -> Any:
        nn = self.ms.nn
        cells: list[Any] = []
        for layer in spec:
            kind = layer[0]
            if kind == "linear":
                cells.append(nn.Dense(layer[1], layer[2]))
            elif kind == "conv":
                cells.append(nn.Conv2d(layer[1], layer[2], layer[3], pad_mode="pad", padding=layer[3] // 2,
                                       has_bias=True))
            elif kind == "relu":
                cells.append(nn.ReLU())
            elif kind == "maxpool":
                cells.append(nn.MaxPool2d(kernel_size=2, stride=2))
            elif kind == "flatten":
                cells.append(nn.Flatten())
            else:
                raise FrameworkError(f"unknown layer {kind!r}; use linear, conv, relu, maxpool or flatten")
        model = nn.SequentialCell(cells)
        self.set_weights(model, init_weights(spec, seed))
        return model

    def set_weights(self, model: Any, weights: Sequence[np.ndarray]) -> None:
        params = list(model.trainable_params())
        if len(params) != len(weights):
            raise FrameworkError(f"model has {len(params)} parameter tensors, got {len(weights)} arrays")
        for p, w in zip(params, weights, strict=True):
            p.set_data(self.tensor(np.asarray(w, dtype=np.float32).reshape(p.shape)))

    def weights(self, model: Any) -> list[np.ndarray]:
        return [p.asnumpy() for p in model.trainable_params()]

    def train(self, model: Any, x: np.ndarray, y: np.ndarray, epochs: int = 50, lr: float = 1e-2,
              batch_size: int = 32, seed: int = 0) -> TrainLog:
        ms = self.ms
        loss_fn = ms.nn.CrossEntropyLoss()
        opt = ms.nn.Adam(model.trainable_params(), learning_rate=lr)

        def forward(xb: Any, yb: Any) -> Any:
            return loss_fn(model(xb), yb)

        grad_fn = ms.value_and_grad(forward, None, opt.parameters)

        @ms.jit  # graph-compiled step: ~10x faster than PyNative on CPU for small models
        def step(xb: Any, yb: Any) -> Any:
            loss, grads = grad_fn(xb, yb)
            opt(grads)
            return loss

        x, y = np.asarray(x, np.float32), np.asarray(y, np.int32)
        log = TrainLog()
        start = time.perf_counter()
        model.set_train(True)
        for epoch in range(epochs):
            total = 0.0
            for idx in batches(len(x), batch_size, epoch, seed):
                loss = step(self.tensor(x[idx]), self.tensor(y[idx], "int32"))
                total += float(loss.asnumpy()) * len(idx)
            log.losses.append(total / (len(x) // min(batch_size, len(x)) * min(batch_size, len(x))))
        log.seconds = time.perf_counter() - start
        return log

    def predict(self, model: Any, x: np.ndarray, batch_size: int = 65_536) -> np.ndarray:
        model.set_train(False)
        out = [model(self.tensor(x[i:i + batch_size])).asnumpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0,), np.float32)


_CACHE: dict[str, Framework] = {}


def name_from_env(default: str = "torch") -> str:
    """The framework the ``FRAMEWORK`` environment variable asks for, checked."""
    name = os.environ.get("FRAMEWORK", default).strip().lower() or default
    if name not in NAMES:
        raise FrameworkError(f"FRAMEWORK={name!r} is not supported; set it to 'torch' or 'mindspore'")
    return name


def get(name: str | None = None) -> Framework:
    """The framework ``name`` (or ``$FRAMEWORK``), imported on first use and then reused."""
    name = name_from_env() if name is None else name.strip().lower()
    if name not in NAMES:
        raise FrameworkError(f"unknown framework {name!r}; use 'torch' or 'mindspore'")
    if name not in _CACHE:
        _CACHE[name] = TorchFramework() if name == "torch" else MindSporeFramework()
    return _CACHE[name]


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose arg-max class equals the label."""
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))
