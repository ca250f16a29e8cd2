#!/usr/bin/env python3
"""O2 Twin device agent for the Raspberry Pi: speaks the HIL serial protocol (docs/serial-protocol.md) to the host,
drives the compressor, valves and alarm and reads the sensors (docs/deployment.md), and keeps its own fail-safe:
no valid command within the command timeout -> compressor off, beds vented, alarm on.

    python3 scripts/pi_agent.py --port /dev/serial0 --baud 115200        # the real concentrator
    python3 scripts/pi_agent.py --hardware virtual                        # plant FMUs on a pseudo-terminal
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from orchestrator.cli.interrupt import ctrl_c_deferred

    with ctrl_c_deferred() as pressed:  # the agent's imports take a moment on a Pi
        from orchestrator.errors import O2TwinError
        from orchestrator.hil.device.agent_cli import add_agent_arguments, run_agent
        from orchestrator.logging_setup import configure_logging
    if pressed:  # Ctrl-C meanwhile is no error worth a traceback
        print("pi_agent: interrupted", file=sys.stderr)
        return 130
    parser = argparse.ArgumentParser(prog="pi_agent.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_agent_arguments(parser, default_hardware="pi")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    args = parser.parse_args(argv)
    configure_logging(args.verbose, False)
    try:
        return run_agent(args)
    except O2TwinError as err:
        print(f"pi_agent: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
