"""The MindSpore face descriptor runs as compiled graphs, compiled a bounded number of times.

Why count compilations instead of timing: a PyNative fallback or a recompile per call shows up as a
wrong count on any machine, loaded or idle. The counter is MindSpore's own graph cache
(``mindspore.graph.api.ms_compile_cache``, the set of compiled phases ``ms.jit`` consults before
compiling): a compiled call adds a phase on its first shape and none after; op-by-op execution adds none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.labs.face import descriptor

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"
ms_api = pytest.importorskip("mindspore.graph.api")


def crops(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 150, 150, 3)).astype(np.float32)


def compiled_graphs() -> int:
    return len(ms_api.ms_compile_cache)


@pytest.fixture(scope="module")
def nets() -> dict[str, descriptor.Descriptor]:
    return {name: descriptor.load(DATA / "face_api", name) for name in ("torch", "mindspore")}


def test_one_graph_per_batch_bucket_and_none_per_call(nets: dict[str, descriptor.Descriptor]) -> None:
    net = nets["mindspore"]
    before = compiled_graphs()
    net.embed(crops(1))
    assert compiled_graphs() == before + 1, "the first call compiles one graph"
    for _ in range(3):
        net.embed(crops(1, seed=1))
    assert compiled_graphs() == before + 1, "repeated calls of one shape must reuse the compiled graph"
    for n in (2, 3, 4, 5, 7, 8, 11):  # buckets 2, 4, 4, 8, 8, 8, 8 + 4
        net.embed(crops(n))
    assert compiled_graphs() == before + len(descriptor.BATCH_BUCKETS), \
        "batches are padded to BATCH_BUCKETS, so any batch size reuses one of four graphs"


def test_padding_and_chunking_leave_each_face_unchanged(nets: dict[str, descriptor.Descriptor]) -> None:
    batch = crops(11, seed=2)
    together = nets["mindspore"].embed(batch)
    alone = np.concatenate([nets["mindspore"].embed(c) for c in batch[[0, 5, 10]]])
    np.testing.assert_allclose(together[[0, 5, 10]], alone, rtol=1e-4, atol=1e-5)
    reference = nets["torch"].embed(batch)
    cos = (together * reference).sum(1) / np.linalg.norm(together, axis=1) / np.linalg.norm(reference, axis=1)
    assert together.shape == (11, 128) and cos.min() > 0.9999


def test_the_counter_catches_op_by_op_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MS_JIT=0`` turns every ``ms.jit`` into plain Python: the count stays put, and we say so."""
    monkeypatch.setenv("MS_JIT", "0")
    net = descriptor.load(DATA / "face_api", "mindspore")
    before = compiled_graphs()
    with pytest.warns(UserWarning, match="MS_JIT=0"):
        out = net.embed(crops(3, seed=3))
    assert out.shape == (3, 128)
    assert compiled_graphs() == before, "op-by-op execution compiles nothing"
