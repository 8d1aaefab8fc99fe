"""The course's shipped data is exactly what PROVENANCE.md says it is (digests in SHA256SUMS)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "curricula" / "ai-compute-foundations" / "data"
S2_ORIGINAL_SHA256 = "09c41f19340407f84017a89460822539e9380aed673bfc1538fa532f9443ef2f"


def _entries() -> list[tuple[str, str]]:
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    return [(name.removeprefix("./"), digest) for digest, name in (line.split(maxsplit=1) for line in lines if line)]


@pytest.mark.parametrize(("name", "digest"), _entries())
def test_file_matches_its_checksum(name: str, digest: str) -> None:
    assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, f"{name} differs from SHA256SUMS"


def test_every_data_file_is_listed_and_has_provenance() -> None:
    listed = {name for name, _ in _entries()}
    present = {p.relative_to(DATA).as_posix() for p in DATA.rglob("*") if p.is_file()}
    assert present - {"SHA256SUMS", "PROVENANCE.md"} == listed
    provenance = (DATA / "PROVENANCE.md").read_text()
    for name in listed:
        assert Path(name).parent.as_posix() in provenance, f"{name} has no row in PROVENANCE.md"


def test_decompressed_sentinel_image_is_the_original() -> None:
    raw = gzip.decompress((DATA / "spyndex" / "S2_10m.json.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == S2_ORIGINAL_SHA256
