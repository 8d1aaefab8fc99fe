"""``workbench event``: register and check events, teams, submit, boards, finalize and exports.

Every command that writes the store (create, team, submit, finalize) is the store admin's
(``context.admin``), as for courses and grades: participants act through the REST API or
JupyterLab, where the server knows who they are; the admin acts for a participant with ``--user``.
``submit`` scores the submission in this process before returning (``--no-wait``: leave it queued
for a running server's scorer). ``--json`` prints one JSON object for scripts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from workbench.atomic import write_atomically
from workbench.commands import context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("event", help="hackathon events: create, check, teams, submit, board, finalize")
    commands = parser.add_subparsers(dest="event_command", metavar="ACTION", required=True)

    for name, func, text in (("create", _create, "validate an event directory and register it (again)"),
                             ("check", _check, "validate an event directory; every problem with file and line")):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("directory")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(func=func)
    listing = commands.add_parser("list", help="registered events")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    team = commands.add_parser("team", help="teams: create, join, leave, merge, list")
    actions = team.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    for name, args in (("create", ("team",)), ("join", ("team",)), ("leave", ()), ("merge", ("team", "into")),
                       ("list", ())):
        cmd = actions.add_parser(name)
        cmd.add_argument("event")
        for arg in args:
            cmd.add_argument(arg)
        if name == "create":
            cmd.add_argument("--name", default="", help="display name (default: the id)")
        if name in ("create", "join", "leave"):
            cmd.add_argument("--user", help="the participant to act for (default: you)")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(func=_team, action=name)

    submit = commands.add_parser("submit", help="submit a predictions CSV or a notebook for a team")
    submit.add_argument("event")
    submit.add_argument("file")
    submit.add_argument("--kind", choices=("predictions", "notebook"),
                        help="default: notebook for .ipynb, else predictions")
    submit.add_argument("--user", help="the submitting member (default: you)")
    submit.add_argument("--no-wait", action="store_true", help="leave it queued for the server's scorer")
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(func=_submit)

    score = commands.add_parser("score", help="queue due phase migrations and score what is queued, here "
                                              "(for when no server runs)")
    score.add_argument("event")
    score.add_argument("--json", action="store_true")
    score.set_defaults(func=_score)

    subs = commands.add_parser("submissions", help="every submission with status and reason")
    subs.add_argument("event")
    subs.add_argument("--team")
    subs.add_argument("--json", action="store_true")
    subs.set_defaults(func=_submissions)

    board = commands.add_parser("board", help="the public board (or --private after finalize)")
    board.add_argument("event")
    board.add_argument("--phase", help="default: the phase open now (the last one after the window)")
    board.add_argument("--private", action="store_true")
    board.add_argument("--json", action="store_true")
    board.set_defaults(func=_board)

    finalize = commands.add_parser("finalize", help="after the window: final entries and the private board")
    finalize.add_argument("event")
    finalize.add_argument("--json", action="store_true")
    finalize.set_defaults(func=_finalize)

    export = commands.add_parser("export", help="write <event>-board.csv (after finalize) and <event>-submissions.csv")
    export.add_argument("event")
    export.add_argument("--out", required=True, help="directory to write into")
    export.set_defaults(func=_export)


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _create(args: argparse.Namespace) -> int:
    from workbench.hackathon import catalog
    from workbench.hackathon.check import check_event

    context.admin()
    directory = Path(args.directory).resolve()
    check_event(directory)  # the data too: labels, ids, starter, baselines; every problem at once
    summary = catalog.register(context.store(), catalog.load(directory))
    if args.json:
        context.print_json(summary)
    else:
        print(f"event '{summary['id']}' registered: {summary['title']} ({summary['opens']} to {summary['closes']}, "
              f"{len(summary['phases'])} phase(s), metric {summary['metric']})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from workbench.hackathon.check import check_event

    lines = check_event(Path(args.directory).resolve())
    if args.json:
        context.print_json({"ok": True, "summary": lines})
    else:
        print("\n".join(lines))
    return 0


def _list(args: argparse.Namespace) -> int:
    from workbench.hackathon import catalog

    found = catalog.events(context.store())
    if args.json:
        context.print_json({"events": found})
    for ev in [] if args.json else found:
        if "error" in ev:
            print(f"{ev['id']:20} {ev['title']}  error: {ev['error']}")
            continue
        done = "  finalized" if ev["finalized"] else ""
        print(f"{ev['id']:20} {ev['title']}  ({ev['opens']} to {ev['closes']}){done}")
    return 0


def _team(args: argparse.Namespace) -> int:
    from workbench.hackathon import catalog, teams
    from workbench.store.models import utcnow

    store = context.store()
    event = catalog.event(store, args.event)
    if args.action == "list":
        found: Any = {"teams": teams.teams(store, event.id)}
    else:
        context.admin()
        user = getattr(args, "user", None) or _me()
        if args.action == "create":
            found = teams.create(store, event, user, args.team, args.name)
        elif args.action == "join":
            found = teams.join(store, event, user, args.team)
        elif args.action == "leave":
            found = teams.leave(store, event, user)
        else:
            found = teams.merge(store, event, _me(), args.team, args.into, utcnow(), organiser=True)
    if args.json:
        context.print_json(found)
    else:
        for team in found.get("teams", [found]):
            print(f"{team['id']:20} {len(team['members'])} member(s): {', '.join(team['members']) or '-'}; "
                  f"{team['submissions']} counted submission(s)")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from workbench.errors import SubmissionRefused
    from workbench.hackathon import catalog, scoring_runs, submissions, teams
    from workbench.store.models import utcnow

    context.admin()
    store, path = context.store(), Path(args.file)
    event = catalog.event(store, args.event)
    user = args.user or _me()
    team = teams.team_of(store, event.id, user)
    if team is None:
        raise SubmissionRefused(f"'{user}' is in no team of event '{event.id}'; `workbench event team create` or join")
    kind = args.kind or ("notebook" if path.suffix == ".ipynb" else "predictions")
    sub = submissions.accept(store, event, team, user, kind, path.read_bytes(), utcnow(),
                             Path(context.settings().data_dir))
    if not args.no_wait:
        claimed = scoring_runs.claim(store, sub["id"])
        if claimed is not None:
            scoring_runs.score(store, event, claimed, context.settings().effective_lab_python,
                               context.settings().effective_inventory)
        sub = submissions.get(store, event.id, sub["id"])
    if args.json:
        context.print_json(sub)
    else:
        score = f", public score {sub['public_score']:g}" if sub["public_score"] is not None else ""
        reason = f": {sub['reason']}" if sub["reason"] else ""
        print(f"submission {sub['id']} of team '{team}' ({kind}, phase {sub['phase']}): {sub['status']}{score}{reason}")
    return 0 if sub["status"] != "failed" else 1


def _score(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from workbench.hackathon import catalog, scoring_runs
    from workbench.store import events_models as e
    from workbench.store.models import utcnow

    context.admin()
    store = context.store()
    event = catalog.event(store, args.event)
    migrated = scoring_runs.migrate(store, event, utcnow())
    with store.session() as s:
        queued = list(s.scalars(select(e.EventSubmission.id).where(
            e.EventSubmission.event_id == event.id, e.EventSubmission.status == "queued")
            .order_by(e.EventSubmission.id)))
    done = []
    for sub_id in queued:
        claimed = scoring_runs.claim(store, sub_id)
        if claimed is not None:  # else a running server took it first
            done.append(scoring_runs.score(store, event, claimed, context.settings().effective_lab_python,
                                           context.settings().effective_inventory))
    if args.json:
        context.print_json({"migrated": migrated, "scored": done})
    else:
        print(f"{migrated} submission(s) migrated into a new phase; {len(done)} scored here")
    return 0


def _submissions(args: argparse.Namespace) -> int:
    from workbench.hackathon import catalog, submissions

    store = context.store()
    found = submissions.listing(store, catalog.event(store, args.event).id, args.team)
    if args.json:
        context.print_json({"submissions": found})
    for sub in [] if args.json else found:
        score = "" if sub["public_score"] is None else f"{sub['public_score']:.5g}"
        print(f"{sub['id']:6} {sub['team']:16} {sub['kind']:11} {sub['phase']:10} {sub['status']:8} {score:>8} "
              f"{sub['reason']}")
    return 0


def _print_board(found: dict[str, Any], private: bool) -> None:
    print(f"{found['event']} / {found['phase']} ({'private' if private else 'public'} board, {found['metric']})")
    for row in found["rows"]:
        if "received" in row:
            print(f"   {row['team']:20} received {row['received']}")
            continue
        place = "base" if row["baseline"] else f"{row['rank']:4}"
        shake = f"  {row['shake_up']:+d}" if private and row.get("shake_up") is not None else ""
        print(f"{place} {row['name']:20} {row['score']:.5g}{shake}")


def _board(args: argparse.Namespace) -> int:
    from workbench.hackathon import board, catalog

    store = context.store()
    event = catalog.event(store, args.event)
    found = board.private_board(store, event) if args.private else \
        board.public_board(store, event, args.phase, organiser=True)
    if args.json:
        context.print_json(found)
    else:
        _print_board(found, args.private)
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from workbench.hackathon import board, catalog
    from workbench.store.models import utcnow

    context.admin()
    store = context.store()
    found = board.finalize(store, catalog.event(store, args.event), utcnow())
    if args.json:
        context.print_json(found)
    else:
        _print_board(found, True)
    return 0


def _export(args: argparse.Namespace) -> int:
    from workbench.hackathon import catalog, export

    store = context.store()
    event = catalog.event(store, args.event)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / f"{event.id}-submissions.csv"]
    write_atomically(written[0], export.records_csv(store, event).encode())
    if catalog.finalized(store, event.id):
        written.append(out / f"{event.id}-board.csv")
        write_atomically(written[1], export.final_board_csv(store, event).encode())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
