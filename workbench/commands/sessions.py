"""``workbench sessions``, ``workbench usage`` and ``workbench devices``: leases for admins and scripts.

The ``--json`` output is a stable contract: exactly one JSON object on stdout; a refused acquire
exits 3 with ``{"error": ..., "queue_position": N}``.
"""

from __future__ import annotations

import argparse

from workbench.commands import context
from workbench.devices.leases import LeaseManager, Request
from workbench.devices.policy import LeaseRefused

CLI_TTL_S = 3600.0


def manager() -> LeaseManager:
    return LeaseManager.from_settings(context.store(), context.settings().effective_inventory)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sessions", help="acquire, release and list device leases")
    commands = parser.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)

    acquire = commands.add_parser("acquire", help="lease devices (exit 3 when refused)")
    acquire.add_argument("--holder", required=True, help="user or team name")
    acquire.add_argument("--request", required=True, help="e.g. npu:1, gpu:1, cpu:1")
    acquire.add_argument("--fallback", action="append", default=[], help="tried in order, e.g. cpu:1")
    acquire.add_argument("--course", help="course or event whose quota applies")
    acquire.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                         help="wait this long in the fair-share queue (default: do not queue)")
    acquire.add_argument("--ttl", type=float, default=CLI_TTL_S, metavar="SECONDS",
                         help="heartbeat deadline; renew with `sessions renew` (default 3600)")
    acquire.add_argument("--json", action="store_true", help="print one JSON object")
    acquire.set_defaults(func=_acquire)

    release = commands.add_parser("release", help="release a lease (idempotent)")
    release.add_argument("lease", type=int)
    release.add_argument("--json", action="store_true", help="print one JSON object")
    release.set_defaults(func=_release)

    renew = commands.add_parser("renew", help="heartbeat: push a lease's deadline out")
    renew.add_argument("lease", type=int)
    renew.add_argument("--json", action="store_true", help="print one JSON object")
    renew.set_defaults(func=_renew)

    listing = commands.add_parser("list", help="live and queued leases (--all: every lease)")
    listing.add_argument("--all", action="store_true", help="include ended and reclaimed leases")
    listing.add_argument("--holder", help="only this holder's leases")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=_list)

    usage = subparsers.add_parser("usage", help="device-seconds per holder and kind")
    usage.add_argument("--holder", help="only this holder")
    usage.add_argument("--json", action="store_true", help="print one JSON object")
    usage.set_defaults(func=_usage)

    devices = subparsers.add_parser("devices", help="the device inventory")
    device_commands = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    dlist = device_commands.add_parser("list", help="merged inventory and which lease holds what")
    dlist.add_argument("--json", action="store_true", help="print one JSON object")
    dlist.set_defaults(func=_devices)


def _public(lease: dict) -> dict:
    """The contract's fields, datetimes as ISO 8601 strings."""
    keep = ("lease", "holder", "course", "kind", "devices", "state", "deadline", "started", "ended",
            "reason", "queue_position", "backend", "backend_ref")
    return {k: (lease[k].isoformat() if hasattr(lease[k], "isoformat") else lease[k])
            for k in keep if k in lease}


def _acquire(args: argparse.Namespace) -> int:
    requests = [Request.parse(args.request), *(Request.parse(f) for f in args.fallback)]
    try:
        context.admin()
        lease = manager().acquire(args.holder, requests, course=args.course, wait=args.wait, ttl=args.ttl)
    except LeaseRefused as refused:
        if not args.json:
            raise
        context.print_json(refused.as_dict())
        return refused.exit_code
    if args.json:
        context.print_json(_public(lease))
    else:
        ids = ", ".join(f"{d['kind']}:{d['id']}" for d in lease["devices"])
        print(f"lease {lease['lease']} for {lease['holder']}: {ids} until {lease['deadline']:%H:%M:%S} UTC "
              "(renew with `workbench sessions renew`)")
    return 0


def _release(args: argparse.Namespace) -> int:
    lease = manager().release(args.lease, reason=f"released by {context.admin()} (workbench sessions release)")
    if args.json:
        context.print_json(_public(lease))
    else:
        print(f"lease {lease['lease']} is {lease['state']}")
    return 0


def _renew(args: argparse.Namespace) -> int:
    lease = manager().renew(args.lease)
    if args.json:
        context.print_json(_public(lease))
    else:
        print(f"lease {lease['lease']} is {lease['state']}, deadline {lease['deadline']}")
    return 0


def _list(args: argparse.Namespace) -> int:
    leases = [_public(x) for x in manager().list_leases(all=args.all, holder=args.holder)]
    if args.json:
        context.print_json({"sessions": leases})
        return 0
    if not leases:
        print("no sessions" if args.all else "no live or queued sessions (--all shows ended ones)")
    for x in leases:
        ids = ", ".join(f"{d['kind']}:{d['id']}" for d in x["devices"]) or f"{x['kind']} (waiting)"
        extra = f" #{x['queue_position']} in queue" if x.get("queue_position") else ""
        print(f"{x['lease']:>6} {x['state']:<9} {x['holder']:<20} {ids}{extra}")
    return 0


def _usage(args: argparse.Namespace) -> int:
    rows = manager().usage(args.holder)
    if args.json:
        context.print_json({"usage": rows})
        return 0
    for row in rows:
        print(f"{row['holder']:<20} {row['kind']:<4} {row['device_seconds'] / 3600:10.3f} h "
              f"({row['leases']} leases)")
    return 0


def _devices(args: argparse.Namespace) -> int:
    mgr = manager()
    mgr.sync()
    held = mgr.held()
    listed = [{**d.as_dict(), "id": d.ident, "lease": held.get((d.kind, d.ident))} for d in mgr.devices]
    for entry in listed:
        entry.pop("ident")
    if args.json:
        context.print_json({"devices": listed})
        return 0
    for d in listed:
        state = f"lease {d['lease']}" if d["lease"] else "free"
        print(f"{d['kind']}:{d['id']:<4} {d['model']:<20} {d['health']:<6} {state}")
    return 0
