"""Where device files come from (inventory, discovery) and the namespace a kernel is given, without
starting one (tests/integration/devices/test_device_isolation.py attacks a real kernel)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workbench.config import Workbench, load_settings
from workbench.devices import inventory, isolation
from workbench.devices.backends import device_env
from workbench.devices.binding import current_session
from workbench.devices.inventory import Device
from workbench.devices.isolation import IsolationUnavailable
from workbench.errors import ConfigError


def declared(tmp_path: Path, entries: str) -> list[Device]:
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"discover: false\ndevices:\n{entries}")
    return [d for d in inventory.devices(str(inv)) if d.kind != "cpu"]


def test_device_files_default_per_kind_and_come_from_the_inventory(tmp_path: Path) -> None:
    assert Device("npu", "3").nodes() == {
        "path": "/dev/davinci3", "control": ["/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"]}
    assert Device("gpu", "1").nodes()["path"] == "/dev/nvidia1"
    assert "/dev/nvidiactl" in Device("gpu", "1").nodes()["control"]
    assert Device("cpu", "0").nodes() == {}
    found = declared(tmp_path, "  - {kind: npu, ids: [0, 1], path: '/srv/dev/davinci{id}', control: [/srv/dev/m]}\n"
                               "  - {kind: gpu, ids: [0, 1], path: [/dev/nvidia3, /dev/nvidia2]}\n")
    assert [(d.ident, d.nodes()["path"], d.nodes()["control"][0]) for d in found] == [
        ("0", "/srv/dev/davinci0", "/srv/dev/m"), ("1", "/srv/dev/davinci1", "/srv/dev/m"),
        ("0", "/dev/nvidia3", "/dev/nvidiactl"), ("1", "/dev/nvidia2", "/dev/nvidiactl")]


@pytest.mark.parametrize(("entry", "says"), [
    ("{kind: npu, ids: [0, 1], path: [/dev/davinci0]}", "one absolute path per id (2)"),
    ("{kind: npu, ids: [0, 1], path: 'dev/davinci{id}'}", "absolute pattern such as /dev/davinci{id}"),
    ("{kind: npu, ids: [0, 1], path: /dev/davinci0}", "absolute pattern such as /dev/davinci{id}"),
    ("{kind: npu, ids: [0], control: /dev/davinci_manager}", "'control' must be a list of absolute paths"),
    ("{kind: cpu, slots: 2, path: /dev/null}", "CPU slots have no device files"),
])
def test_wrong_device_file_keys_are_refused_with_the_fix(tmp_path: Path, entry: str, says: str) -> None:
    with pytest.raises(ConfigError, match="devices entry 1") as refused:
        declared(tmp_path, f"  - {entry}\n")
    assert says in refused.value.message


def test_gpu_device_file_is_the_driver_minor_not_the_index(tmp_path: Path) -> None:
    bus = tmp_path / "0000:3b:00.0"
    bus.mkdir()
    (bus / "information").write_text("Model: \t\t NVIDIA H200\nIRQ:   \t\t 180\nDevice Minor: \t 4\n")
    assert inventory.nvidia_node("00000000:3B:00.0", str(tmp_path)) == "/dev/nvidia4"
    assert inventory.nvidia_node("00000000:AF:00.0", str(tmp_path)) == ""  # the driver does not say: default
    [gpu] = inventory.parse_nvidia_smi("0, NVIDIA H200, 143771, 00000000:3B:00.0\n", str(tmp_path))
    assert (gpu.ident, gpu.memory_mb, gpu.nodes()["path"]) == ("0", 143771, "/dev/nvidia4")


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plain files standing in for device files (only their existence matters here); bwrap is not run."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("davinci0", "davinci1", "davinci2", "davinci_manager"):
        (dev / name).touch()
    monkeypatch.setattr(isolation, "require", lambda: "/usr/bin/bwrap")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return dev


def npus(dev: Path, count: int = 3) -> list[Device]:
    return [Device("npu", str(i), path=f"{dev}/davinci{i}", control=(f"{dev}/davinci_manager", f"{dev}/hisi_hdc"))
            for i in range(count)]


def lease(kind: str = "npu", *ids: str) -> dict:
    return {"lease": 7, "kind": kind, "backend": "local", "devices": [{"kind": kind, "id": i} for i in ids]}


def binds(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "--dev-bind" and argv[i + 1] != "/"]


def test_the_namespace_holds_the_leased_files_and_empties_their_directories(node_dir: Path) -> None:
    argv = isolation.wrap(lease("npu", "2", "0"), ["/usr/bin/python3", "-m", "ipykernel_launcher"], npus(node_dir))
    assert argv[:4] == isolation.IGNORE_SIGINT and argv[-4:] == ["--", "/usr/bin/python3", "-m", "ipykernel_launcher"]
    assert binds(argv) == [f"{node_dir}/davinci2", f"{node_dir}/davinci0", f"{node_dir}/davinci_manager"]  # no hisi_hdc
    for words in (["--dev-bind", "/", "/"], ["--dev", "/dev"], ["--unshare-pid", "--proc", "/proc"],
                  ["--tmpfs", str(node_dir)], ["--setenv", "JPY_PARENT_PID", "1"]):
        assert any(argv[i:i + len(words)] == words for i in range(len(argv))), words
    assert "--unshare-net" not in argv and "--unshare-all" not in argv  # the kernel's ZMQ ports stay reachable
    assert argv.index("--dev") < argv.index("--tmpfs") < argv.index(f"{node_dir}/davinci2")  # emptied, then bound
    cpu = isolation.wrap(lease("cpu", "0"), ["/usr/bin/python3"], npus(node_dir))
    assert binds(cpu) == [] and ["--tmpfs", str(node_dir)] == cpu[cpu.index("--tmpfs"):cpu.index("--tmpfs") + 2]


def test_the_variable_counts_from_zero_only_when_the_files_are_there(node_dir: Path) -> None:
    known = npus(node_dir, 4)
    assert isolation.environment(lease("npu", "2", "0"), known) == {"ASCEND_RT_VISIBLE_DEVICES": "0,1"}
    assert isolation.environment(lease("npu", "3"), known) == {}  # davinci3 is not there: the real id stays
    assert isolation.environment(lease("cpu", "0"), known) == {}
    env = device_env(lease("npu", "2", "0"))
    assert (env["ASCEND_RT_VISIBLE_DEVICES"], env["WORKBENCH_DEVICE_IDS"], env["CUDA_VISIBLE_DEVICES"]) == (
        "0,2", "0,2", "")


def test_the_session_reports_the_leased_ids_not_the_counted_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DEVICE_KIND", "npu")
    monkeypatch.setenv("ASCEND_RT_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("WORKBENCH_DEVICE_IDS", "3,5")
    assert current_session().devices == ["3", "5"]
    monkeypatch.delenv("WORKBENCH_DEVICE_IDS")
    assert current_session().devices == ["0", "1"]  # a kernel started before isolation existed


def test_a_missing_leased_file_is_an_error_when_required_and_a_warning_otherwise(
        node_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    known = npus(node_dir, 4)
    with pytest.raises(IsolationUnavailable, match=r"the device file of npu 3, .*/davinci3, does not exist"):
        isolation.wrap(lease("npu", "3"), ["/usr/bin/python3"], known, strict=True)
    with caplog.at_level(logging.WARNING, "workbench.devices.isolation"):
        assert binds(isolation.wrap(lease("npu", "3"), ["/usr/bin/python3"], known)) == [f"{node_dir}/davinci_manager"]
    assert "davinci3, does not exist" in caplog.text


def test_a_device_directory_that_would_hide_what_the_kernel_needs_is_refused(node_dir: Path) -> None:
    known = [Device("npu", "0", path=f"{node_dir}/davinci0", control=())]
    with pytest.raises(IsolationUnavailable, match=f"device files in {node_dir} cannot be isolated.*"
                                                   f"needs {node_dir}/kernel.json"):
        isolation.wrap(lease("npu", "0"), ["/usr/bin/python3", "-f", f"{node_dir}/kernel.json"], known)
    with pytest.raises(IsolationUnavailable, match="device files in / cannot be isolated"):
        isolation.wrap(lease("npu", "0"), ["/usr/bin/python3"], [Device("npu", "0", path="/davinci0", control=())])


def test_when_a_kernel_is_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "accelerator_files", lambda known=(): [])
    assert not isolation.applies(lease("npu", "0"), None)  # nothing to hide on this machine
    assert not isolation.applies(lease("npu", "0"), False)
    assert not isolation.applies({**lease("npu", "0"), "backend": "slurm"}, True)  # the cgroup's job there
    monkeypatch.setattr(isolation, "bwrap_path", lambda: None)
    with pytest.raises(IsolationUnavailable) as refused:
        isolation.applies(lease("cpu", "0"), True)
    assert refused.value.message == (
        "device isolation is on (Workbench.isolate_devices) but bubblewrap (bwrap) is not on PATH; "
        "install bubblewrap (apt-get install bubblewrap) or set c.Workbench.isolate_devices = False")
    monkeypatch.setattr(isolation, "accelerator_files", lambda known=(): ["/"])  # something to hide, no bwrap
    assert not isolation.applies(lease("npu", "0"), None)  # auto: warned, not isolated


def test_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Workbench().isolate_devices is None
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    (tmp_path / "jupyter_workbench_config.py").write_text("c.Workbench.isolate_devices = False\n")
    assert load_settings().isolate_devices is False
