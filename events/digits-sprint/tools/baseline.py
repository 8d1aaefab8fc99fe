"""The organiser's baseline: nearest class centroid on the training pixels, NumPy only.

Run from the repository root after make_data.py:
    .venv/bin/python events/digits-sprint/tools/baseline.py
It writes baselines/nearest_centroid.csv (id,label for every hidden row), the entry event.yaml
names under ``baselines:``; the board shows it marked as a baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EVENT = Path(__file__).resolve().parents[1]


def main() -> None:
    train = np.loadtxt(EVENT / "data" / "train.csv", delimiter=",", skiprows=1, dtype=np.float64)
    hidden = np.loadtxt(EVENT / "hidden" / "inputs.csv", delimiter=",", skiprows=1, dtype=np.float64)
    x, y = train[:, 1:-1], train[:, -1].astype(int)
    classes = np.unique(y)
    centroids = np.stack([x[y == c].mean(axis=0) for c in classes])
    distances = ((hidden[:, 1:, None] - centroids.T[None]) ** 2).sum(axis=1)
    predicted = classes[distances.argmin(axis=1)]
    out = EVENT / "baselines" / "nearest_centroid.csv"
    out.parent.mkdir(exist_ok=True)
    rows = [f"{int(i)},{int(p)}" for i, p in zip(hidden[:, 0], predicted, strict=True)]
    out.write_text("id,label\n" + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
