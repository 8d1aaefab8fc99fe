"""Server profiles from the device inventory: the Slurm spawner's and KubeSpawner's are the same choices,
and every Pod a KubeSpawner profile implies passes the Kubernetes schema, checked offline (no API server
can run here), while broken ones are refused with the field named.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.devices.inventory import Device
from workbench.errors import ConfigError
from workbench.service import kube_profiles
from workbench.service.profiles import counts, device_profiles

NODE = [Device("npu", str(i), model="Ascend910B3") for i in range(8)] + [Device("gpu", "0"), Device("gpu", "1"),
                                                                          Device("cpu", "0")]


def test_profiles_are_cpu_then_powers_of_two_up_to_a_node() -> None:
    assert counts(8) == [1, 2, 4, 8] and counts(6) == [1, 2, 4, 6] and counts(1) == [1] and counts(0) == []
    assert [(p.slug, p.gres) for p in device_profiles(NODE)] == [
        ("cpu", ""), ("npu-1", "npu:1"), ("npu-2", "npu:2"), ("npu-4", "npu:4"), ("npu-8", "npu:8"),
        ("gpu-1", "gpu:1"), ("gpu-2", "gpu:2")]
    assert device_profiles(NODE)[2].display_name == "2 Ascend NPUs (Ascend910B3)"


def test_kubespawner_profiles_ask_the_device_plugins_resources() -> None:
    entries = kube_profiles.profile_list(NODE)
    assert entries[0]["default"] is True and "extra_resource_limits" not in entries[0]["kubespawner_override"]
    by_slug = {e["slug"]: e["kubespawner_override"] for e in entries}
    assert by_slug["npu-4"]["extra_resource_limits"] == {"huawei.com/Ascend910": "4"}
    assert by_slug["gpu-2"]["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    for override in by_slug.values():  # the API server wants an extended resource's request == its limit
        assert override.get("extra_resource_guarantees") == override.get("extra_resource_limits")
    renamed = kube_profiles.profile_list(NODE, {"npu": "huawei.com/Ascend910B"})
    assert renamed[1]["kubespawner_override"]["extra_resource_limits"] == {"huawei.com/Ascend910B": "1"}


def test_every_generated_pod_fits_the_kubernetes_schema() -> None:
    pytest.importorskip("kubernetes_validate")
    out = kube_profiles.rendered(NODE)  # validates each Pod, strict: unknown fields are errors
    limits = [p["spec"]["containers"][0]["resources"].get("limits") for p in out["pods"]]
    assert limits[0] is None and limits[1] == {"huawei.com/Ascend910": "1"} and limits[-1] == {"nvidia.com/gpu": "2"}
    for version in ("1.25", "1.37"):
        kube_profiles.validate(out["pods"][1], version)


def _broken(change: Any) -> dict[str, Any]:
    pod = kube_profiles.pod_manifest(kube_profiles.profile_list(NODE)[1])
    broken = copy.deepcopy(pod)
    change(broken["spec"]["containers"][0])
    return broken


@pytest.mark.parametrize(("change", "named"), [
    (lambda c: c.__setitem__("resources", {"limits": ["huawei.com/Ascend910", 1]}), "resources.limits"),
    (lambda c: c.__setitem__("resource", c.pop("resources")), "Additional properties"),  # a typo, strict
    (lambda c: c.pop("name"), "'name' is a required property"),
    (lambda c: c["env"].append({"name": "X", "valueFrom": "nope"}), "env.1.valueFrom"),
    (lambda c: c["resources"]["limits"].__setitem__("huawei.com/Ascend910", "0.5"), "whole number of devices"),
])
def test_a_broken_pod_is_refused_naming_the_field(change: Any, named: str) -> None:
    pytest.importorskip("kubernetes_validate")
    with pytest.raises(ConfigError, match=named.replace(".", r"\.").replace("'", ".")):
        kube_profiles.validate(_broken(change))


def test_the_cli_prints_the_profiles_of_an_inventory(tmp_path: Path) -> None:
    pytest.importorskip("kubernetes_validate")
    file = tmp_path / "node.yaml"
    file.write_text("discover: false\ndevices:\n  - {kind: npu, ids: [0, 1]}\n")
    run = [sys.executable, "-m", "workbench.cli", "hub", "kubespawner-profiles", "--inventory", str(file)]
    done = subprocess.run([*run, "--json", "--pods"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [e["slug"] for e in out["profile_list"]] == ["cpu", "npu-1", "npu-2"] and len(out["pods"]) == 3
    text = subprocess.run(run, capture_output=True, text=True)
    assert text.returncode == 0 and "untested on a live cluster" in text.stdout
    assert "huawei.com/Ascend910: '2'" in text.stdout and "pods" not in text.stdout
