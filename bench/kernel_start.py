"""Kernel start to first executed cell: the workbench provisioner vs jupyter_client's LocalProvisioner.

Both kernel specs run the same ``python -m ipykernel_launcher``; the workbench one adds the lease
(store transaction, inventory, visible-device environment) and its heartbeat. Runs alternate
between the two in one process so machine noise hits both alike; prints median, p90 and the ratio
of medians (goal <= 1.2x). Run with ``.venv/bin/python bench/kernel_start.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def setup(tmp: Path) -> None:
    """Isolated Jupyter dirs and store; both kernel specs; the provisioner's entry point on sys.path."""
    for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
        os.environ[name] = str(tmp / name.lower())
    os.environ["WORKBENCH_DB_URL"] = f"sqlite:///{tmp / 'bench.db'}"
    inventory = tmp / "inventory.yaml"
    inventory.write_text("discover: false\ndevices:\n  - {kind: cpu, slots: 8}\n")
    os.environ["WORKBENCH_INVENTORY"] = str(inventory)
    dist = tmp / "site" / "aicc_workbench_bench-0.0.dist-info"  # as an installed wheel declares it
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: aicc-workbench-bench\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[jupyter_client.kernel_provisioners]\nworkbench-provisioner = "
                                           "workbench.devices.provisioner:WorkbenchProvisioner\n")
    sys.path.insert(0, str(tmp / "site"))
    spec = json.loads((REPO / "workbench/devices/kernelspecs/workbench-cpu/kernel.json").read_text())
    spec["argv"][0] = sys.executable
    plain = {**spec, "display_name": "plain", "metadata": {}}
    for name, body in (("bench-workbench", spec), ("bench-plain", plain)):
        kdir = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / name
        kdir.mkdir(parents=True)
        (kdir / "kernel.json").write_text(json.dumps(body))


def one_start(kernel_name: str) -> float:
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # no warnings in the table
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("x = 1 + 1", timeout=60)
        elapsed = time.perf_counter() - started
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="starts per provisioner")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup(Path(tmp))
        from workbench.store import Store

        Store(os.environ["WORKBENCH_DB_URL"]).upgrade()
        one_start("bench-plain")  # warm the page cache and imports for both
        one_start("bench-workbench")
        times: dict[str, list[float]] = {"bench-plain": [], "bench-workbench": []}
        for _ in range(args.runs):
            for name in times:
                times[name].append(one_start(name))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}; {args.runs} alternating starts each\n")
    print("| provisioner | median (s) | p90 (s) | min (s) |")
    print("|---|---:|---:|---:|")
    labels = {"bench-plain": "jupyter_client LocalProvisioner", "bench-workbench": "workbench-provisioner"}
    for name, label in labels.items():
        values = sorted(times[name])
        print(f"| {label} | {statistics.median(values):.3f} | {values[int(0.9 * (len(values) - 1))]:.3f} | "
              f"{values[0]:.3f} |")
    ratio = statistics.median(times["bench-workbench"]) / statistics.median(times["bench-plain"])
    print(f"\nratio of medians (workbench / plain): {ratio:.2f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
