"""Serve the dashboard (extra `.[dashboard]`): live runs with alarms and plots, hardware in the loop, finished runs,
compare and sweep views, in a browser at http://127.0.0.1:8501. Runs write to results/ under the directory the
command is started in, as `o2twin run` does. The page has no login: it binds 127.0.0.1 unless --host says
otherwise, and warns when it does. See docs/dashboard.md."""

from __future__ import annotations

import argparse
import os

NAME = "dashboard"
HELP = "serve the Streamlit dashboard (live runs, alarms, HIL, results, compare) on 127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from orchestrator.dashboard.server import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s, this machine only); another address exposes the "
        "dashboard, which has no login, to that network",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--single-port",
        action="store_true",
        help="serve the live view through the dashboard's port only (no live data server on a second port), for a "
        "proxy or tunnel that forwards one port; the page then reruns 2.5 times a second, which slows a watched "
        "run more (docs/dashboard.md). Without it the page switches to this mode by itself when the browser "
        "cannot reach the second port",
    )


def run(args: argparse.Namespace) -> int:
    from orchestrator.dashboard.server import SINGLE_PORT_ENV, check_installed, streamlit_command, warn_if_exposed

    check_installed()
    warn_if_exposed(args.host)
    if args.single_port:
        os.environ[SINGLE_PORT_ENV] = "1"  # read by the page in the Streamlit process this one becomes
    mode = ", live view through this port only" if args.single_port else ""
    print(f"O2 Twin dashboard on http://{args.host}:{args.port}{mode} (Ctrl-C stops it)", flush=True)
    command = streamlit_command(args.host, args.port)
    os.execv(command[0], command)  # Streamlit takes this process over: Ctrl-C and SIGTERM reach it directly
