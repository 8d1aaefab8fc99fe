"""The numbers and plots of ``center_sim``: utilisation, fairness, queue waits, refusals, latency.

Definitions (also printed under the table, so a reader of the output needs no source):

- **offered load** at an instant: devices wanted by holders who are working, waiting in the queue,
  or about to restart after their kernel died; requests the quota refused are not offered load;
- **utilisation of offered load**: devices held by *working* kernels / min(NPUs, offered load),
  summed over the samples; idle kernels not yet swept and dead kernels not yet reclaimed count as
  waste, not use. "Saturated" samples are those where offered load >= NPUs;
- **Jain fairness index** over holders of x = device time received / device time wanted, the wanted
  time capped at the holder's device-hour quota (what the policy entitles them to), x capped at 1;
  J = (sum x)^2 / (n sum x^2), 1 when everyone gets the same share of their demand.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from center_sim_demand import DAY
from center_sim_records import Stats


def percentile(values: list[float], q: float) -> float:
    """The value at quantile ``q`` (nearest rank), 0.0 for no values; the same rule as lease_latency."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def jain(values: list[float]) -> float:
    """Jain's fairness index; 1.0 for no or all-zero values (nobody was treated differently)."""
    total, squares = sum(values), sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 1.0


def summarize(stats: Stats, npus: int, caps: dict[str, float | None]) -> dict[str, Any]:
    """The figures of one run; ``caps`` maps a holder to its device-hour quota in seconds (None: none)."""
    offered = [(held, useful, min(npus, demand)) for _, demand, held, useful, _ in stats.samples if demand]
    saturated = [(held, useful) for _, demand, held, useful, _ in stats.samples if demand >= npus]
    shares, raw = [], []
    by_kind: dict[str, list[float]] = {"students": [], "teams": []}
    for holder, wanted in stats.demanded.items():
        got = stats.received.get(holder, 0.0)
        cap = caps.get(holder)
        raw.append(min(1.0, got / wanted))
        shares.append(min(1.0, got / min(wanted, cap) if cap else got / wanted))
        by_kind["teams" if holder.startswith("team") else "students"].append(shares[-1])
    reqs = stats.requests
    outcomes = Counter(r.outcome for r in reqs)
    waits = [r.wait for r in reqs if r.wait is not None]
    queued_waits = [r.wait for r in reqs if r.outcome == "queued_granted" and r.wait is not None]
    latency = {name: {"n": len(v), "p50_ms": statistics.median(v) * 1e3, "p99_ms": percentile(v, 0.99) * 1e3}
               for name, v in sorted(stats.latency.items())}
    return {
        "utilisation": sum(u for _, u, _ in offered) / max(1, sum(c for _, _, c in offered)),
        "held_of_offered": sum(min(h, c) for h, _, c in offered) / max(1, sum(c for _, _, c in offered)),
        "saturated_fraction": len(saturated) / max(1, len(stats.samples)),
        "saturated_useful": sum(u for _, u in saturated) / (npus * len(saturated)) if saturated else None,
        "saturated_held": sum(h for h, _ in saturated) / (npus * len(saturated)) if saturated else None,
        "mean_held": sum(h for _, _, h, _, _ in stats.samples) / (npus * max(1, len(stats.samples))),
        "jain": jain(shares), "jain_uncapped": jain(raw), "holders": len(shares),
        "mean_share": {kind: sum(v) / len(v) if v else None for kind, v in by_kind.items()},
        "requests": len(reqs), "outcomes": dict(outcomes),
        "wait_p50_s": percentile(waits, 0.5), "wait_p99_s": percentile(waits, 0.99),
        "queued_wait_p50_s": percentile(queued_waits, 0.5), "queued_wait_p99_s": percentile(queued_waits, 0.99),
        "refusals": dict(stats.refusals), "reclaims": dict(stats.reclaims), "latency": latency,
        "double_grants": stats.double_grants, "out_of_order": stats.out_of_order, "checks": stats.checks,
    }


def _weekdays(ax: Any, days: float) -> None:
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ticks = [d + 0.5 for d in range(int(days + 0.999))]
    ax.set_xticks(ticks, [names[d % 7] for d in range(len(ticks))])
    ax.set_xticks(range(int(days) + 1), minor=True)
    ax.grid(True, which="minor", axis="x", alpha=0.4)
    ax.set_xlim(0, days)


def plot_utilisation(stats: Stats, npus: int, days: float, path: Path, title: str) -> None:
    """Offered load, held and working devices over the week; below, utilisation of offered load."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s[0] / DAY for s in stats.samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True, height_ratios=[3, 1.2],
                                      constrained_layout=True)
    top.fill_between(t, 0, 1, where=[s[1] >= npus for s in stats.samples], step="post", color="#dddddd",
                     transform=top.get_xaxis_transform(), label="saturated (offered >= NPUs)")
    top.fill_between(t, [s[1] for s in stats.samples], step="post", color="#f4c7a1", label="offered load")
    top.step(t, [s[2] for s in stats.samples], where="post", color="#1f5fa8", lw=1.0, label="devices leased")
    top.step(t, [s[3] for s in stats.samples], where="post", color="#2a9d3a", lw=0.8,
             label="leased by working kernels")
    top.axhline(npus, color="black", ls="--", lw=0.8, label=f"{npus} NPUs")
    top.set_ylabel("NPUs")
    top.set_title(title, fontsize=10)
    top.legend(loc="upper left", fontsize=8, ncol=5)
    top.set_ylim(0, max(max((s[1] for s in stats.samples), default=npus), npus) * 1.12)
    ratio = [s[3] / min(npus, s[1]) if s[1] else float("nan") for s in stats.samples]
    bottom.step(t, ratio, where="post", color="#2a9d3a", lw=0.8)
    bottom.axhline(0.95, color="#c0392b", ls=":", lw=0.9, label="goal 95 %")
    bottom.set_ylim(0.5, 1.02)
    bottom.set_ylabel("use / offered")
    bottom.legend(loc="lower left", fontsize=8)
    _weekdays(bottom, days)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_waits(stats: Stats, path: Path, title: str) -> None:
    """Distribution (ECDF, log time) of queue waits of requests that queued and were then granted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    everyone = [r.wait / 60 for r in stats.requests if r.outcome == "queued_granted" and r.wait]
    for kind, color in (("class", "#1f5fa8"), ("homework", "#e07b39"), ("hackathon", "#7b3fa0")):
        waits = sorted(r.wait / 60 for r in stats.requests
                       if r.outcome == "queued_granted" and r.wait and r.task.kind == kind)
        if waits:
            ax.step(waits, [(i + 1) / len(waits) for i in range(len(waits))], where="post", color=color,
                    label=f"{kind} ({len(waits)} queued, then granted)")
    for q, style in ((0.5, "--"), (0.99, ":")):
        value = percentile(everyone, q)
        if value:
            ax.axvline(value, color="grey", ls=style, lw=0.9, label=f"all: p{int(q * 100)} {value:.1f} min")
    immediate = sum(1 for r in stats.requests if r.outcome == "granted")
    refused = sum(1 for r in stats.requests if r.outcome == "refused")
    ax.set_xscale("log")
    ax.set_xlabel("queue wait (minutes, log scale)")
    ax.set_ylabel("fraction of queued requests")
    ax.set_title(f"{title}\n{immediate} granted at once, {len(everyone)} after queueing, {refused} refused or "
                 "gave up", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=90)
    plt.close(fig)
