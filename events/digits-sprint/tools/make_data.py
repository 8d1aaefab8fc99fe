"""Write the digits sprint's data from scikit-learn's bundled copy of the UCI handwritten digits.

Run once, from the repository root, with scikit-learn installed (the `test` extra):
    .venv/bin/python events/digits-sprint/tools/make_data.py
It reads ``sklearn/datasets/data/digits.csv.gz`` from the installed package (no download), shuffles
the 1,797 images with a fixed seed, gives each an id, and writes the 797 training rows with labels
(data/train.csv), the 1,000 hidden rows' pixels (hidden/inputs.csv) and their labels
(hidden/labels.csv). The same scikit-learn file gives the same bytes; PROVENANCE.md holds the
checksums and the licence.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import sklearn

SEED = 20261203
HIDDEN_ROWS = 1000
EVENT = Path(__file__).resolve().parents[1]
PIXELS = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]  # scikit-learn's own feature names


def write(path: Path, header: list[str], rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(int(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    source = Path(sklearn.__file__).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(source, "rt", encoding="ascii") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    order = np.random.default_rng(SEED).permutation(len(table))
    table = table[order]
    ids = np.arange(1, len(table) + 1)  # ids in shuffled order: they say nothing of the source's order
    pixels, labels = table[:, :64], table[:, 64]
    train, hidden = slice(0, len(table) - HIDDEN_ROWS), slice(len(table) - HIDDEN_ROWS, None)
    write(EVENT / "data" / "train.csv", ["id", *PIXELS, "label"],
          np.column_stack([ids[train], pixels[train], labels[train]]))
    write(EVENT / "hidden" / "inputs.csv", ["id", *PIXELS], np.column_stack([ids[hidden], pixels[hidden]]))
    write(EVENT / "hidden" / "labels.csv", ["id", "label"], np.column_stack([ids[hidden], labels[hidden]]))
    print(f"scikit-learn {sklearn.__version__}: {source}")


if __name__ == "__main__":
    main()
