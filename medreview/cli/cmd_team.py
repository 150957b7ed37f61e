"""``medreview team add-rater|add-lead|add-judge|remove-rater|list URL …``: logins on a
PostgreSQL project (docs/TEAM.md, "Roles and row-level security"); ``medreview team pool
PROJECT``: the pool's ratings per output and the lease length (docs/TEAM.md, "Leases")."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from medreview.cli.common import project_arg

if TYPE_CHECKING:  # the services (SQLAlchemy behind them) load only when a verb runs
    from medreview.services.team import Credentials

SEND = {
    "rater": "Send this to the rater",
    "lead": "Send this to the new lead",
    "judge": "Keep this for the judge runs",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("team", help="logins for raters and leads on a PostgreSQL project")
    verbs = p.add_subparsers(dest="team_command", metavar="ACTION")
    verbs.required = True
    url_help = "the project, postgresql://you@host:port/dbname (you: a lead or the DBA)"
    a = verbs.add_parser("add-rater", help="a login for a physician (created if new)")
    a.add_argument("url", help=url_help)
    a.add_argument("name", help="the physician's name as in the project")
    a.add_argument("--role", help="the login name (default: <database>_<name>)")
    for verb, what in (("add-lead", "a lead's login (reads and writes everything, adds raters)"),
                       ("add-judge", "a login for LLM-judge runs")):
        v = verbs.add_parser(verb, help=what)
        v.add_argument("url", help=url_help)
        v.add_argument("role", help="the login name (lower-case letters, digits, _)")
    r = verbs.add_parser("remove-rater", help="take a physician's login away (history stays)")
    r.add_argument("url", help=url_help)
    r.add_argument("name")
    lst = verbs.add_parser("list", help="every login of the project")
    lst.add_argument("url", help=url_help)
    pool = verbs.add_parser("pool", help="ratings needed per output and lease length: an "
                            "output assigned to more raters than needed goes to the first")
    pool.add_argument("project", type=project_arg, help="the project (folder or URL)")
    pool.add_argument("--needed", type=int, help="finished ratings needed per output")
    pool.add_argument("--no-pool", action="store_true",
                      help="every assigned rater grades every output (the default)")
    pool.add_argument("--lease-seconds", type=float,
                      help="how long an opened item stays held without renewal (default 120)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.services import team

    command = args.team_command
    if command == "add-rater":
        _print_credentials(team.add_rater(args.url, args.name, role=args.role))
    elif command == "add-lead":
        _print_credentials(team.add_lead(args.url, args.role))
    elif command == "add-judge":
        _print_credentials(team.add_judge(args.url, args.role))
    elif command == "pool":
        return _pool(args)
    elif command == "remove-rater":
        removed = team.remove_rater(args.url, args.name)
        kept = "dropped" if removed.dropped else "kept (it has rights elsewhere on the server)"
        print(f"{removed.rater} can no longer sign in to this project; login {removed.role} "
              f"{kept}; their judgments stay")
    else:
        for m in team.list_members(args.url):
            who = f"  {m.rater}" if m.rater else ""
            login = "" if m.can_login else "  (cannot log in)"
            print(f"{m.kind:<6} {m.role}{who}{login}")
    return 0


def _pool(args: argparse.Namespace) -> int:
    from medreview.errors import InputError
    from medreview.services import team
    from medreview.services.projects import open_project

    if args.needed is not None and args.no_pool:
        raise InputError("give --needed N or --no-pool, not both")
    with open_project(args.project) as project:
        rules = team.lease_settings(project)
        if args.needed is not None or args.no_pool or args.lease_seconds is not None:
            rules = team.set_lease_settings(
                project, seconds=args.lease_seconds,
                needed=None if args.no_pool else (args.needed if args.needed is not None
                                                  else rules.needed))
    pool = (f"{rules.needed} finished rating(s) per output, from whichever assigned raters "
            "get there first" if rules.needed is not None
            else "none: every assigned rater grades every output")
    print(f"pool: {pool}; an opened item is held for {rules.seconds:g} s without renewal")
    return 0


def _print_credentials(c: Credentials) -> None:
    who = f"{c.rater} ({c.kind})" if c.rater else c.kind
    print(f"Login {c.role} made for {who}.")
    print(f"{SEND[c.kind]} (the password over another channel, e.g. by phone; it is shown "
          "only now):")
    print(f"  project:  {c.url}")
    print(f"  password: {c.password}")
    print("They store the password once, in the system keyring:")
    print(f"  keyring set {c.keyring_service} {c.keyring_user}")
    print("or as a line of ~/.pgpass (chmod 600), with the password in place of <password>:")
    print(f"  {c.pgpass_line('<password>')}")
