"""Face verification: cosine distance, ROC, EER, TAR@FAR, thresholds chosen on one split, LFW pairs.

Why a pairs protocol: the shipped set is tiny (two people, six photos), so every number here is a
demonstration, not a benchmark. A center's own set in the LFW layout (``<person>/<person>_0001.jpg``
plus a ``pairs.txt``) drops into :func:`read_pairs` unchanged and gives real numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cos(angle) between matching rows of ``a`` and ``b`` (0 same direction, 2 opposite)."""
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return 1.0 - cos


@dataclass
class Roc:
    """ROC over distance thresholds: a pair is accepted as "same" when its distance <= threshold."""

    thresholds: np.ndarray
    tar: np.ndarray  # true accept rate: same-person pairs accepted
    far: np.ndarray  # false accept rate: different-person pairs accepted


def roc(distances: np.ndarray, same: np.ndarray) -> Roc:
    """The ROC at every distinct distance (plus one below all, which accepts nothing)."""
    d, s = np.asarray(distances, float), np.asarray(same, bool)
    if s.all() or not s.any():
        raise ValueError("a ROC needs both same-person and different-person pairs")
    thresholds = np.r_[-np.inf, np.unique(d)]
    accepted = d[None, :] <= thresholds[:, None]
    return Roc(thresholds, accepted[:, s].mean(1), accepted[:, ~s].mean(1))


def eer(r: Roc) -> tuple[float, float]:
    """Equal error rate and its threshold: where false accepts and false rejects (1 - TAR) meet."""
    frr = 1 - r.tar
    i = int(np.argmin(np.abs(r.far - frr)))
    return float((r.far[i] + frr[i]) / 2), float(r.thresholds[i])


def tar_at_far(r: Roc, far: float) -> float:
    """Highest true accept rate whose false accept rate is at most ``far``."""
    ok = r.far <= far
    return float(r.tar[ok].max()) if ok.any() else 0.0


def choose_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold maximising accuracy on this split: midway between neighbouring distances."""
    d, s = np.asarray(distances, float), np.asarray(same, bool)
    points = np.unique(d)
    candidates = np.r_[points[0] - 1e-6, (points[:-1] + points[1:]) / 2, points[-1] + 1e-6]
    accuracy = [np.mean((d <= t) == s) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def accuracy_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.asarray(distances) <= threshold) == np.asarray(same, bool)))


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool
    fold: int = 0


def read_pairs(root: str | Path, pairs_file: str | Path, folds: int = 2) -> list[Pair]:
    """LFW ``pairs.txt``: ``name i j`` (same person) or ``name1 i name2 j`` (different); image ``i`` of
    ``name`` is ``root/name/name_000i.jpg``.

    With LFW's header ``n_folds n`` the file is ``n_folds`` blocks of ``n`` same then ``n`` different
    pairs, one block per fold. Without a header, same and different pairs are dealt round-robin into
    ``folds`` folds, so every fold holds both kinds.
    """
    root = Path(root)
    lines = [ln.split() for ln in Path(pairs_file).read_text().splitlines() if ln.strip()]
    per_block = None
    if lines and all(tok.isdigit() for tok in lines[0]):
        header = [int(t) for t in lines.pop(0)]
        per_block = 2 * header[-1] if len(header) == 2 else None

    def image(name: str, index: str) -> Path:
        return root / name / f"{name}_{int(index):04d}.jpg"

    pairs: list[Pair] = []
    counts = {True: 0, False: 0}
    for k, parts in enumerate(lines):
        if len(parts) not in (3, 4):
            raise ValueError(f"{pairs_file}: line {k + 2}: expected 'name i j' or 'name1 i name2 j', "
                             f"got {' '.join(parts)!r}")
        same = len(parts) == 3
        fold = k // per_block if per_block else counts[same] % folds
        counts[same] += 1
        a, b = (image(parts[0], parts[1]), image(parts[0], parts[2])) if same else \
            (image(parts[0], parts[1]), image(parts[2], parts[3]))
        pairs.append(Pair(a, b, same, fold))
    missing = sorted({str(p) for pair in pairs for p in (pair.a, pair.b) if not p.is_file()})
    if missing:
        raise FileNotFoundError(f"{len(missing)} images named in {pairs_file} are missing, e.g. {missing[0]}")
    return pairs


def write_lfw_layout(images: dict[str, list[Path]], root: str | Path) -> Path:
    """Copy ``{person: [image paths]}`` into the LFW layout under ``root`` with an all-pairs ``pairs.txt``
    (no header: :func:`read_pairs` deals the pairs into folds)."""
    import shutil

    root = Path(root)
    for person, paths in images.items():
        (root / person).mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(paths, 1):
            shutil.copyfile(path, root / person / f"{person}_{i:04d}.jpg")
    same = [f"{p} {i} {j}" for p, paths in images.items()
            for i, j in itertools.combinations(range(1, len(paths) + 1), 2)]
    diff = [f"{p} {i} {q} {j}" for p, q in itertools.combinations(images, 2)
            for i in range(1, len(images[p]) + 1) for j in range(1, len(images[q]) + 1)]
    (root / "pairs.txt").write_text("\n".join(same + diff) + "\n")
    return root / "pairs.txt"
