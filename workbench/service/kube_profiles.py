"""KubeSpawner profiles generated from the device inventory: the Kubernetes form of a center whose
servers hold their devices (UNTESTED on a live cluster; see docs/hub.md).

The same choices as Slurm-spawned servers (``profiles.py``: CPU only, then 1, 2, 4, … NPUs or GPUs
up to a node), written the way KubeSpawner takes them: ``c.KubeSpawner.profile_list`` entries whose
``kubespawner_override`` sets ``extra_resource_limits`` to the device plugin's extended resource —
``huawei.com/Ascend910`` (Ascend device plugin) or ``nvidia.com/gpu`` (NVIDIA device plugin) —
and the same number in ``extra_resource_guarantees``, since the API server refuses an extended
resource whose request differs from its limit. ``pod_manifest`` is the Pod that such a profile
asks for, and ``validate`` checks it offline against the Kubernetes OpenAPI schema (the JSON-schema
form shipped by the ``kubernetes-validate`` package), plus the one rule of the API server that the
schema cannot say: an extended resource is a whole number.

No Kubernetes API server can run where this project is built and tested, so what is proved is the
manifests' shape, not a scheduler placing them; the device plugins' resource names are the ones
their documentation gives. A Kubernetes *lease* backend (a pod's devices recorded and reconciled
like a Slurm job's, ``server_jobs.py``) is not written.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from workbench.devices.inventory import Device
from workbench.errors import ConfigError
from workbench.service.profiles import device_profiles

RESOURCES = {"npu": "huawei.com/Ascend910", "gpu": "nvidia.com/gpu"}
DEFAULT_IMAGE = "quay.io/jupyter/base-notebook:latest"
KUBERNETES_VERSION = "1.33"  # the schema the manifests are checked against (kubernetes-validate ships 1.25+)


def profile_list(devices: list[Device], resources: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """``c.KubeSpawner.profile_list`` for a node with ``devices``; the first (CPU only) is the default."""
    names = {**RESOURCES, **(resources or {})}
    entries: list[dict[str, Any]] = []
    for profile in device_profiles(devices):
        override: dict[str, Any] = {"environment": {"WORKBENCH_SERVER_PROFILE": profile.slug}}
        if profile.count:
            wanted = {names[profile.kind]: str(profile.count)}
            override.update(extra_resource_limits=wanted, extra_resource_guarantees=dict(wanted))
        what = f"{profile.count} x {names[profile.kind]}" if profile.count else "no accelerator"
        entries.append({"display_name": profile.display_name, "slug": profile.slug,
                        "description": f"Server pod with {what}", "kubespawner_override": override})
    if entries:
        entries[0]["default"] = True
    return entries


def pod_manifest(entry: dict[str, Any], image: str = DEFAULT_IMAGE, user: str = "student") -> dict[str, Any]:
    """The Pod KubeSpawner makes for a profile entry, reduced to what the profile decides: the
    notebook container, its resources and environment (KubeSpawner adds ports, probes, volumes)."""
    override = entry.get("kubespawner_override", {})
    resources: dict[str, Any] = {}
    if override.get("extra_resource_limits"):
        resources["limits"] = copy.deepcopy(override["extra_resource_limits"])
    if override.get("extra_resource_guarantees"):
        resources["requests"] = copy.deepcopy(override["extra_resource_guarantees"])
    container = {"name": "notebook", "image": image, "args": ["jupyterhub-singleuser"],
                 "env": [{"name": k, "value": str(v)} for k, v in sorted(override.get("environment", {}).items())],
                 "resources": resources}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"jupyter-{user}-{entry['slug']}",
                         "labels": {"app": "jupyterhub", "component": "singleuser-server",
                                    "workbench/profile": entry["slug"]}},
            "spec": {"restartPolicy": "OnFailure", "containers": [container]}}


def validate(manifest: dict[str, Any], version: str = KUBERNETES_VERSION) -> None:
    """Raise ``ConfigError`` naming the field when ``manifest`` does not fit Kubernetes ``version``'s
    schema (strict: unknown fields are errors too) or has a fractional extended resource."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import VersionNotSupportedError
    except ImportError as exc:
        raise ConfigError("validating Kubernetes manifests needs the kubernetes-validate package "
                          "(pip install kubernetes-validate), which ships the schemas") from exc
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(top)"
        raise ConfigError(f"{manifest.get('kind', '?')} {manifest.get('metadata', {}).get('name', '?')}: "
                          f"{where}: {exc.message} (Kubernetes {version} schema)") from None
    except (kubernetes_validate.SchemaNotFoundError, VersionNotSupportedError) as exc:
        raise ConfigError(f"no Kubernetes schema to check against: {exc.message}") from None
    for container in manifest["spec"]["containers"]:
        for section in ("limits", "requests"):
            for name, value in (container.get("resources", {}).get(section) or {}).items():
                if "/" in name and not re.fullmatch(r"[1-9][0-9]*", str(value)):
                    raise ConfigError(f"{manifest['metadata']['name']}: resources.{section}.{name} = {value!r}: an "
                                      "extended resource (a device plugin's) must be a whole number of devices")


def rendered(devices: list[Device], image: str = DEFAULT_IMAGE, version: str = KUBERNETES_VERSION,
             resources: dict[str, str] | None = None, check: bool = True) -> dict[str, Any]:
    """``{"profile_list": [...], "pods": [...]}``, each Pod validated first when ``check``."""
    entries = profile_list(devices, resources)
    pods = [pod_manifest(entry, image) for entry in entries]
    if check:
        for pod in pods:
            validate(pod, version)
    return {"profile_list": entries, "pods": pods}
