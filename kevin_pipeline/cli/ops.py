"""`kevin doctor`: operating a deployment — is every part it needs there and healthy?"""

from __future__ import annotations

import argparse
import json

from kevin_pipeline.cli.common import now_from

DOCTOR_HELP = """\
Checks the app database (reachable, schema at head), Dagster's storage (DAGSTER_HOME), the broker's
credentials (Alpaca: paper endpoint, one account read), the price source's newest bar, the kill
switch and the Dagster daemon's heartbeat; prints one line each with OK, WARN or FAIL. Changes
nothing (run `kevin db upgrade` to migrate). Secrets are never printed.

exit codes: 0 nothing FAILs (WARNs included), 1 at least one check FAILs, 2 bad arguments."""


def cmd_doctor(args: argparse.Namespace) -> int:
    from kevin_pipeline.doctor import FAIL, Check, exit_code, render, run_checks
    from kevin_pipeline.settings import SettingsError, load_settings

    now = now_from(args)
    try:
        checks = run_checks(load_settings(), now)
    except SettingsError as exc:  # its message names the variable, never a secret value
        checks = [Check("settings", FAIL, str(exc))]
    print(json.dumps([c.as_json() for c in checks], indent=2) if args.json else render(checks))
    return exit_code(checks)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("doctor", help="check the database, Dagster, broker, prices, kill switch and daemon "
                                      "(exit 1 when a check FAILs)",
                       description=DOCTOR_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--now", help="check as of this ISO time with offset (default: the real clock)")
    d.add_argument("--json", action="store_true", help="print a JSON list of {check, status, detail}")
    d.set_defaults(func=cmd_doctor)
