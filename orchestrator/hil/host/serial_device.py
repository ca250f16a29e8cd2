"""The host side of hardware in the loop: the serial device as co-simulation slaves.

``DeviceLink`` owns the port: a reader thread decodes frames, tracks sequence numbers, records every sample and
measures latency; the master's thread sends commands and watches for stale data. ``SerialDevice`` splits the
device's interface (from its description file) into one ``DevicePart`` slave per plant unit it replaces, named as
those units were ("compressor", "psa"), so a scenario's connections, events and recorded names stay unchanged.

Link loss policy (docs/hil.md): when no fresh sample arrives for ``stale_after_s``, or the device reports its
fail-safe, the link is "not ok": link_ok = 0, the host commands the safe state and re-sends HELLO every
``hello_retry_s`` (reopening the port if it disappeared). If the link is back within ``link_timeout_s`` the run
recovers (the new session clears the device fail-safe; the gap is visible in the results and counted); otherwise
the run stops with a DeviceError. ``on_link_loss = "stop"`` stops at the first loss instead.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.base import Slave, SlaveInfo, Variable
from orchestrator.errors import DeviceError
from orchestrator.hil.link.description import DeviceDescription, load_description
from orchestrator.hil.link.framing import FrameDecoder
from orchestrator.hil.link.ports import PortGone, SerialPort
from orchestrator.hil.link.protocol import (
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    Ack,
    Bye,
    Command,
    Fault,
    FaultCode,
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    MsgType,
    Nack,
    NackReason,
    ProtocolError,
    Sample,
    SequenceTracker,
    Status,
    frame_message,
    unpack_message,
)
from orchestrator.hil.link.realtime import RealTimePacer, percentiles_ms, set_realtime_priority

log = logging.getLogger(__name__)

#: FAULT codes that report the device's fail-safe engaging: command loss or one of its own limits.
FAILSAFE_FAULTS = (FaultCode.COMMAND_TIMEOUT, FaultCode.OVER_PRESSURE, FaultCode.OVER_TEMPERATURE,
                   FaultCode.SENSOR_FAULT)  # fmt: skip


@dataclass
class LinkOptions:
    """Host-side link settings (the [plant] table's extra keys; units in the names)."""

    sample_rate_hz: int | None = None  #: None: the description's default
    command_timeout_s: float | None = None  #: device fail-safe timeout; None: the description's default
    stale_after_s: float | None = None  #: None: max(3 sample periods, 0.1 s)
    link_timeout_s: float = 5.0  #: a link not ok for this long ends the run (DeviceError)
    hello_timeout_s: float = 1.0  #: wait for HELLO_ACK per try at open
    hello_tries: int = 3
    hello_retry_s: float = 0.25  #: while the link is not ok, re-send HELLO this often
    heartbeat_s: float = 1.0  #: heartbeat period for round-trip-time measurement
    on_link_loss: str = "recover"  #: "recover" (within link_timeout_s) or "stop"
    speed: float = 1.0  #: real time = 1
    baud: int = 115200
    samples_path: str | None = None  #: CSV of every received sample, written as they arrive
    rt_priority: int | None = None  #: SCHED_FIFO priority (1..99) for the master and reader threads; None: normal

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "[plant]") -> LinkOptions:
        known = {f for f in cls.__dataclass_fields__}
        opts = cls()
        for key, value in raw.items():
            if key not in known:
                raise DeviceError(f"{where}: unknown option '{key}' (options: {', '.join(sorted(known))})")
            setattr(opts, key, value)
        if opts.on_link_loss not in ("recover", "stop"):
            raise DeviceError(f"{where}: on_link_loss must be 'recover' or 'stop', got {opts.on_link_loss!r}")
        if opts.rt_priority is not None and (isinstance(opts.rt_priority, bool) or opts.rt_priority not in range(100)):
            raise DeviceError(f"{where}: rt_priority must be an integer 1..99 (0 or absent: normal scheduling)")
        for key in ("link_timeout_s", "hello_timeout_s", "hello_retry_s", "heartbeat_s", "speed"):
            v = getattr(opts, key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise DeviceError(f"{where}: {key} must be a positive number, got {v!r}")
        return opts


@dataclass
class LinkStats:
    """Counts of everything that went wrong (or right) on the link; written to metrics.json under "hil"."""

    frames: int = 0
    bad_crc: int = 0
    bad_cobs: int = 0
    oversize: int = 0
    undersize: int = 0
    bytes_discarded: int = 0
    protocol_errors: int = 0
    samples: int = 0  #: samples recorded (new + late)
    samples_late: int = 0  #: reordered samples (recorded, but not used as the current value)
    duplicates: int = 0  #: duplicated frames (dropped)
    reordered: int = 0
    dropped: int = 0  #: gaps in the device's sequence numbers (frames that never arrived)
    out_of_window: int = 0  #: frames whose sequence number is far from the newest (stray or forged): dropped
    nacks: int = 0
    faults: int = 0
    commands_sent: int = 0
    link_losses: int = 0  #: times the link went from ok to not ok
    recoveries: int = 0
    device_restarts: int = 0
    port_lost: int = 0
    reopens: int = 0
    failsafe_reports: int = 0  #: FAULT frames saying the device fail-safe engaged (command loss or its own limits)
    command_latency_s: list[float] = field(default_factory=list)  #: COMMAND sent -> first SAMPLE that acks it
    heartbeat_rtt_s: list[float] = field(default_factory=list)


class DeviceLink:
    """One serial session with a device: open + HELLO, commands out, samples in (thread), stale detection."""

    def __init__(self, url: str, description: DeviceDescription, options: LinkOptions | None = None) -> None:
        self.url = url
        self.desc = description
        self.opt = options or LinkOptions()
        self.sample_rate_hz = int(self.opt.sample_rate_hz or description.sample_rate_hz)
        self.command_timeout_s = float(self.opt.command_timeout_s or description.command_timeout_s)
        if not 0.01 <= self.command_timeout_s <= description.max_command_timeout_s:
            raise DeviceError(
                f"command_timeout_s = {self.command_timeout_s:g} s: the device accepts 0.01..."
                f"{description.max_command_timeout_s:g} s (max_command_timeout_s of {description.source})"
            )
        self.stale_after_s = self.opt.stale_after_s or max(3.0 / self.sample_rate_hz, 0.1)
        self.stats = LinkStats()
        self.decoder = FrameDecoder()
        self.rx_seq = SequenceTracker()
        self._port: Any = None
        self._lock = threading.Lock()  # guards the port object and the tx sequence counter
        self._state = threading.Condition()
        self._tx_seq = random.getrandbits(16)
        self._t0 = time.perf_counter()
        self._running = False
        self._thread: threading.Thread | None = None
        self._fatal: DeviceError | None = None
        self._hello_nonce = 0
        self._hello_reply: HelloAck | Nack | None = None
        self.boot_id: int | None = None
        self.device_name = ""
        self.session_ok = False
        self.latest: dict[str, float] = {n: math.nan for n in description.sensor_names}
        self.latest_status = 0
        self.latest_wall = -math.inf
        self.link_ok = False
        self._bad_since: float | None = None
        self._last_hello = -math.inf
        self._last_heartbeat = -math.inf
        self._pending_commands: dict[int, float] = {}
        self._pending_lock = threading.Lock()
        self._measured_seq: int | None = None
        self.sim_time = 0.0
        self.records: list[tuple] = []
        self._csv_file = None
        self._csv = None
        self.fault_log: list[tuple[float, int, bool, str]] = []
        self._rt_main = False
        self._bye_acked = False

    # -- time -----------------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.perf_counter() - self._t0

    def _now_us(self) -> int:
        return int(self.now() * 1e6) & 0xFFFFFFFF

    # -- open / close ---------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port, run the HELLO exchange and wait for the first sample; DeviceError if it fails."""
        try:
            self._port = SerialPort(self.url, self.opt.baud)
        except PortGone as err:
            raise DeviceError(f"{err}: check the device URL and that the device (or `o2twin device --virtual`) "
                              "is running") from None  # fmt: skip
        if self.opt.samples_path:
            Path(self.opt.samples_path).parent.mkdir(parents=True, exist_ok=True)
            self._csv_file = open(self.opt.samples_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._csv = csv.writer(self._csv_file)
            self._csv.writerow(["wall_s", "sim_time_s", "boot_id", "device_time_s", "seq", "command_seq", "status",
                                *self.desc.sensor_names])  # fmt: skip
        if self.opt.rt_priority:
            self._rt_main = set_realtime_priority(self.opt.rt_priority)
        self._running = True
        self._thread = threading.Thread(target=self._reader, name=f"hil-reader {self.url}", daemon=True)
        self._thread.start()
        for attempt in range(1, self.opt.hello_tries + 1):
            reply = self._hello_and_wait(self.opt.hello_timeout_s)
            if reply is not None:
                break
            log.info("%s: no answer to HELLO (try %d of %d)", self.url, attempt, self.opt.hello_tries)
        else:
            self.close(send_bye=False)
            raise DeviceError(
                f"{self.url}: the device does not answer HELLO ({self.opt.hello_tries} tries of "
                f"{self.opt.hello_timeout_s:g} s): check the cable, the baud rate and that the agent runs"
            )
        if self._fatal:
            self.close(send_bye=False)
            raise self._fatal
        deadline = self.now() + max(self.opt.hello_timeout_s, 5.0 / self.sample_rate_hz)
        with self._state:
            while self.latest_wall == -math.inf and self.now() < deadline:
                self._state.wait(0.01)
        if self.latest_wall == -math.inf:
            self.close(send_bye=False)
            raise DeviceError(f"{self.url}: session opened but no SAMPLE arrived; check the agent's log")
        self.link_ok = True
        log.info("%s: connected to '%s' (boot %08x), %d Hz samples, fail-safe after %.3g s", self.url,
                 self.device_name, self.boot_id or 0, self.sample_rate_hz, self.command_timeout_s)  # fmt: skip

    def _hello_and_wait(self, timeout_s: float) -> HelloAck | Nack | None:
        with self._state:
            self._hello_reply = None
        self._send_hello()
        deadline = self.now() + timeout_s
        with self._state:
            while self._hello_reply is None and self.now() < deadline:
                self._state.wait(0.01)
            return self._hello_reply

    def _send_hello(self) -> None:
        self._hello_nonce = random.getrandbits(32)
        self._last_hello = self.now()
        self.send(Hello(PROTOCOL_MAJOR, PROTOCOL_MINOR, self.sample_rate_hz, round(self.command_timeout_s * 1000),
                        self._hello_nonce))  # fmt: skip

    def close(self, send_bye: bool = True) -> None:
        """End the session (BYE: the device goes to the safe state), stop the reader, close the port and CSV."""
        if send_bye and self._port is not None and self._running:
            with self._state:
                self._bye_acked = False
            with contextlib.suppress(DeviceError):
                self.send(Bye())
            deadline = self.now() + 0.5
            with self._state:
                while not self._bye_acked and self.now() < deadline:
                    self._state.wait(0.01)
            if not self._bye_acked:
                log.warning("%s: the device did not acknowledge BYE; its fail-safe engages after %.3g s without "
                            "commands", self.url, self.command_timeout_s)  # fmt: skip
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        with self._lock:
            if self._port is not None:
                self._port.close()
                self._port = None
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = None
        if self._rt_main:
            self._rt_main = not set_realtime_priority(None)

    # -- sending --------------------------------------------------------------------------------------------
    def send(self, msg: Message) -> int:
        """Send one message; returns its sequence number. A lost port is left to the reader to reopen."""
        with self._lock:
            seq = self._tx_seq
            self._tx_seq = (self._tx_seq + 1) & 0xFFFF
            port = self._port
            if port is None:
                return seq
            try:
                port.write(frame_message(msg, seq))
            except PortGone as err:
                self._port_lost(err)
        return seq

    def send_command(self, values: Mapping[str, float]) -> int:
        vals = tuple(float(values[name]) for name in self.desc.actuator_names)
        host_us = self._now_us() or 1
        seq = self.send(Command(host_us, vals))
        self.stats.commands_sent += 1
        with self._pending_lock:
            self._pending_commands[seq] = self.now()
            if len(self._pending_commands) > 512:  # commands never acknowledged (link down): forget the oldest
                for old in list(self._pending_commands)[:256]:
                    del self._pending_commands[old]
        return seq

    # -- receiving (reader thread) --------------------------------------------------------------------------
    def _port_lost(self, err: Exception) -> None:
        if self._port is not None:
            log.warning("%s: port lost (%s)", self.url, err)
            self.stats.port_lost += 1
            self._port.close()
            self._port = None
            self.session_ok = False

    def _reader(self) -> None:
        if self.opt.rt_priority:
            set_realtime_priority(self.opt.rt_priority)
        next_reopen = 0.0
        while self._running:
            with self._lock:
                port = self._port
            if port is None:
                if self.now() >= next_reopen:
                    next_reopen = self.now() + 0.2
                    try:
                        new_port = SerialPort(self.url, self.opt.baud)
                    except PortGone:
                        continue
                    with self._lock:
                        self._port = new_port
                    self.stats.reopens += 1
                    log.info("%s: port is back", self.url)
                else:
                    time.sleep(0.02)
                continue
            try:
                data = port.read(4096, 0.02)
            except PortGone as err:
                with self._lock:
                    if self._port is port:
                        self._port_lost(err)
                continue
            if data:
                for payload in self.decoder.feed(data):
                    try:
                        self._handle(payload)
                    except Exception as err:  # never let a bad frame kill the reader
                        self.stats.protocol_errors += 1
                        log.debug("frame handling failed: %s", err)
                self._sync_framing_stats()

    def _sync_framing_stats(self) -> None:
        f = self.decoder.stats
        s = self.stats
        s.frames, s.bad_crc, s.bad_cobs = f.frames, f.bad_crc, f.bad_cobs
        s.oversize, s.undersize, s.bytes_discarded = f.too_long, f.too_short, f.bytes_discarded

    def _handle(self, payload: bytes) -> None:
        try:
            seq, msg = unpack_message(payload)
        except ProtocolError as err:
            self.stats.protocol_errors += 1
            log.debug("ignored frame: %s", err)
            return
        if isinstance(msg, Fault) and msg.code == FaultCode.RESTARTED and msg.active:
            self.rx_seq.reset()  # the device numbers its frames afresh after boot
        if isinstance(msg, HelloAck):
            self.rx_seq.reset()  # the handshake resynchronises: the device's numbering is taken from its answer
        kind = self.rx_seq.classify(seq)
        self.stats.duplicates = self.rx_seq.duplicates
        self.stats.reordered = self.rx_seq.reordered
        self.stats.dropped = self.rx_seq.dropped
        self.stats.out_of_window = self.rx_seq.out_of_window
        if kind in ("duplicate", "out_of_window"):
            return
        now = self.now()
        if isinstance(msg, Sample):
            self._on_sample(seq, msg, now, late=(kind == "late"))
        elif isinstance(msg, HelloAck):
            self._on_hello_ack(msg)
        elif isinstance(msg, Nack):
            self.stats.nacks += 1
            if msg.refused_type == MsgType.HELLO:
                if msg.reason == NackReason.VERSION:
                    self._fatal = DeviceError(
                        f"{self.url}: the device refused protocol version {PROTOCOL_MAJOR}.{PROTOCOL_MINOR} "
                        f"({msg.text}); install the same o2twin release on the device and the host"
                    )
                else:
                    self._fatal = DeviceError(f"{self.url}: the device refused HELLO: {msg.text}")
                with self._state:
                    self._hello_reply = msg
                    self._state.notify_all()
            else:
                log.warning("%s: device refused %s #%d: %s", self.url, MsgType(msg.refused_type).name,
                            msg.refused_seq, msg.text)  # fmt: skip
        elif isinstance(msg, Fault):
            self.stats.faults += 1
            self.fault_log.append((self.sim_time, msg.code, msg.active, msg.text))
            if msg.code in FAILSAFE_FAULTS and msg.active:
                self.stats.failsafe_reports += 1
            if msg.code == FaultCode.RESTARTED and msg.active:
                self.session_ok = False
            level = logging.INFO if msg.code == FaultCode.RESTARTED else logging.WARNING
            log.log(level, "%s: device fault %s %s: %s", self.url, _fault_name(msg.code),
                    "raised" if msg.active else "cleared", msg.text)  # fmt: skip
        elif isinstance(msg, Ack):
            if msg.acked_type == MsgType.BYE:
                with self._state:
                    self._bye_acked = True
                    self._state.notify_all()
        elif isinstance(msg, Heartbeat):
            rtt = ((self._now_us() - msg.echo_us) & 0xFFFFFFFF) / 1e6
            if rtt < 10.0:
                self.stats.heartbeat_rtt_s.append(rtt)

    def _on_hello_ack(self, msg: HelloAck) -> None:
        problem = None
        if msg.major != PROTOCOL_MAJOR:
            problem = (f"the device speaks protocol {msg.major}.{msg.minor}, this host {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}: "
                       "install the same o2twin release on both")  # fmt: skip
        elif msg.layout_crc != self.desc.layout_crc or (msg.n_actuators, msg.n_sensors) != (
            len(self.desc.actuators), len(self.desc.sensors)):  # fmt: skip
            problem = (f"the device's channels ({msg.n_actuators} actuators, {msg.n_sensors} sensors, layout "
                       f"{msg.layout_crc:08x}) differ from the description {self.desc.source} "
                       f"({len(self.desc.actuators)}, {len(self.desc.sensors)}, {self.desc.layout_crc:08x}): "
                       "use the same device description on both sides")  # fmt: skip
        if problem:
            self._fatal = DeviceError(f"{self.url}: {problem}")
        else:
            if self.boot_id is not None and msg.boot_id != self.boot_id:
                self.stats.device_restarts += 1
                log.warning("%s: the device restarted (boot %08x -> %08x)", self.url, self.boot_id, msg.boot_id)
            self.boot_id = msg.boot_id
            self.device_name = msg.device_name
            self.session_ok = True
        with self._state:
            self._hello_reply = msg
            self._state.notify_all()

    def _on_sample(self, seq: int, msg: Sample, now: float, late: bool) -> None:
        if len(msg.values) != len(self.desc.sensors):
            self.stats.protocol_errors += 1
            return
        self.stats.samples += 1
        row = (now, self.sim_time, self.boot_id or 0, msg.device_time_us / 1e6, seq, msg.command_seq, msg.status,
               *msg.values)  # fmt: skip
        self.records.append(row)
        if self._csv is not None:
            self._csv.writerow(row)
        if late:
            self.stats.samples_late += 1
            return
        with self._pending_lock:
            sent = self._pending_commands.pop(msg.command_seq, None)
        if sent is not None and msg.command_seq != self._measured_seq:
            self._measured_seq = msg.command_seq
            self.stats.command_latency_s.append(now - sent)
        with self._state:
            self.latest = dict(zip(self.desc.sensor_names, msg.values, strict=True))
            self.latest_status = msg.status
            self.latest_wall = now
            self._state.notify_all()

    # -- the master's side ----------------------------------------------------------------------------------
    def check(self) -> bool:
        """Update link_ok from sample age and device status; re-HELLO while not ok; DeviceError when it lasts."""
        if self._fatal:
            raise self._fatal
        now = self.now()
        age = now - self.latest_wall
        st = self.latest_status
        ok = (self.session_ok and age <= self.stale_after_s and bool(st & Status.SESSION)
              and not st & Status.FAILSAFE)  # fmt: skip
        if ok and not self.link_ok:
            self.stats.recoveries += 1
            log.warning("%s: link recovered after %.3f s", self.url, now - (self._bad_since or now))
            self._bad_since = None
        elif not ok and self.link_ok:
            self.stats.link_losses += 1
            self._bad_since = now
            why = ("device fail-safe engaged" if st & Status.FAILSAFE else
                   f"no sample for {age:.3f} s" if age > self.stale_after_s else "session lost")  # fmt: skip
            log.warning("%s: link lost (%s): commanding the safe state", self.url, why)
            if self.opt.on_link_loss == "stop":
                self.link_ok = False
                self._flush()
                raise DeviceError(f"{self.url}: link lost ({why}) at t={self.sim_time:.3f} s and on_link_loss = "
                                  "'stop'; results up to here are saved")  # fmt: skip
        self.link_ok = ok
        if not ok:
            if self._bad_since is None:
                self._bad_since = now
            if now - self._bad_since > self.opt.link_timeout_s:
                self._flush()
                state = "the port is gone (cable unplugged?)" if self._port is None else (
                    f"last sample {age:.1f} s ago")  # fmt: skip
                raise DeviceError(
                    f"{self.url}: no usable link to the device for {now - self._bad_since:.1f} s "
                    f"(link_timeout_s = {self.opt.link_timeout_s:g}; {state}) at t={self.sim_time:.3f} s; "
                    "check the cable and the device; results up to here are saved"
                )
            if now - self._last_hello >= self.opt.hello_retry_s and self._port is not None:
                self._send_hello()
        if now - self._last_heartbeat >= self.opt.heartbeat_s and self._port is not None:
            self._last_heartbeat = now
            self.send(Heartbeat(self._now_us() or 1, 0))
        return ok

    def _flush(self) -> None:
        if self._csv_file is not None:
            self._csv_file.flush()

    def metrics(self) -> dict[str, Any]:
        d = asdict(self.stats)
        lat = percentiles_ms(d.pop("command_latency_s"))
        rtt = percentiles_ms(d.pop("heartbeat_rtt_s"))
        d.update({"command_latency_p50_ms": lat["p50_ms"], "command_latency_p99_ms": lat["p99_ms"],
                  "command_latency_max_ms": lat["max_ms"], "heartbeat_rtt_p50_ms": rtt["p50_ms"],
                  "heartbeat_rtt_p99_ms": rtt["p99_ms"], "heartbeat_rtt_max_ms": rtt["max_ms"]})  # fmt: skip
        d.update({"url": self.url, "device": self.device_name, "sample_rate_hz": self.sample_rate_hz,
                  "command_timeout_s": self.command_timeout_s, "stale_after_s": self.stale_after_s})  # fmt: skip
        return d


def _fault_name(code: int) -> str:
    try:
        return FaultCode(code).name
    except ValueError:
        return f"code {code}"


class SerialDevice:
    """A device on a serial link standing in for several plant slaves; ``parts`` are the slaves to put in a system.

    ``slave_names`` maps each slave name in the system to the description part it stands for (default: the part
    names themselves). All parts must be stepped with the same macro step; the command goes out once every part has
    been stepped for the current instant, then the device paces the whole system to the wall clock.
    """

    def __init__(self, url: str, description: DeviceDescription | None = None,
                 options: LinkOptions | Mapping[str, Any] | None = None,
                 slave_names: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.url = url
        self.desc = description or load_description()
        opts = options if isinstance(options, LinkOptions) else LinkOptions.from_mapping(options or {})
        self.link = DeviceLink(url, self.desc, opts)
        self.pacer = RealTimePacer(speed=opts.speed)
        names = dict(slave_names or {p: p for p in self.desc.parts})
        for _slave, part in names.items():
            if part not in self.desc.parts:
                raise DeviceError(f"{self.desc.source}: no part '{part}' (parts: {', '.join(self.desc.parts)})")
        self.parts = {slave: DevicePart(slave, part, self) for slave, part in names.items()}
        self.inputs = self.desc.safe_values({})
        self._opened = False
        self._stepped: set[str] = set()
        self._step_t: float | None = None
        self._closed = False

    # called by the parts
    def _setup(self, start_time: float) -> None:
        if not self._opened:
            self._opened = True
            self.link.sim_time = start_time
            self.link.open()

    def _step(self, part: DevicePart, t: float, h: float) -> bool:
        if self._step_t is None or abs(t - self._step_t) > 1e-9 * max(1.0, abs(t)):
            self._step_t = t
            self._stepped = set()
        self._stepped.add(part.name)
        if self._stepped != set(self.parts):
            return True
        self._stepped = set()
        if not self.pacer.started:
            self.pacer.start(t)
        self.link.sim_time = t
        ok = self.link.check()
        values = self.inputs if ok else self.desc.safe_values(self.inputs)
        self.link.send_command(values)
        self.pacer.wait_until(t + h)
        self.link.sim_time = t + h
        return True

    def _outputs(self, part: str) -> dict[str, float]:
        latest = self.link.latest
        out = {c.name: float(latest[c.name]) for c in self.desc.sensors if c.part == part}
        if part == self.desc.link_part:
            out["link_ok"] = 1.0 if self.link.link_ok else 0.0
            out["link_sample_age_s"] = max(0.0, self.link.now() - self.link.latest_wall)
            out["device_failsafe"] = 1.0 if self.link.latest_status & Status.FAILSAFE else 0.0
        return out

    def _terminate(self) -> None:
        if not self._closed:
            self._closed = True
            self.link.close(send_bye=True)

    def metrics(self) -> dict[str, Any]:
        """Link statistics and real-time figures, for metrics.json (key "hil")."""
        return {**self.link.metrics(), "realtime": self.pacer.metrics()}


class DevicePart(Slave):
    """One plant unit's view of the serial device: its actuators as inputs, its sensors as outputs."""

    def __init__(self, name: str, part: str, device: SerialDevice) -> None:
        self.name = name
        self.part = part
        self.device = device
        self.variables: dict[str, Variable] = device.desc.part_variables(part)
        self.info = SlaveInfo(can_rollback=False, real_time=True, direct_feedthrough={
            v.name: frozenset() for v in self.variables.values() if v.causality == "output"})  # fmt: skip

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        if parameters:
            log.info("%s: a device has no parameters; ignoring %s", self.name, ", ".join(parameters))
        self.device._setup(start_time)

    def set_inputs(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            var = self.variables.get(name)
            if var is None or var.causality != "input":
                raise DeviceError(f"{self.name}: '{name}' is not an input of the device part '{self.part}'")
            v = float(value)
            if var.min is not None:
                v = max(var.min, v)
            if var.max is not None:
                v = min(var.max, v)
            self.device.inputs[name] = v

    def step(self, t: float, h: float) -> bool:
        return self.device._step(self, t, h)

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, float]:
        out = self.device._outputs(self.part)
        if names is None:
            return out
        for n in names:  # an input reads back as the value last set, as an FMU's would
            if n not in out and n in self.variables and self.variables[n].causality == "input":
                out[n] = self.device.inputs[n]
        try:
            return {n: out[n] for n in names}
        except KeyError as err:
            raise DeviceError(f"{self.name}: the device part '{self.part}' has no output {err}") from None

    def terminate(self) -> None:
        self.device._terminate()
