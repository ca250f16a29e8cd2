#!/usr/bin/env python3
"""Benchmark the HIL link: a 100 Hz control loop against the virtual device over pseudo-terminals.

For each configuration the host runs a SerialDevice loop paced to the wall clock (100 Hz commands, 100 Hz
samples) for --seconds and reports: step jitter (how late each paced step wakes, p50/p99/max), deadline misses,
heartbeat round-trip time (host -> device -> host, p50/p99) and command latency (COMMAND sent -> first SAMPLE
acknowledging it; includes waiting for the device's next sample instant, up to one sample period).
The device side (bench agent) runs in its own process, as it would on its own hardware. A pty moves bytes as fast
as the kernel allows whatever the baud rate, so every run goes through orchestrator.hil.sim.faultlink (in the device
process, no faults) with baud-rate emulation (10 bits per byte) for 115200 and 1 Mbaud, unthrottled for "pty".

    .venv/bin/python scripts/bench_hil.py                 # print the table
    .venv/bin/python scripts/bench_hil.py --write-docs    # also put it into docs/hil.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.link.description import load_description
from orchestrator.hil.link.realtime import set_realtime_priority
from orchestrator.hil.sim.faultlink import FaultConfig, FaultLink
from orchestrator.hil.sim.virtual import VirtualDevice

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "hil.md"
START, END = "<!-- bench_hil:start -->", "<!-- bench_hil:end -->"


def run_loop(url: str, seconds: float, rate_hz: int, rt_priority: int | None) -> dict:
    options = {"sample_rate_hz": rate_hz, "heartbeat_s": 0.05, "stale_after_s": 0.1, "rt_priority": rt_priority}
    dev = SerialDevice(url, options=options)
    comp, psa = dev.parts["compressor"], dev.parts["psa"]
    comp.setup(0.0)
    psa.setup(0.0)
    h = 1.0 / rate_hz
    steps = round(seconds * rate_hz)
    for k in range(steps):
        comp.set_inputs({"duty": (k % 100) / 100.0})
        psa.set_inputs({"cmd_feed_A": float((k // 50) % 2)})
        comp.step(k * h, h)
        psa.step(k * h, h)
        psa.get_outputs()
    comp.terminate()
    return dev.metrics()


def serve_device(baud: int, link_path: Path, rt_priority: int) -> None:
    """The device side in its own process (as on real hardware): bench agent behind a baud-emulating link."""
    if rt_priority:  # threads inherit the policy of the thread that creates them
        set_realtime_priority(rt_priority)
    desc = load_description()
    hw = BenchHardware(desc)
    link = FaultLink(FaultConfig(baud=baud or None), seed=0, link_dir=link_path.parent)
    vd = VirtualDevice(hw, desc, port=link.device_port).start()
    link.start()
    link_path.unlink(missing_ok=True)
    link_path.symlink_to(link.host_path)
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        vd.stop()
        link.close()
        vd.close()
        link_path.unlink(missing_ok=True)


def bench(label: str, baud: int | None, seconds: float, rate_hz: int, rt_priority: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        link_path = Path(tmp) / "device"
        cmd = [sys.executable, __file__, "--serve-device", str(baud or 0), str(link_path), str(rt_priority or 0)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the device process did not start")
            m = run_loop(f"serial://{link_path}", seconds, rate_hz, rt_priority)
        finally:
            proc.stdin.close()
            proc.wait(timeout=10)
    rt = m["realtime"]
    return {
        "link": label + (f", SCHED_FIFO {rt_priority}" if rt_priority else ""),
        "steps": rt["steps"],
        "jitter_p50_ms": rt["jitter_p50_ms"],
        "jitter_p99_ms": rt["jitter_p99_ms"],
        "jitter_max_ms": rt["jitter_max_ms"],
        "deadline_misses": rt["deadline_misses"],
        "rtt_p50_ms": m["heartbeat_rtt_p50_ms"],
        "rtt_p99_ms": m["heartbeat_rtt_p99_ms"],
        "cmd_latency_p50_ms": m["command_latency_p50_ms"],
        "cmd_latency_p99_ms": m["command_latency_p99_ms"],
        "samples": m["samples"],
        "dropped": m["dropped"],
        "bad_crc": m["bad_crc"],
    }


def table(rows: list[dict], seconds: float, rate_hz: int) -> str:
    head = (f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {platform.machine()} "
            f"({os.cpu_count()} CPUs shared with other jobs), Python {platform.python_version()}: "
            f"{rate_hz} Hz loop for {seconds:g} s per row (`scripts/bench_hil.py`).")  # fmt: skip
    lines = [head, "",
             "| link | steps | jitter p50 / p99 / max (ms) | deadline misses | heartbeat RTT p50 / p99 (ms) "
             "| command latency p50 / p99 (ms) | samples | dropped | bad CRC |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['link']} | {r['steps']} | {r['jitter_p50_ms']:.3f} / {r['jitter_p99_ms']:.3f} / "
            f"{r['jitter_max_ms']:.2f} | {r['deadline_misses']} | {r['rtt_p50_ms']:.2f} / {r['rtt_p99_ms']:.2f} | "
            f"{r['cmd_latency_p50_ms']:.2f} / {r['cmd_latency_p99_ms']:.2f} | {r['samples']} | {r['dropped']} | "
            f"{r['bad_crc']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="loop duration per configuration, s")
    parser.add_argument("--rate", type=int, default=100, help="control loop and sample rate, Hz")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the figures in {DOC.relative_to(ROOT)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--rt-priority", type=int, default=10,
                        help="SCHED_FIFO priority for the second set of rows (0: skip them)")  # fmt: skip
    parser.add_argument("--url", default=None,
                        help="measure an existing device instead (e.g. the Pi agent started with --hardware bench): "
                             "serial:///dev/ttyUSB0?baud=1000000")  # fmt: skip
    parser.add_argument("--serve-device", nargs=3, metavar=("BAUD", "LINK", "RT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.serve_device:
        serve_device(int(args.serve_device[0]), Path(args.serve_device[1]), int(args.serve_device[2]))
        return 0
    if args.url:
        m = run_loop(args.url, args.seconds, args.rate, args.rt_priority or None)
        print(json.dumps(m, indent=2))
        return 0
    links = [("pty, 115200 baud (emulated)", 115200), ("pty, 1 Mbaud (emulated)", 1_000_000),
             ("pty, unthrottled", None)]  # fmt: skip
    rows = []
    for rt in (None, args.rt_priority) if args.rt_priority else (None,):
        rows += [bench(label, baud, args.seconds, args.rate, rt) for label, baud in links]
    load = os.getloadavg()[0]
    text = table(rows, args.seconds, args.rate) + f"\n\nLoad average (1 min) at the end: {load:.1f}."
    print(text)
    for r in rows:
        verdict = "met" if r["jitter_p99_ms"] < 2.0 else "NOT met"
        print(f"target p99 jitter < 2 ms at {args.rate} Hz, {r['link']}: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if args.write_docs:
        doc = DOC.read_text(encoding="utf-8")
        if START not in doc or END not in doc:
            print(f"{DOC}: no {START} ... {END} markers", file=sys.stderr)
            return 1
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", doc, flags=re.S)
        DOC.write_text(doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
