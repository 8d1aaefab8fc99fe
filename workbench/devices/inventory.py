"""What devices this workbench can hand out: discovered hardware merged with the admin's file.

Discovery asks the vendor tools, because they know what the kernel driver sees: ``npu-smi info``
(and ``npu-smi info -m`` for the logical ids that ``ASCEND_RT_VISIBLE_DEVICES`` takes), or else
``/dev/davinci[0-9]*``; ``nvidia-smi --query-gpu`` or else ``torch.cuda``. The admin file (YAML,
``WORKBENCH_INVENTORY`` or ``Workbench.inventory``) declares or carves devices: a kind listed there
is exactly what the file says (so an admin can keep NPU 7 for themselves), kinds not listed come
from discovery. CPU sessions are slots, one per core unless the file says otherwise.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError

KINDS = ("npu", "gpu", "cpu")
# Where a device is on this machine, unless the admin file says otherwise (``path:`` / ``control:``):
# its own character device, and the control nodes every process of its driver opens as well (the set
# the vendors' container runtimes pass in: Ascend Docker Runtime, nvidia-container-toolkit).
DEFAULT_PATHS = {"npu": "/dev/davinci{id}", "gpu": "/dev/nvidia{id}"}
CONTROL_NODES = {"npu": ("/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"),
                 "gpu": ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")}
PROBE_TIMEOUT_S = 10
_CACHE_S = 30.0
_cache: dict[str, tuple[float, list[Device]]] = {}


@dataclass(frozen=True)
class Device:
    """One leasable device; ``ident`` is the id the visibility variable takes (logical for NPUs).

    ``path`` and ``control`` say where it is on this machine (empty / None: the kind's default), so
    that a kernel can be given exactly these nodes and no others (``isolation.py``)."""

    kind: str
    ident: str
    model: str = ""
    memory_mb: int | None = None
    health: str = "OK"
    source: str = "discovered"
    path: str = ""
    control: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def nodes(self) -> dict[str, Any]:
        """``{"path": ..., "control": [...]}`` for an accelerator (what its kernel is given), ``{}`` for a CPU slot."""
        if self.kind not in DEFAULT_PATHS:
            return {}
        control = CONTROL_NODES[self.kind] if self.control is None else self.control
        return {"path": self.path or DEFAULT_PATHS[self.kind].format(id=self.ident), "control": list(control)}


def _memory_mb() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None


def _run(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


# --- Ascend -------------------------------------------------------------------------------------

def parse_npu_smi_info(text: str) -> list[dict[str, Any]]:
    """Chips from the ``npu-smi info`` table: NPU row (id, name, health), then chip rows (HBM)."""
    chips: list[dict[str, Any]] = []
    card: dict[str, Any] | None = None
    for line in text.splitlines():
        if "Process id" in line or "Process name" in line:
            break  # the process table below has the same shape; it names no new chips
        if not line.startswith("|") or line.startswith("+"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0]:
            continue
        head = cells[0].split()
        if not head or not head[0].isdigit():
            continue
        if len(head) >= 2 and not head[1].isdigit():  # "0     910B3": a card row
            card = {"npu": int(head[0]), "name": " ".join(head[1:]), "health": cells[1]}
        elif card is not None:  # "0" or "0  0": a chip row of the card above
            hbm = re.findall(r"(\d+)\s*/\s*(\d+)", cells[2])
            chips.append({
                "npu": card["npu"], "chip": int(head[0]), "name": card["name"],
                "health": card["health"], "memory_mb": int(hbm[-1][1]) if hbm else None,
            })
    return chips


def parse_npu_smi_mapping(text: str) -> dict[tuple[int, int], int]:
    """``npu-smi info -m``: (NPU ID, Chip ID) → Chip Logic ID; MCU rows ("-") are not devices."""
    mapping: dict[tuple[int, int], int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit() and parts[2].isdigit():
            mapping[(int(parts[0]), int(parts[1]))] = int(parts[2])
    return mapping


def discover_npus() -> list[Device]:
    info = _run(["npu-smi", "info"])
    if info is not None:
        chips = parse_npu_smi_info(info)
        mapping = parse_npu_smi_mapping(_run(["npu-smi", "info", "-m"]) or "")
        devices = []
        for index, chip in enumerate(chips):
            logical = mapping.get((chip["npu"], chip["chip"]), index)
            devices.append(Device("npu", str(logical), f"Ascend{chip['name']}", chip["memory_mb"],
                                  chip["health"], "npu-smi"))
        return sorted(devices, key=lambda d: int(d.ident))
    nodes = sorted(int(m.group(1)) for p in glob.glob("/dev/davinci[0-9]*")
                   if (m := re.search(r"davinci(\d+)$", p)))
    return [Device("npu", str(i), "Ascend", None, "OK", "/dev/davinci") for i in nodes]


# --- NVIDIA -------------------------------------------------------------------------------------

NVIDIA_PROC = "/proc/driver/nvidia/gpus"


def nvidia_node(bus_id: str, proc: str = NVIDIA_PROC) -> str:
    """The GPU's device file from its PCI address: ``/dev/nvidia<Device Minor>`` as the driver reports it in
    ``/proc/driver/nvidia/gpus/<bus>/information``, because the minor number is not always the
    ``nvidia-smi`` index; "" when the driver does not say."""
    domain, _, rest = bus_id.strip().lower().partition(":")
    try:
        text = (Path(proc) / f"{domain[-4:]}:{rest}" / "information").read_text()
    except (OSError, ValueError):
        return ""
    minor = re.search(r"^Device Minor:\s*(\d+)", text, re.MULTILINE)
    return f"/dev/nvidia{minor.group(1)}" if minor else ""


def parse_nvidia_smi(text: str, proc: str = NVIDIA_PROC) -> list[Device]:
    """``nvidia-smi --query-gpu=index,name,memory.total,pci.bus_id --format=csv,noheader,nounits``."""
    devices = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0].isdigit():
            memory = int(float(parts[2])) if re.fullmatch(r"[\d.]+", parts[2]) else None
            path = nvidia_node(parts[3], proc) if len(parts) >= 4 else ""
            devices.append(Device("gpu", parts[0], parts[1], memory, "OK", "nvidia-smi", path))
    return devices


def discover_gpus() -> list[Device]:
    text = _run(["nvidia-smi", "--query-gpu=index,name,memory.total,pci.bus_id", "--format=csv,noheader,nounits"])
    if text is not None:
        return parse_nvidia_smi(text)
    if not os.path.exists("/dev/nvidiactl"):
        return []  # no driver: importing torch (seconds) could not find a GPU anyway
    try:
        import torch
    except ImportError:
        return []
    return [Device("gpu", str(i), torch.cuda.get_device_name(i),
                   torch.cuda.get_device_properties(i).total_memory // (1024 * 1024), "OK", "torch.cuda")
            for i in range(torch.cuda.device_count())]


# --- the admin file and the merge ---------------------------------------------------------------

def load_file(path: str) -> dict[str, Any]:
    """The admin inventory file, parsed; an empty path means no file."""
    if not path:
        return {}
    file = Path(path).expanduser()
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"inventory file {file} does not exist; fix WORKBENCH_INVENTORY or "
                          "Workbench.inventory") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"inventory file {file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"inventory file {file}: the top level must be a mapping with 'devices:'")
    return data


def _declared(entries: Any, where: str) -> dict[str, list[Device]]:
    declared: dict[str, list[Device]] = {}
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'devices' must be a list like [{{kind: npu, ids: [0, 1]}}]")
    for number, entry in enumerate(entries, 1):
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if kind not in KINDS:
            raise ConfigError(f"{where}: devices entry {number} needs kind npu, gpu or cpu, got {kind!r}")
        if kind == "cpu":
            slots = entry.get("slots", entry.get("ids"))
            ids = [str(i) for i in range(slots)] if isinstance(slots, int) else [str(i) for i in slots or []]
        else:
            ids = [str(i) for i in entry.get("ids", [])]
            if not ids:
                raise ConfigError(f"{where}: devices entry {number} ({kind}) needs 'ids: [0, 1, ...]'")
        model = str(entry.get("model", "CPU slot" if kind == "cpu" else ""))
        memory = entry.get("memory_mb")
        paths, control = _node_keys(entry, kind, ids, f"{where}: devices entry {number} ({kind})")
        declared.setdefault(kind, []).extend(Device(kind, i, model, memory, "OK", "file", p, control)
                                             for i, p in zip(ids, paths, strict=True))
    return declared


def _node_keys(entry: dict[str, Any], kind: str, ids: list[str],
               where: str) -> tuple[list[str], tuple[str, ...] | None]:
    """An entry's device files: ``path`` (a pattern with ``{id}``, or one path per id) and ``control``."""
    path, control = entry.get("path", ""), entry.get("control")
    if kind == "cpu" and (path or control is not None):
        raise ConfigError(f"{where}: CPU slots have no device files; remove 'path' / 'control'")
    if isinstance(path, list):
        if len(path) != len(ids) or not all(isinstance(p, str) and p.startswith("/") for p in path):
            raise ConfigError(f"{where}: 'path' as a list needs one absolute path per id ({len(ids)})")
        paths = list(path)
    elif isinstance(path, str) and (not path or (path.startswith("/") and ("{id}" in path or len(ids) == 1))):
        paths = [path.format(id=i) for i in ids]
    else:
        raise ConfigError(f"{where}: 'path' must be an absolute pattern such as /dev/davinci{{id}}, or a list")
    if control is not None and (not isinstance(control, list)
                                or not all(isinstance(c, str) and c.startswith("/") for c in control)):
        raise ConfigError(f"{where}: 'control' must be a list of absolute paths, e.g. [/dev/davinci_manager]")
    return paths, None if control is None else tuple(control)


def devices(path: str = "", *, discover: bool | None = None) -> list[Device]:
    """The merged inventory (cached briefly, since probing runs vendor tools)."""
    data = load_file(path)
    discover = bool(data.get("discover", True)) if discover is None else discover
    key = f"{path}|{discover}|{os.environ.get('PATH', '')}"
    cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < _CACHE_S:
        return cached[1]
    declared = _declared(data.get("devices", []), path or "inventory")
    found: dict[str, list[Device]] = {"npu": [], "gpu": [], "cpu": []}
    if discover:
        found["npu"] = discover_npus() if "npu" not in declared else []
        found["gpu"] = discover_gpus() if "gpu" not in declared else []
    found["cpu"] = [Device("cpu", str(i), "CPU slot", None, "OK", "default")
                    for i in range(os.cpu_count() or 1)]
    merged = [d for kind in KINDS for d in declared.get(kind, found[kind])]
    _cache[key] = (time.monotonic(), merged)
    return merged


def summary(path: str | None = None) -> dict[str, Any]:
    """Counts per kind for ``GET health``; reads the configured file when no path is given."""
    if path is None:
        path = os.environ.get("WORKBENCH_INVENTORY", "")
    try:
        listed = devices(path)
    except ConfigError:
        listed = []
    return {
        "cpu": {"cores": os.cpu_count() or 1, "memory_mb": _memory_mb(),
                "slots": sum(d.kind == "cpu" for d in listed)},
        "gpu": sum(d.kind == "gpu" for d in listed),
        "npu": sum(d.kind == "npu" for d in listed),
    }
