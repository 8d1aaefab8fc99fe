"""``workbench hub``: what a center's JupyterHub configuration is generated from.

``workbench hub kubespawner-profiles --inventory FILE`` prints ``c.KubeSpawner.profile_list`` (or
zero-to-jupyterhub's ``singleuser.profileList``) for the node the inventory file describes, each
Pod it implies checked offline against the Kubernetes schema first (``kube_profiles.py``). The
file is read as written, without probing this machine: the hub's machine is not the node.
"""

from __future__ import annotations

import argparse
import json

import yaml

from workbench.devices import inventory
from workbench.service import kube_profiles


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("hub", help="generate a center's JupyterHub configuration")
    commands = parser.add_subparsers(dest="hub_command", metavar="ACTION", required=True)
    kube = commands.add_parser(
        "kubespawner-profiles", help="KubeSpawner profile_list from the device inventory (untested on a live "
        "cluster; the Pods are checked against the Kubernetes schema offline)")
    kube.add_argument("--inventory", required=True, help="inventory YAML describing one node (docs/devices.md)")
    kube.add_argument("--image", default=kube_profiles.DEFAULT_IMAGE, help="the server image, for the Pods checked")
    kube.add_argument("--kubernetes-version", default=kube_profiles.KUBERNETES_VERSION,
                      help="schema version to check against (default %(default)s)")
    kube.add_argument("--npu-resource", default=kube_profiles.RESOURCES["npu"],
                      help="extended resource of the Ascend device plugin (default %(default)s)")
    kube.add_argument("--gpu-resource", default=kube_profiles.RESOURCES["gpu"],
                      help="extended resource of the NVIDIA device plugin (default %(default)s)")
    kube.add_argument("--pods", action="store_true", help="also print the Pod of each profile")
    kube.add_argument("--no-check", action="store_true", help="skip the schema check (no kubernetes-validate)")
    kube.add_argument("--json", action="store_true", help="one JSON object instead of YAML")
    kube.set_defaults(func=_kubespawner_profiles)


def _kubespawner_profiles(args: argparse.Namespace) -> int:
    devices = inventory.devices(args.inventory, discover=False)
    out = kube_profiles.rendered(devices, args.image, args.kubernetes_version,
                                 {"npu": args.npu_resource, "gpu": args.gpu_resource}, check=not args.no_check)
    if not args.pods:
        del out["pods"]
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    checked = "not checked" if args.no_check else f"checked against the Kubernetes {args.kubernetes_version} schema"
    print(f"# KubeSpawner profiles for the node in {args.inventory} (Pods {checked}; untested on a live cluster).\n"
          "# jupyterhub_config.py: c.KubeSpawner.profile_list = <profile_list>; zero-to-jupyterhub: "
          "singleuser.profileList")
    print(yaml.safe_dump(out, sort_keys=False, allow_unicode=True), end="")
    return 0
