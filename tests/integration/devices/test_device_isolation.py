"""Device isolation attacked as a student would: a real kernel leased one NPU through the provisioner.

The machine is made here: character devices (``mknod``, the numbers of /dev/zero, so open and read
work) in a temporary directory stand in for /dev/davinci0..3 and the Ascend control nodes, another
for a GPU, and the inventory file points at them (``path:`` / ``control:``). Bob holds NPU 0; Alice's
kernel gets NPU 1 and then tries everything cheap: the visibility variable, every other device file
by path, /dev, /proc/<pid>/root of every process it can see, mknod. Root is needed for mknod; the
kernel runs as root too, which is the harder case (capabilities are dropped inside).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from tests.conftest import REPO
from workbench.devices.isolation import IsolationUnavailable
from workbench.devices.leases import LeaseManager, Request
from workbench.store import Store

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="making device files (mknod) needs root"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]
NPU_FILES = ["davinci0", "davinci1", "davinci2", "davinci3", "davinci_manager", "devmm_svm", "hisi_hdc"]


@dataclass
class Machine:
    dev: Path  # stands in for /dev: the NPUs and their control nodes
    gpu_dev: Path  # a GPU's files, elsewhere
    home: Path
    db_url: str
    inventory: Path
    config: Path

    def lease_rows(self) -> dict[int, dict]:
        return {x["lease"]: x for x in LeaseManager.from_settings(Store(self.db_url), str(self.inventory))
                .list_leases(all=True)}


def _mknod(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))


def _kernelspec(source: str, name: str) -> None:
    spec = json.loads((REPO / f"workbench/devices/kernelspecs/{source}/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    kdir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / name
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Machine]:
    dev, gpu_dev, home = tmp_path / "dev", tmp_path / "gpu-dev", tmp_path / "home"
    for directory in (dev, gpu_dev, home):
        directory.mkdir()
    for name in NPU_FILES:
        _mknod(dev / name)
    for name in ("nvidia0", "nvidiactl"):
        _mknod(gpu_dev / name)
    try:
        (dev / "davinci0").open("rb").close()
    except OSError as exc:
        pytest.skip(f"device files cannot be opened under {tmp_path} ({exc.strerror}: mounted nodev?)")
    site = tmp_path / "site"
    dist = site / "aicc_workbench_test-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-test\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[jupyter_client.kernel_provisioners]\n"
        "workbench-provisioner = workbench.devices.provisioner:WorkbenchProvisioner\n")
    monkeypatch.syspath_prepend(str(site))
    _kernelspec("workbench-npu", "wbiso-npu")
    _kernelspec("workbench-cpu", "wbiso-cpu")
    inv = tmp_path / "inventory.yaml"
    control = ", ".join(str(dev / n) for n in NPU_FILES[4:])
    inv.write_text("discover: false\ndevices:\n"
                   f"  - {{kind: npu, ids: [0, 1, 2, 3], path: '{dev}/davinci{{id}}', control: [{control}]}}\n"
                   f"  - {{kind: gpu, ids: [0], path: '{gpu_dev}/nvidia0', control: ['{gpu_dev}/nvidiactl']}}\n"
                   "  - {kind: cpu, slots: 2}\n")
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_workbench_config.json").write_text(json.dumps({"Workbench": {"isolate_devices": True}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    monkeypatch.setenv("WORKBENCH_INVENTORY", str(inv))
    monkeypatch.setenv("WORKBENCH_HOLDER", "alice")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    Store(db_url).upgrade()
    yield Machine(dev, gpu_dev, home, db_url, inv, config)


def run(km: KernelManager, code: str) -> str:
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=60,
                                           output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(out).strip()
    finally:
        client.stop_channels()


ATTACK = textwrap.dedent('''
    import errno, json, os, stat
    from pathlib import Path
    dev, gpu_dev = {dev!r}, {gpu_dev!r}
    def try_open(path):
        try:
            with open(path, "rb") as f:
                return len(f.read(4))
        except OSError as e:
            return errno.errorcode[e.errno]
    seen = {{"env": os.environ["ASCEND_RT_VISIBLE_DEVICES"], "ids": os.environ["WORKBENCH_DEVICE_IDS"],
            "pid": os.getpid(), "uid": os.getuid(), "cwd": os.getcwd()}}
    os.environ["ASCEND_RT_VISIBLE_DEVICES"] = "0,1,2,3"  # the advisory fence, stepped over
    os.environ["CUDA_VISIBLE_DEVICES"] = "0"
    seen["open"] = {{p: try_open(p) for p in [f"{{dev}}/davinci{{i}}" for i in range(4)]
                    + [f"{{dev}}/{{n}}" for n in ("davinci_manager", "devmm_svm", "hisi_hdc")]
                    + [f"{{gpu_dev}}/nvidia0", f"{{gpu_dev}}/nvidiactl"]}}
    seen["ls_dev"] = sorted(os.listdir(dev))
    seen["ls_gpu_dev"] = sorted(os.listdir(gpu_dev))
    seen["slash_dev"] = sorted(n for n in os.listdir("/dev") if n.startswith(("davinci", "nvidia", "devmm", "hisi")))
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    seen["pids"] = len(pids)
    seen["via_proc"] = sorted({{str(try_open(f"/proc/{{p}}/root{{dev}}/davinci0")) for p in pids}})
    try:
        os.mknod(Path.home() / "forged-davinci", stat.S_IFCHR | 0o666, os.makedev(1, 5))
        seen["mknod"] = "made"
    except OSError as e:
        seen["mknod"] = errno.errorcode[e.errno]
    home = Path.home() / "notes.txt"
    home.write_text("kept")
    scratch = Path("/tmp") / f"wb-iso-{{os.getpid()}}-{{os.urandom(4).hex()}}"
    scratch.write_text("tmp ok")
    seen["home"], seen["tmp"] = home.read_text(), scratch.read_text()
    (Path.home() / "tmp-name").write_text(str(scratch))
    print(json.dumps(seen))
''')


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc/<pid>/task/*/children)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_student_cannot_reach_another_device(machine: Machine) -> None:
    bob = LeaseManager.from_settings(Store(machine.db_url), str(machine.inventory)).acquire("bob", [Request("npu", 1)])
    assert [d["id"] for d in bob["devices"]] == ["0"]
    km = KernelManager(kernel_name="wbiso-npu")
    km.start_kernel()
    try:
        assert [d["id"] for d in km.provisioner.lease["devices"]] == ["1"]
        assert any(os.path.basename(a) == "bwrap" for a in km.provisioner.process.args)
        seen = json.loads(run(km, ATTACK.format(dev=str(machine.dev), gpu_dev=str(machine.gpu_dev))))
        # (a) its own device (and the control nodes) open; counted from 0 inside, the real id alongside
        dev = machine.dev
        assert seen["open"][f"{dev}/davinci1"] == 4
        assert all(seen["open"][f"{dev}/{n}"] == 4 for n in NPU_FILES[4:])
        assert (seen["env"], seen["ids"]) == ("0", "1")
        # (b) every other device file is absent, whatever the variables say, by path or through /proc
        for other in (0, 2, 3):
            assert seen["open"][f"{dev}/davinci{other}"] == "ENOENT", seen["open"]
        assert seen["open"][f"{machine.gpu_dev}/nvidia0"] == seen["open"][f"{machine.gpu_dev}/nvidiactl"] == "ENOENT"
        assert seen["ls_dev"] == ["davinci1", "davinci_manager", "devmm_svm", "hisi_hdc"]
        assert seen["ls_gpu_dev"] == [] and seen["slash_dev"] == []
        assert seen["pids"] <= 3 and seen["via_proc"] == ["ENOENT"]  # its own PID namespace: no way out
        assert seen["mknod"] == "EPERM"  # root inside, but without capabilities
        # (c) still a working kernel, as root, in its directory, writing home and /tmp on the host itself
        assert seen["uid"] == 0 and seen["cwd"] == str(machine.home)
        assert seen["home"] == "kept" and seen["tmp"] == "tmp ok"
        scratch = Path((machine.home / "tmp-name").read_text())
        assert scratch.read_text() == "tmp ok" and (machine.home / "notes.txt").read_text() == "kept"
        scratch.unlink()
        assert not (machine.home / "forged-davinci").exists()
        # an interrupt still reaches the kernel through bwrap, and it lives on
        client = km.client()
        client.start_channels()
        try:
            msg_id = client.execute("import time; time.sleep(60)")
            time.sleep(1.0)
            km.interrupt_kernel()
            reply = client.get_shell_msg(timeout=20)
            assert reply["parent_header"]["msg_id"] == msg_id
            assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        finally:
            client.stop_channels()
        assert run(km, "print(6 * 7)") == "42"
        # a restart keeps the lease and the isolation
        km.restart_kernel(now=True)
        assert run(km, f"import os; print(sorted(os.listdir({str(dev)!r})))") == \
            "['davinci1', 'davinci_manager', 'devmm_svm', 'hisi_hdc']"
        # kill -9 of bwrap (the process Jupyter knows) ends everything inside it
        lease_id = km.provisioner.lease["lease"]
        inside = descendants(km.provisioner.pid)
        assert inside
        os.kill(km.provisioner.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in inside):
            assert time.monotonic() < deadline, "the kernel outlived its bwrap"
            time.sleep(0.1)
    finally:
        km.shutdown_kernel(now=True)
    assert machine.lease_rows()[lease_id]["state"] == "ended"


def test_a_cpu_kernel_gets_no_device_file_at_all(machine: Machine) -> None:
    """A CPU lease (or an NPU request that fell back to CPU) has nothing to flip the variables towards."""
    km = KernelManager(kernel_name="wbiso-cpu")
    km.start_kernel()
    try:
        assert km.provisioner.lease["kind"] == "cpu"
        seen = run(km, f"import os; os.environ['ASCEND_RT_VISIBLE_DEVICES'] = '0'; "
                       f"print(os.listdir({str(machine.dev)!r}), os.path.exists({str(machine.dev)!r} + '/davinci0'),"
                       f" repr(os.environ['CUDA_VISIBLE_DEVICES']))")
        assert seen == "[] False ''"
    finally:
        km.shutdown_kernel(now=True)


def test_without_device_files_or_with_isolation_off_the_kernel_is_started_as_before(
        machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with nothing to hide (auto), or an admin's False: the plain command, the host's own pid."""
    for setting in (None, False):
        (machine.config / "jupyter_workbench_config.json").write_text(
            json.dumps({"Workbench": {"isolate_devices": setting}}))
        if setting is None:  # as on a laptop whose inventory declares NPUs it does not have
            monkeypatch.setattr("workbench.devices.isolation.accelerator_files", lambda known=(): [])
        km = KernelManager(kernel_name="wbiso-cpu")
        km.start_kernel()
        try:
            assert "bwrap" not in " ".join(km.provisioner.process.args)
            assert run(km, "import os; print(os.getpid())") == str(km.provisioner.pid)
        finally:
            km.shutdown_kernel(now=True)


def test_isolation_required_without_bwrap_refuses_in_one_line_and_gives_the_lease_back(
        machine: Machine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    km = KernelManager(kernel_name="wbiso-npu")
    with pytest.raises(IsolationUnavailable) as refused:
        km.start_kernel()
    message = refused.value.message
    assert "\n" not in message and "apt-get install bubblewrap" in message
    assert "c.Workbench.isolate_devices = False" in message
    [row] = machine.lease_rows().values()
    assert row["state"] == "ended" and row["reason"].startswith("kernel not started: device isolation is on")


SERVER = textwrap.dedent('''
    import sys
    from jupyter_client import KernelManager
    km = KernelManager(kernel_name="wbiso-npu")
    km.start_kernel()
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    print("BWRAP", km.provisioner.pid, flush=True)
    sys.stdin.read()
''')


def test_kill_9_of_the_server_ends_its_isolated_kernel(machine: Machine) -> None:
    """ipykernel's own parent poll cannot see the server from inside the PID namespace; the death
    signal that setpriv gives bwrap does that job."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*filter(None, sys.path)])}
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env, text=True)
    try:
        assert server.stdout is not None
        line = ""
        while not line.startswith("BWRAP "):
            line = server.stdout.readline()
            assert line, "the server did not start its kernel"
        bwrap = int(line.split()[1])
        inside = descendants(bwrap) | {bwrap}
        assert len(inside) >= 3  # bwrap, its init, the kernel
        server.kill()
        server.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in inside):
            assert time.monotonic() < deadline, "an isolated kernel outlived its server"
            time.sleep(0.1)
    finally:
        server.kill()
