"""Command-line front end of the device agent, shared by scripts/pi_agent.py and `o2twin device`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from orchestrator.errors import DeviceError
from orchestrator.hil.device.agent import Agent, serve_forever
from orchestrator.hil.device.hardware import BenchHardware, Hardware, PiHardware, VirtualPlantHardware, load_pi_wiring
from orchestrator.hil.link.description import DeviceDescription, load_description
from orchestrator.hil.link.ports import FdPort, SerialPort, TcpServerPort
from orchestrator.hil.link.realtime import set_realtime_priority
from orchestrator.hil.sim.virtual import open_pty

log = logging.getLogger(__name__)

HARDWARE = ("pi", "virtual", "bench")


def add_agent_arguments(parser: argparse.ArgumentParser, default_hardware: str = "pi") -> None:
    parser.add_argument(
        "--hardware", choices=HARDWARE, default=default_hardware,
        help="what the agent drives: 'pi' = GPIO/PWM/I2C of a Raspberry Pi (needs the 'pi' extra: gpiozero, "
             "smbus2); 'virtual' = the plant FMUs (compressor + PSA unit) running in real time; 'bench' = a "
             "link-test instrument whose sensors echo the commands (no physics) (default: %(default)s)")  # fmt: skip
    parser.add_argument(
        "--virtual", action="store_true",
        help="shortcut for --hardware virtual on a new pseudo-terminal: prints the port for the host to open")  # fmt: skip
    parser.add_argument(
        "--port", default=None,
        help="where to serve: a serial device (/dev/serial0, /dev/ttyAMA0, /dev/ttyUSB0), 'tcp:PORT' to listen "
             "for a host on socket://THIS-HOST:PORT, or omit it for a new pseudo-terminal (printed)")  # fmt: skip
    parser.add_argument("--baud", type=int, default=115200, help="baud rate of a serial --port (default: %(default)s)")
    parser.add_argument(
        "--link", type=Path, default=None,
        help="also create this symlink to the pseudo-terminal (a stable name for scripts, e.g. /tmp/o2twin-device)")  # fmt: skip
    parser.add_argument(
        "--description", type=Path, default=None,
        help="device description .toml (channels, units, safe values, fail-safe timeout); default: the bundled "
             "orchestrator/hil/link/devices/concentrator.toml. Host and device must use the same one")  # fmt: skip
    parser.add_argument(
        "--wiring", type=Path, default=None,
        help="pin and ADC map .toml for --hardware pi (keys as in docs/deployment.md); default: the documented build")  # fmt: skip
    parser.add_argument("--compressor-fmu", type=Path, default=None,
                        help="compressor FMU for --hardware virtual (default: export O2Twin.CoSim.Compressor)")  # fmt: skip
    parser.add_argument("--psa-fmu", type=Path, default=None,
                        help="PSA unit FMU for --hardware virtual (default: export O2Twin.CoSim.PSAUnit)")  # fmt: skip
    parser.add_argument("--parameter", action="append", default=[], metavar="PART.NAME=VALUE",
                        help="set a parameter of the virtual plant's FMUs, e.g. psa.T_ambient=303.15 (repeatable); "
                             "use the values of the scenario's replaced slaves to compare like with like")  # fmt: skip
    parser.add_argument("--plant-step", type=float, default=0.01,
                        help="communication step of the virtual plant, s (default: %(default)s)")  # fmt: skip
    parser.add_argument("--rt-priority", type=int, default=None, metavar="N",
                        help="run the agent with SCHED_FIFO real-time priority N (1..99; needs root or "
                             "CAP_SYS_NICE) so a busy system cannot delay samples or the fail-safe")  # fmt: skip
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: serve until Ctrl-C or SIGTERM)")  # fmt: skip


def build_hardware(kind: str, desc: DeviceDescription, args: argparse.Namespace) -> Hardware:
    if kind == "bench":
        return BenchHardware(desc)
    if kind == "pi":
        return PiHardware(desc, load_pi_wiring(args.wiring))
    from orchestrator.cosim.slaves.fmu import FmuCoSimSlave

    paths = {}
    given_paths = {"compressor": args.compressor_fmu, "psa": args.psa_fmu}
    for part in desc.parts:
        given = given_paths.get(part)
        if given is not None:
            paths[part] = given
            continue
        from orchestrator.export import export_model

        result = export_model(desc.parts[part])
        paths[part] = Path(getattr(result, "path", result))
    units = {part: FmuCoSimSlave(part, path) for part, path in paths.items()}
    return VirtualPlantHardware(desc, units, plant_step_s=args.plant_step,
                                parameters=parse_parameters(args.parameter, desc))  # fmt: skip


def parse_parameters(items: list[str], desc: DeviceDescription) -> dict[str, dict[str, float]]:
    """["psa.T_ambient=303.15", ...] -> {"psa": {"T_ambient": 303.15}}; DeviceError names a malformed item."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        part, dot, param = name.partition(".")
        if not sep or not dot or part not in desc.parts or not param:
            raise DeviceError(
                f"--parameter {item!r}: expected PART.NAME=VALUE with PART one of {', '.join(desc.parts)}"
            )
        try:
            out.setdefault(part, {})[param] = float(value)
        except ValueError:
            raise DeviceError(f"--parameter {item!r}: the value must be a number") from None
    return out


def run_agent(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Serve until Ctrl-C, SIGTERM or --duration; prints the port to stdout when it made a pseudo-terminal.

    Ctrl-C while starting (exporting or loading the plant FMUs can take a minute) ends with one line and exit code
    130; during serving it stops the agent, which leaves the actuators in the safe state (exit code 0).
    """
    out = out or sys.stdout
    kind = "virtual" if args.virtual else args.hardware
    try:
        desc = load_description(args.description)
        hw = build_hardware(kind, desc, args)
    except KeyboardInterrupt:
        log.error("interrupted while starting the device agent")
        return 130
    stop = threading.Event()
    if args.rt_priority:
        set_realtime_priority(args.rt_priority)
    timer = threading.Timer(args.duration, stop.set) if args.duration is not None else None
    if timer is not None:
        timer.daemon = True  # Ctrl-C must not wait for --duration to run out
        timer.start()
    old_handler = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            _serve(args, kind, hw, desc, stop, out)
    finally:
        if timer is not None:
            timer.cancel()
        signal.signal(signal.SIGTERM, old_handler)
        stop.set()
        hw.apply(desc.safe_values({}))
        hw.close()
    return 0


def _serve(args: argparse.Namespace, kind: str, hw: Hardware, desc: DeviceDescription, stop: threading.Event,
           out: TextIO) -> None:  # fmt: skip
    """Serve a new pseudo-terminal (no --port), a TCP port or a serial port until stop is set."""
    if args.port is None:
        master, slave, path = open_pty()
        if args.link is not None:
            with contextlib.suppress(FileNotFoundError):
                args.link.unlink()
            args.link.symlink_to(path)
        shown = args.link or path
        print(f"virtual device ({kind}) on {path}", file=out)
        print(f"run the host with:  o2twin run --plant serial://{shown}", file=out, flush=True)
        port = FdPort(master, path)
        try:
            Agent(port, hw, desc).serve(stop)
        finally:
            port.close()
            os.close(slave)
            if args.link is not None:
                with contextlib.suppress(FileNotFoundError):
                    args.link.unlink()
        return
    factory: Callable[[], Any]
    if args.port.startswith("tcp:"):
        tcp = TcpServerPort(int(args.port[4:]))
        print(f"device agent ({kind}) listening on tcp port {tcp.port}", file=out, flush=True)
        factory = lambda: tcp  # noqa: E731 - one listening socket, reused across host connections
    else:
        print(f"device agent ({kind}) on {args.port} at {args.baud} baud", file=out, flush=True)
        factory = lambda: SerialPort(args.port, args.baud)  # noqa: E731
    serve_forever(factory, hw, desc, stop)
