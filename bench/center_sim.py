"""A week of a center, simulated: 10,000 students in 50 courses and 1,000 NPUs on the real lease code.

Everything but time is real: ``LeaseManager`` (``try_acquire``, ``renew``, ``release``, ``sweep``)
decides on a real store (SQLite file, or a throwaway PostgreSQL cluster), with the center's quota
policy, fair-share queue and deadline/idle/session-length reclaim. The demand is synthetic (class
hours, deadline peaks, a hackathon weekend; ``center_sim_demand``) and the people in it wait, give up,
retry, forget kernels and lose them (``center_sim_engine``).

**The simulated clock** is injected explicitly: ``LeaseManager(..., clock=SimClock())``, a
constructor argument that defaults to ``workbench.store.models.utcnow``, so production code paths
are unchanged and no module global is patched. Patching ``workbench.store.models.utcnow`` would not
even work (``leases.py`` imports the function by name), and patching ``leases.utcnow`` would change
every ``LeaseManager`` in the process behind its back; the argument keeps the substitution visible
at the one place that makes the manager. ``try_acquire`` is the single decision that ``acquire``
repeats in its sleeping wait loop, made public because an event loop cannot sleep in it.

**What is simplified, and why** (the run prints it too):
- kernels renew every 0.9 x ``--heartbeat-s`` (default 1,800 s) instead of every 20 s with a 60 s
  deadline: a week of 1,000 busy NPUs would otherwise be ~18 million renewals. Same code path,
  fewer calls; a dead kernel's device is reclaimed up to 30 minutes late instead of 1 minute, so
  reclaim waste is overstated (its student restarts once it is reclaimed, as with a 60 s deadline
  they would by the time they noticed);
- idle reclaim is event-driven too: in a center each user's server renews its kernels' leases at
  the service with their activity every ``--sweep-s`` (15 s) and the service sweeps that lease
  (``RenewHandler``); the engine makes that call once, at the first tick after the idle limit,
  since earlier ones cannot reclaim anything (their cost is the renew row's);
- a queued holder retries one second after devices are freed (event-driven) instead of polling
  every <= 1 s; the order is the store's fair-share key, and the decision judges it again;
- one course per student, NPUs only (no CPU fallback: those sessions would leave the NPU queue);
  per-course deadlines and timetables are synthetic, the same every run for a given ``--seed``.

Run: ``.venv/bin/python bench/center_sim.py [--scale 0.1] [--plots docs/img] [--latency]``. On the
shared 2-core VM of docs/benchmarks.md the full-size week takes ~10 minutes (most of it in lease
decisions made while a queue of hundreds waits: each compares fair-share keys with every queued
request), the 1/10 one under a minute, ``--latency`` alone about a minute and a half.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the center_sim_* helpers beside this file

from center_sim_demand import DAY, generate
from center_sim_engine import Engine
from center_sim_latency import center_policy, measure, throwaway_postgres
from center_sim_records import SimClock, Stats
from center_sim_report import plot_utilisation, plot_waits, summarize

from workbench.devices.inventory import Device
from workbench.devices.leases import LeaseManager
from workbench.store import Store


@dataclass(frozen=True)
class Config:
    students: int = 10_000
    courses: int = 50
    npus: int = 1_000
    days: float = 7.0
    seed: int = 1
    heartbeat_s: float = 1800.0
    sweep_s: float = 15.0
    sample_s: float = 300.0
    db: str = "sqlite"
    check: bool = False
    progress: bool = False


def simulate(cfg: Config, url: str | None = None) -> tuple[dict[str, Any], Stats]:
    """Run one simulated week on a fresh store (``url``, or a temporary SQLite file); summary and raw stats."""
    with ExitStack() as stack:
        if url is None:
            url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/center.db"
        store = Store(url)
        store.upgrade()
        clock = SimClock()
        rules = center_policy(cfg.heartbeat_s)
        manager = LeaseManager(store, [Device("npu", str(i), "Ascend910B") for i in range(cfg.npus)], rules,
                               clock=clock)
        tasks = generate(cfg.students, cfg.courses, cfg.days, cfg.seed)
        started = time.perf_counter()
        stats = Engine(manager, clock, tasks, cfg.npus, cfg.days * DAY, cfg.sweep_s, cfg.sample_s,
                       check=cfg.check, seed=cfg.seed, progress=cfg.progress).run()
        wall = time.perf_counter() - started
        caps = {}
        for task in tasks:
            hours = rules.quota_for(task.course).device_hours
            caps[task.holder] = hours * 3600 if hours is not None else None
        summary = summarize(stats, cfg.npus, caps)
        summary.update(wall_s=wall, tasks=len(tasks), config=asdict(cfg))
        store.engine.dispose()
        return summary, stats


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _pct(x: float | None) -> str:
    return "n/a (never saturated)" if x is None else f"{100 * x:.1f} %"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else "**met**" if ok else "**not met**"


def print_summary(s: dict[str, Any], cfg: Config) -> None:
    out = s["outcomes"]
    refusals = s["refusals"]
    print(f"{cfg.students} students in {cfg.courses} courses, {cfg.npus} NPUs, {cfg.days:g} days, seed {cfg.seed}, "
          f"{cfg.db}; {s['tasks']} tasks, {s['requests']} requests; simulated in {s['wall_s']:.0f} s wall\n")
    sat = s["saturated_useful"]
    rows = [
        ("utilisation of offered load, whole week", _pct(s["utilisation"]), "", ""),
        (f"utilisation when saturated ({100 * s['saturated_fraction']:.1f} % of the week): working / NPUs",
         _pct(sat), ">= 95 %", _met(None if sat is None else sat >= 0.95)),
        ("  leased (incl. idle and dead kernels not yet reclaimed) / NPUs", _pct(s["saturated_held"]), "", ""),
        ("Jain fairness index, demand capped at quota", f"{s['jain']:.3f} ({s['holders']} holders)", ">= 0.9",
         _met(s["jain"] >= 0.9)),
        ("  Jain, uncapped demand", f"{s['jain_uncapped']:.3f}", "", ""),
        ("  mean share of (capped) demand met: students / hackathon teams",
         " / ".join(_pct(v) for v in s["mean_share"].values()), "", ""),
        ("fair-share retries refused although first in the engine's order", str(s["out_of_order"]), "0", ""),
        ("queue wait p50 / p99, every grant", f"{s['wait_p50_s'] / 60:.1f} / {s['wait_p99_s'] / 60:.1f} min", "", ""),
        ("queue wait p50 / p99, queued then granted",
         f"{s['queued_wait_p50_s'] / 60:.1f} / {s['queued_wait_p99_s'] / 60:.1f} min", "", ""),
        ("requests granted at once / after queueing / refused",
         f"{out.get('granted', 0)} / {out.get('queued_granted', 0)} / {out.get('refused', 0)}", "", ""),
        ("quota refusals: device-hours / concurrent devices",
         f"{refusals.get('device-hours', 0)} / {refusals.get('concurrent devices', 0)}", "", ""),
        ("  concurrent, resolved by shutting an idle kernel",
         str(refusals.get("concurrent (an idle kernel, shut down and retried)", 0)), "", ""),
        ("gave up waiting / still queued at the end",
         f"{refusals.get('gave up waiting', 0)} / {refusals.get('queued at the end of the week', 0)}", "", ""),
        ("reclaimed: idle / session length / heartbeat",
         " / ".join(str(s["reclaims"].get(k, 0)) for k in ("idle", "length", "heartbeat")), "", ""),
        ("devices granted twice (mirror and store checks)", f"{s['double_grants']} ({s['checks']} store checks)",
         "0", _met(s["double_grants"] == 0)),
    ]
    print("policy: students 10 NPU-hours a week, 1 device at once, 4 h sessions, released after 30 idle minutes; "
          "hackathon teams 4 devices at once, 12 h sessions; fair share with a 168 h half-life")
    print(f"simplified: kernels renew every {0.9 * cfg.heartbeat_s:g} s ({cfg.heartbeat_s:g} s deadline); the idle "
          f"sweep runs at the first {cfg.sweep_s:g} s tick after the limit; queued holders retry 1 s after devices "
          "are freed, in fair-share order; NPUs only, no CPU fallback\n")
    print("| measure | value | goal | |\n|---|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n| lease call (in the simulation, " + cfg.db + ") | calls | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|")
    for name, v in s["latency"].items():
        print(f"| {name} | {v['n']} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} |")


def print_latency(results: dict[str, dict[str, Any]]) -> None:
    first = next(iter(results.values()))
    print(f"\nDecision latency with {first['live']} live sessions ({first['ops']} rounds, alternating cases); "
          "goal: acquire p50 < 1 ms\n")
    print("| store | call | p50 (ms) | p99 (ms) | statements (median) | goal |\n|---|---|---:|---:|---:|---|")
    for store, r in results.items():
        for name, v in r["cases"].items():
            goal = _met(v["p50_ms"] < 1.0) if name.startswith("acquire") else ""
            print(f"| {store} | {name} | {v['p50_ms']:.3f} | {v['p99_ms']:.3f} | {v['statements']:g} | {goal} |")
    print(f"\nfill ({first['live'] + 1:,} acquires through LeaseManager): " +
          ", ".join(f"{k} {r['fill_s']:.0f} s" for k, r in results.items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="students and NPUs x this (0.1: 1,000 and 100)")
    parser.add_argument("--students", type=int, help="overrides 10,000 x scale")
    parser.add_argument("--npus", type=int, help="overrides 1,000 x scale")
    parser.add_argument("--courses", type=int, default=50)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--heartbeat-s", type=float, default=1800.0, help="lease deadline; kernels renew at 0.9x")
    parser.add_argument("--sweep-s", type=float, default=15.0, help="the servers' sweep tick")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--check", action="store_true", help="compare the mirror with the store at every sample")
    parser.add_argument("--progress", action="store_true", help="a line on stderr every 3 simulated hours")
    parser.add_argument("--plots", type=Path, help="write center-utilisation.png and center-waits.png here")
    parser.add_argument("--json", type=Path, help="write the summary as JSON here")
    parser.add_argument("--latency", action="store_true", help="also measure decisions at 10,000 live sessions")
    parser.add_argument("--latency-ops", type=int, default=1000)
    parser.add_argument("--latency-live", type=int, default=10_000, help="live sessions held while timing")
    parser.add_argument("--no-sim", action="store_true", help="only the latency measurement")
    parser.add_argument("--pg-synchronous-commit", nargs="+", choices=("off", "on"), default=["off"],
                        help="PostgreSQL's synchronous_commit for the latency run (both: 'off on'); off is "
                        "the counterpart of the SQLite store's synchronous=NORMAL, on is PostgreSQL's default")
    args = parser.parse_args(argv)
    cfg = Config(students=args.students or round(10_000 * args.scale), courses=args.courses,
                 npus=args.npus or round(1_000 * args.scale), days=args.days, seed=args.seed,
                 heartbeat_s=args.heartbeat_s, sweep_s=args.sweep_s, db=args.db, check=args.check,
                 progress=args.progress)
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}\n")
    result: dict[str, Any] = {}
    if not args.no_sim:
        with ExitStack() as stack:
            url = stack.enter_context(throwaway_postgres()) if cfg.db == "postgresql" else None
            summary, stats = simulate(cfg, url)
        print_summary(summary, cfg)
        result["simulation"] = summary
        if args.plots:
            args.plots.mkdir(parents=True, exist_ok=True)
            title = f"{cfg.students:,} students, {cfg.courses} courses, {cfg.npus:,} NPUs, one simulated week"
            plot_utilisation(stats, cfg.npus, cfg.days, args.plots / "center-utilisation.png", title)
            plot_waits(stats, args.plots / "center-waits.png", f"Queue waits: {title}")
    if args.latency:
        with tempfile.TemporaryDirectory() as tmp:
            latency = {"SQLite": measure(f"sqlite:///{tmp}/latency.db", args.latency_ops, args.latency_live)}
        for mode in args.pg_synchronous_commit:
            with throwaway_postgres(synchronous_commit=mode) as url:
                name = "PostgreSQL" if mode == "off" else f"PostgreSQL, synchronous_commit={mode}"
                latency[name] = measure(url, args.latency_ops, args.latency_live)
        print_latency(latency)
        result["latency"] = latency
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
