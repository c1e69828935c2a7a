"""`kevin dash`: serving the dashboard (the processes that keep running)."""

from __future__ import annotations

import argparse

from kevin_pipeline.settings import load_settings


def cmd_dash(args: argparse.Namespace) -> int:
    from kevin_dash.app import serve

    settings = load_settings()
    serve(host=args.host or settings.dash_host, port=args.port or settings.dash_port)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("dash", help="serve the dashboard")
    d.add_argument("--host")
    d.add_argument("--port", type=int)
    d.set_defaults(func=cmd_dash)
