"""The `o2twin` command line: one sub-command per module in orchestrator.cli.commands.

Each command module defines ``NAME``, ``HELP`` (one line for `o2twin --help`), ``add_arguments(parser)`` and
``run(args) -> int``. User errors (O2TwinError) print one message and exit non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from orchestrator import __version__
from orchestrator.cli import commands
from orchestrator.cli.interrupt import ctrl_c_deferred
from orchestrator.errors import O2TwinError
from orchestrator.logging_setup import configure_logging

log = logging.getLogger(__name__)


def _command_modules() -> list:
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{commands.__name__}.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="o2twin",
        description="O2 Twin: digital twin of a medical oxygen concentrator (Modelica -> FMU -> co-simulation).",
    )
    parser.add_argument("--version", action="version", version=f"o2twin {__version__}")
    # -v/-q work before or after the sub-command; SUPPRESS keeps a sub-command's default from overriding the top's.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output (-vv debug)"
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="warnings and errors only, no progress bar",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=False, help="warnings and errors only, no progress bar"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__, parents=[common])
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    with ctrl_c_deferred() as pressed:
        parser = build_parser()  # imports every command module
    if pressed:  # a Ctrl-C while starting up is no error worth a traceback
        print("o2twin: interrupted", file=sys.stderr)
        return 130
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    if getattr(args, "_run", None) is None:
        # `o2twin` alone runs the default scenario, the product's main job.
        args = parser.parse_args([*argv, "run"])
    try:
        return int(args._run(args) or 0)
    except O2TwinError as err:
        log.error("%s", err)
        return err.exit_code
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM/SIGHUP during a run (orchestrator.results.run)
        log.error("%s; results recorded so far are on disk", err or "interrupted")
        return int(getattr(err, "exit_code", 130))


if __name__ == "__main__":
    sys.exit(main())
