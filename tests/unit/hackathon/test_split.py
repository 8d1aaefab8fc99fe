"""The public/private split: seeded, reproducible, the stated share exactly, blind to row order."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.hackathon.split import public_count, public_mask


def chosen(ids: list[str], share: float, seed: int) -> set[str]:
    return {i for i, public in zip(ids, public_mask(ids, share, seed), strict=True) if public}


@pytest.mark.parametrize(("n", "share"), [(1000, 0.3), (7, 0.5), (10, 0.25), (12345, 0.1), (3, 0.9)])
def test_exact_share(n: int, share: float) -> None:
    mask = public_mask([f"id{i}" for i in range(n)], share, seed=1)
    assert mask.dtype == bool and mask.sum() == round(share * n) == public_count(n, share)


def test_reproducible_and_independent_of_row_order() -> None:
    ids = [str(i) for i in range(2000)]
    first = chosen(ids, 0.3, seed=42)
    assert chosen(ids, 0.3, seed=42) == first
    shuffled = list(np.random.default_rng(0).permutation(ids))
    assert chosen(shuffled, 0.3, seed=42) == first
    assert chosen(ids[::-1], 0.3, seed=42) == first


def test_the_seed_changes_the_split_and_a_larger_share_keeps_the_smaller() -> None:
    ids = [f"row-{i}" for i in range(1000)]
    a, b = chosen(ids, 0.3, seed=1), chosen(ids, 0.3, seed=2)
    assert a != b and 0.15 < len(a & b) / len(a) < 0.45  # about 30 % overlap by chance, not equal
    assert chosen(ids, 0.2, seed=1) <= a  # the smallest keys: a larger share adds rows, never swaps them


def test_not_the_first_rows() -> None:
    ids = [str(i) for i in range(1000)]
    mask = public_mask(ids, 0.3, seed=9)
    assert 0.2 < mask[:500].mean() < 0.4 and 0.2 < mask[500:].mean() < 0.4
