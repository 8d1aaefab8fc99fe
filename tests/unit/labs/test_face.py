"""Face lab building blocks: verification metrics, the LFW pairs reader, and the descriptor's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.labs.face import descriptor, verify

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"


def test_roc_eer_and_tar_at_far_on_a_known_case() -> None:
    d = np.array([0.1, 0.2, 0.3, 0.25, 0.5, 0.6])
    same = np.array([True, True, True, False, False, False])
    curve = verify.roc(d, same)
    rate, _ = verify.eer(curve)
    assert rate == pytest.approx(1 / 3)
    assert verify.tar_at_far(curve, 0.0) == pytest.approx(2 / 3)
    assert verify.tar_at_far(curve, 0.34) == 1.0
    t = verify.choose_threshold(d, same)
    assert verify.accuracy_at(d, same, t) == pytest.approx(5 / 6)


def test_roc_needs_both_kinds_of_pairs() -> None:
    with pytest.raises(ValueError, match="both same-person and different-person"):
        verify.roc(np.array([0.1, 0.2]), np.array([True, True]))


def test_lfw_layout_round_trips_with_folds(tmp_path: Path) -> None:
    images = sorted((DATA / "faces" / "test_images").glob("*.jpg"))
    people = {"Joe_Biden": [p for p in images if p.stem == "biden"],
              "Barack_Obama": [p for p in images if p.stem.startswith("obama")]}
    pairs = verify.read_pairs(tmp_path, verify.write_lfw_layout(people, tmp_path))
    assert len(pairs) == 15 and sum(p.same for p in pairs) == 10
    for fold in (0, 1):
        kinds = {p.same for p in pairs if p.fold == fold}
        assert kinds == {True, False}, "each fold needs both kinds of pair"


def test_lfw_header_assigns_folds_by_block(tmp_path: Path) -> None:
    for name in ("A", "B"):
        (tmp_path / name).mkdir()
        for i in (1, 2):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"")
    (tmp_path / "pairs.txt").write_text("2 1\nA 1 2\nA 1 B 1\nB 1 2\nA 2 B 2\n")
    pairs = verify.read_pairs(tmp_path, tmp_path / "pairs.txt")
    assert [(p.same, p.fold) for p in pairs] == [(True, 0), (False, 0), (True, 1), (False, 1)]
    (tmp_path / "bad.txt").write_text("A 1\n")
    with pytest.raises(ValueError, match="line 2"):
        verify.read_pairs(tmp_path, tmp_path / "bad.txt")


def test_descriptor_weights_dequantise_to_the_manifest() -> None:
    w = descriptor.load_weights(DATA / "face_api")
    assert w["conv32_down/conv/filters"].shape == (32, 3, 7, 7)
    assert w["fc"].shape == (256, 128)
    assert len(w) == 117 and all(v.dtype == np.float32 for v in w.values())


def test_folding_the_scale_into_the_convolution_keeps_the_numbers() -> None:
    import torch
    import torch.nn.functional as fn

    w = descriptor.load_weights(DATA / "face_api")
    folded = descriptor.fold_scales(w)
    assert not any("/scale/" in k for k in folded)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 32, 20, 20)).astype(np.float32))
    name = "conv32_1/conv1"
    t = {k: torch.from_numpy(v) for k, v in w.items() if k.startswith(name)}
    two_steps = fn.conv2d(x, t[f"{name}/conv/filters"], t[f"{name}/conv/bias"], 1, 1) \
        * t[f"{name}/scale/weights"].view(1, -1, 1, 1) + t[f"{name}/scale/biases"].view(1, -1, 1, 1)
    one_step = fn.conv2d(x, torch.from_numpy(folded[f"{name}/conv/filters"]),
                         torch.from_numpy(folded[f"{name}/conv/bias"]), 1, 1)
    np.testing.assert_allclose(one_step.numpy(), two_steps.numpy(), rtol=1e-4, atol=1e-4)
