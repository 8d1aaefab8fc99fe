"""Face pipeline latency per face (MTCNN detect + 5-point align + batched embed), torch vs MindSpore, on CPU.

The six shipped photos plus one with two faces side by side; one warm-up round, then ``--repeats``
rounds; per stage, milliseconds per face summed over the photos, median over rounds
(``workbench.labs.face.pipeline.stage_ms_per_face``, what the lab times too); then the same photos
with detection and embedding overlapped (``Pipeline.overlapped``: two threads on torch, two worker
processes pinned to a core each, each taking the next detection or embedding, when both stages are
MindSpore; three warm-up rounds, since each worker compiles its own graphs), wall time per face, and
the CPU time per face of every process taking part (this one and the workers), to show whether both
cores did the work.
Each framework's row runs MTCNN's networks on that framework (``Detector(folder, framework)``);
alignment and MTCNN's box arithmetic are OpenCV/NumPy either way; a third row is the earlier MindSpore
pipeline (MindSpore embedding, torch MTCNN), the peer for the change. Both frameworks
get the same number of intra-op threads (``FRAMEWORK_THREADS``, default 1 as in the labs: on a shared
2-core host a second intra-op thread waits on a busy core), so the ratio compares the frameworks, not
their thread pools. Also prints MindSpore's compiled graph count (none would mean op by op), and the
process CPU time per face of the sequential pipeline: on a shared machine wall times grow with other
people's load, CPU time much less, so it is the figure to compare across runs.
Run: ``.venv/bin/python bench/face_latency.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench.labs.face import descriptor, detect, pipeline  # noqa: E402

DATA = REPO / "curricula" / "ai-compute-foundations" / "data"
TORCH_MTCNN = "mindspore, torch MTCNN"  # the earlier MindSpore pipeline, for a ratio in the same run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import mindspore
    import torch
    from mindspore.graph import api as ms_api

    threads = int(os.environ.get("FRAMEWORK_THREADS", "1"))
    torch.set_num_threads(threads)
    mindspore.set_context(runtime_num_threads=threads)
    by_name = {p.stem: detect.read_rgb(p) for p in sorted((DATA / "faces" / "test_images").glob("*.jpg"))}
    group = np.hstack([by_name["obama"], by_name["biden"][100:100 + by_name["obama"].shape[0]]])  # two faces
    photos = [*by_name.values(), group]
    rows, overlapped, cpu, split, graphs = {}, {}, {}, {}, 0
    for name, detect_on, embed_on in (("torch", "torch", "torch"), ("mindspore", "mindspore", "mindspore"),
                                      (TORCH_MTCNN, "torch", "mindspore")):
        compiled_before = len(ms_api.ms_compile_cache)
        net = descriptor.load(DATA / "face_api", embed_on)
        run = pipeline.Pipeline(detect.Detector(DATA / "mtcnn", detect_on), net)
        rows[name] = pipeline.stage_ms_per_face(run, photos, args.repeats)
        overlapped[name] = pipeline.overlapped_ms_per_face(run, photos, args.repeats, warmups=3)
        split[name] = overlapped_cpu_ms_per_face(run, photos, args.repeats)
        run.close()
        cpu[name] = cpu_ms_per_face(run, photos, args.repeats)
        graphs += len(ms_api.ms_compile_cache) - compiled_before
    faces = sum(len(run.detector.detect(p)) for p in photos)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {threads} threads per framework, CPU; "
          f"{len(photos)} photos ({faces} faces) x {args.repeats} rounds; MindSpore graphs compiled: {graphs}")
    print("| framework | detect ms | align ms | embed ms | total ms per face | overlapped ms per face "
          "| CPU ms per face | overlapped CPU ms per face, by process |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in rows.items():
        by_process = ", ".join(f"{who} {ms:.1f}" for who, ms in split[name].items())
        print(f"| {name} | {r['detect']:.1f} | {r['align']:.2f} | {r['embed']:.1f} | {r['total']:.1f} "
              f"| {overlapped[name]:.1f} | {cpu[name]:.1f} | {by_process} |")
    print(f"embed MindSpore / torch = {rows['mindspore']['embed'] / rows['torch']['embed']:.2f}x; "
          f"detect MindSpore / torch = {rows['mindspore']['detect'] / rows['torch']['detect']:.2f}x")
    for peer in ("torch", TORCH_MTCNN):
        print(f"MindSpore pipeline / {peer}: overlapped {overlapped['mindspore'] / overlapped[peer]:.2f}x, "
              f"sequential {rows['mindspore']['total'] / rows[peer]['total']:.2f}x, "
              f"CPU {cpu['mindspore'] / cpu[peer]:.2f}x")


def overlapped_cpu_ms_per_face(run: pipeline.Pipeline, photos: list[np.ndarray], repeats: int) -> dict[str, float]:
    """CPU milliseconds per face of this process and each worker, all of them summed, medians over ``repeats``
    more overlapped rounds (a round in which a worker compiles a graph for a shape new to it is an outlier).

    Read from ``/proc/<pid>/stat`` (user + system ticks), so the workers' time counts, which this process's
    ``process_time`` cannot see.
    """
    run.overlapped(photos)  # workers started and warm
    pids = {"main": os.getpid(), **{f"worker {n}": pid for n, pid in enumerate(run.worker_pids())}}
    tick_ms = 1e3 / os.sysconf("SC_CLK_TCK")
    rounds: dict[str, list[float]] = {who: [] for who in [*pids, "all"]}
    for _ in range(repeats):
        before = {who: cpu_ticks(pid) for who, pid in pids.items()}
        faces = sum(len(v) for v in run.overlapped(photos))
        spent = {who: (cpu_ticks(pid) - before[who]) * tick_ms / max(faces, 1) for who, pid in pids.items()}
        for who, ms in {**spent, "all": sum(spent.values())}.items():
            rounds[who].append(ms)
    return {who: statistics.median(values) for who, values in rounds.items()}


def cpu_ticks(pid: int) -> int:
    """User + system CPU clock ticks of process ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_ms_per_face(run: pipeline.Pipeline, photos: list[np.ndarray], repeats: int) -> float:
    """Median over rounds of this process's CPU milliseconds (all threads) per face, sequential pipeline."""
    rounds = []
    for _ in range(repeats):
        start, faces = time.process_time(), 0
        for rgb in photos:
            faces += len(run(rgb))
        rounds.append(1e3 * (time.process_time() - start) / max(faces, 1))
    return statistics.median(rounds)


if __name__ == "__main__":
    main()
