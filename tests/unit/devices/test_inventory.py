"""Inventory: the admin file, a fake npu-smi that prints the real tables, and their merge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures import npu_smi
from workbench.devices import inventory
from workbench.errors import ConfigError


@pytest.fixture
def fake_npu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    npu_smi.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", npu_smi.on_path(tmp_path / "bin"))
    inventory._cache.clear()
    return tmp_path / "bin" / "npu-smi"


def test_npu_smi_tables_parse_to_logical_ids(fake_npu: Path) -> None:
    info = subprocess.run([str(fake_npu), "info"], capture_output=True, text=True, check=True).stdout
    chips = inventory.parse_npu_smi_info(info)
    assert [c["npu"] for c in chips] == list(range(8))
    assert chips[0] == {"npu": 0, "chip": 0, "name": "910B3", "health": "OK", "memory_mb": 65536}
    mapping = subprocess.run([str(fake_npu), "info", "-m"], capture_output=True, text=True).stdout
    assert inventory.parse_npu_smi_mapping(mapping)[(5, 0)] == 5


def test_mcu_rows_and_multi_chip_cards() -> None:
    mapping = "  NPU ID  Chip ID  Chip Logic ID  Chip Name\n  0  0  0  Ascend 910B\n  0  1  -  Mcu\n"
    assert inventory.parse_npu_smi_mapping(mapping) == {(0, 0): 0}
    table = ("| 8     310P3               | OK            | NA          52                0     / 0   |\n"
             "| 0     0                   | 0000:01:00.0  | 0           1512 / 44280                  |\n"
             "| 1     1                   | 0000:01:00.0  | 0           1512 / 44280                  |\n")
    chips = inventory.parse_npu_smi_info(table)
    assert [(c["npu"], c["chip"], c["memory_mb"]) for c in chips] == [(8, 0, 44280), (8, 1, 44280)]


def test_discovered_npus_merge_with_file(fake_npu: Path, tmp_path: Path) -> None:
    file = tmp_path / "inventory.yaml"
    file.write_text("devices:\n  - {kind: gpu, ids: [0], model: H100}\n  - {kind: cpu, slots: 4}\n")
    found = inventory.devices(str(file))
    npus = [d for d in found if d.kind == "npu"]
    assert [d.ident for d in npus] == [str(i) for i in range(8)]
    assert npus[0].model == "Ascend910B3" and npus[0].source == "npu-smi"
    assert [(d.kind, d.ident, d.model) for d in found if d.kind != "npu"] == [
        ("gpu", "0", "H100"), ("cpu", "0", "CPU slot"), ("cpu", "1", "CPU slot"), ("cpu", "2", "CPU slot"),
        ("cpu", "3", "CPU slot")]
    assert inventory.summary(str(file))["npu"] == 8


def test_file_carves_a_kind(fake_npu: Path, tmp_path: Path) -> None:
    """An admin who lists npu keeps the rest: the file wins over discovery for that kind."""
    file = tmp_path / "inventory.yaml"
    file.write_text("devices:\n  - {kind: npu, ids: [0, 1, 2, 3, 4, 5, 6], model: Ascend910B}\n")
    npus = [d for d in inventory.devices(str(file)) if d.kind == "npu"]
    assert [d.ident for d in npus] == ["0", "1", "2", "3", "4", "5", "6"]
    assert {d.source for d in npus} == {"file"}


@pytest.mark.parametrize(("text", "expected"), [
    ("devices:\n  - {kind: tpu, ids: [0]}\n", "kind npu, gpu or cpu, got 'tpu'"),
    ("devices:\n  - {kind: npu}\n", "needs 'ids: [0, 1, ...]'"),
    ("devices: [\n", "not valid YAML"),
])
def test_bad_files_say_what_to_fix(tmp_path: Path, text: str, expected: str) -> None:
    file = tmp_path / "inventory.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=r"inventory\.yaml") as err:
        inventory.devices(str(file))
    assert expected in err.value.message


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="WORKBENCH_INVENTORY"):
        inventory.devices(str(tmp_path / "nope.yaml"))


def test_nvidia_smi_csv() -> None:
    found = inventory.parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n")
    assert [(d.ident, d.memory_mb) for d in found] == [("0", 81559), ("1", 81559)]
