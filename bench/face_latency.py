"""Face pipeline latency per face (detect + align + embed), torch vs MindSpore, on CPU (GPU when present).

For each shipped photo: Haar detection, eye-levelled alignment, dlib ResNet descriptor; one warm-up,
then ``--repeats`` rounds over the six photos; prints median milliseconds per stage and framework,
and the embed ratio. Run: ``.venv/bin/python bench/face_latency.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench.labs.face import descriptor, detect  # noqa: E402

DATA = REPO / "curricula" / "ai-compute-foundations" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("FRAMEWORK_THREADS", "1")))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    photos = [detect.read_rgb(p) for p in sorted((DATA / "faces" / "test_images").glob("*.jpg"))]
    detector = detect.Detector()
    nets = {"torch": descriptor.load(DATA / "face_api", "torch", device),
            "mindspore": descriptor.load(DATA / "face_api", "mindspore")}
    rows = {}
    for name, net in nets.items():
        box = detector.detect(photos[0])[0]
        net.embed(detect.align(photos[0], box))  # warm-up
        stages: dict[str, list[float]] = {"detect": [], "align": [], "embed": []}
        for _ in range(args.repeats):
            for rgb in photos:
                t0 = time.perf_counter()
                box = detector.detect(rgb)[0]
                t1 = time.perf_counter()
                crop = detect.align(rgb, box)
                t2 = time.perf_counter()
                net.embed(crop)
                t3 = time.perf_counter()
                for stage, s in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    stages[stage].append(1e3 * s)
        rows[name] = {k: statistics.median(v) for k, v in stages.items()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch device {device}, "
          f"torch threads {torch.get_num_threads()}; {len(photos)} photos x {args.repeats} rounds")
    print("| framework | detect ms | align ms | embed ms | total ms |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['detect']:.1f} | {r['align']:.2f} | {r['embed']:.1f} | {sum(r.values()):.1f} |")
    print(f"embed MindSpore / torch = {rows['mindspore']['embed'] / rows['torch']['embed']:.1f}x")


if __name__ == "__main__":
    main()
