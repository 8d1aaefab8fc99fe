"""frameworks.py: one spec, same initial weights on both frameworks, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.labs import frameworks as F


def test_specs_and_initial_weights_are_deterministic() -> None:
    spec = F.cnn(1, 25, [8, 16], 2)
    assert spec[-1] == ("linear", 16 * 6 * 6, 2)
    a, b = F.init_weights(spec, 3), F.init_weights(spec, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_batches_drop_the_ragged_tail_consistently() -> None:
    parts = F.batches(10, 4, epoch=0, seed=0)
    assert [len(p) for p in parts] == [4, 4]
    assert F.batches(3, 4, 0, 0)[0].size == 3


def test_unknown_framework_names_say_what_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEWORK", "jax")
    with pytest.raises(F.FrameworkError, match="'torch' or 'mindspore'"):
        F.name_from_env()


@pytest.mark.parametrize("name", F.NAMES)
def test_both_frameworks_start_identical_and_learn(name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    spec = F.mlp(3, [8], 2)
    reference = x @ F.init_weights(spec, 0)[0].T  # first layer pre-activation, framework-free
    fw = F.get(name)
    fw.bind()
    model = fw.build(spec, seed=0)
    assert np.allclose(fw.weights(model)[0] @ x.T, reference.T, atol=1e-5)
    log = fw.train(model, x, y, epochs=30, lr=0.05, batch_size=16)
    assert log.losses[-1] < log.losses[0]
    assert F.accuracy(fw.predict(model, x), y) > 0.9
