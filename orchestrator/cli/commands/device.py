"""Serve the HIL device agent: `o2twin device --virtual` runs the plant FMUs in real time behind a
pseudo-terminal and prints the port to give to `o2twin run --plant serial://PORT`; on a Raspberry Pi,
`o2twin device --port /dev/serial0` drives the real concentrator (scripts/pi_agent.py does the same)."""

from __future__ import annotations

import argparse

from orchestrator.hil.device.agent_cli import add_agent_arguments, run_agent

NAME = "device"
HELP = "serve the hardware-in-the-loop device agent (--virtual: plant FMUs on a pseudo-terminal)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_agent_arguments(parser, default_hardware="virtual")


def run(args: argparse.Namespace) -> int:
    return run_agent(args)
