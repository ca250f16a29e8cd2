"""The host's session with a HIL device: the port, the handshake, commands out and a reader thread for what comes in.

``DeviceLink`` opens the port and runs the HELLO exchange; the master's thread sends COMMANDs through it, and its
reader thread decodes frames, classifies their sequence numbers (protocol.SequenceTracker, resynchronised at each
HELLO_ACK), records every sample (telemetry.SampleLog), measures latency and keeps the newest sample as the
device's current state. A lost port is reopened by the reader. Whether the link is usable is the LinkMonitor's
judgement (monitor.py); the co-simulation slaves are in device_slave.py.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import DeviceError
from orchestrator.hil.host.telemetry import LinkStats, SampleLog, link_metrics
from orchestrator.hil.link.description import DeviceDescription
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
    frame_message,
    unpack_message,
)
from orchestrator.hil.link.realtime import set_realtime_priority

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
        for key in ("link_timeout_s", "hello_timeout_s", "hello_retry_s", "heartbeat_s", "speed", "stale_after_s"):
            v = getattr(opts, key)
            if key == "stale_after_s" and v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise DeviceError(f"{where}: {key} must be a positive number, got {v!r}")
        return opts


class DeviceLink:
    """One serial session with a device: open + HELLO, commands out, samples in (reader thread)."""

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
        # A sample older than this is no reading: the link is not ok and the watchdog holds its safe states. Bounded as
        # the device bounds the command timeout, so neither side acts on the other's data for longer than that.
        if self.opt.stale_after_s is not None and not self.opt.stale_after_s <= description.max_command_timeout_s:
            raise DeviceError(
                f"stale_after_s = {self.opt.stale_after_s:g} s: the host may treat a sample as current for at most "
                f"{description.max_command_timeout_s:g} s (max_command_timeout_s of {description.source}); an older "
                "reading would hide a stalled device from the watchdog"
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
        self.latest_wall = -math.inf  #: host clock (now()) when the newest sample arrived
        self.last_hello_s = -math.inf  #: host clock when the last HELLO went out
        self._pending_commands: dict[int, float] = {}
        self._pending_lock = threading.Lock()
        self._measured_seq: int | None = None
        self.sim_time = 0.0
        self.samples = SampleLog(description.sensor_names)
        self.fault_log: list[tuple[float, int, bool, str]] = []
        self._rt_main = False
        self._bye_acked = False

    @property
    def records(self) -> list[tuple[Any, ...]]:
        """Every sample received so far (telemetry.SampleLog rows)."""
        return self.samples.records

    @property
    def fatal(self) -> DeviceError | None:
        """The error that ends the session (a refused HELLO, another protocol or channel layout), once seen."""
        return self._fatal

    @property
    def port_open(self) -> bool:
        return self._port is not None

    def flush(self) -> None:
        """Write what the samples CSV holds so far to disk (on link loss, so a failed run keeps it)."""
        self.samples.flush()

    # -- time -----------------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.perf_counter() - self._t0

    def now_us(self) -> int:
        """now() in microseconds, wrapping at 32 bits (the protocol's time fields)."""
        return int(self.now() * 1e6) & 0xFFFFFFFF

    # -- open / close ---------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port, run the HELLO exchange and wait for the first sample; DeviceError if it fails."""
        try:
            self._port = SerialPort(self.url, self.opt.baud)
        except PortGone as err:
            raise DeviceError(f"{err}: check the device URL and that the device (or `o2twin device --virtual`) "
                              "is running") from None  # fmt: skip
        self.samples.open(self.opt.samples_path)
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
        log.info("%s: connected to '%s' (boot %08x), %d Hz samples, fail-safe after %.3g s", self.url,
                 self.device_name, self.boot_id or 0, self.sample_rate_hz, self.command_timeout_s)  # fmt: skip

    def _hello_and_wait(self, timeout_s: float) -> HelloAck | Nack | None:
        with self._state:
            self._hello_reply = None
        self.send_hello()
        deadline = self.now() + timeout_s
        with self._state:
            while self._hello_reply is None and self.now() < deadline:
                self._state.wait(0.01)
            return self._hello_reply

    def send_hello(self) -> None:
        """A new HELLO (a new nonce): opens, or resynchronises and recovers, the session."""
        self._hello_nonce = random.getrandbits(32)
        self.last_hello_s = self.now()
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
        self.samples.close()
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
        host_us = self.now_us() or 1
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
                    except (PortGone, DeviceError):  # not back yet, or (replugged) no serial device: link stays lost
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
                log.warning("%s: device refused %s #%d: %s", self.url, _type_name(msg.refused_type),
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
            rtt = ((self.now_us() - msg.echo_us) & 0xFFFFFFFF) / 1e6
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
        self.samples.add((now, self.sim_time, self.boot_id or 0, msg.device_time_us / 1e6, seq, msg.command_seq,
                          msg.status, *msg.values))  # fmt: skip
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

    def metrics(self) -> dict[str, Any]:
        """metrics.json's "hil" figures of this session (telemetry.link_metrics)."""
        return link_metrics(self.stats, url=self.url, device=self.device_name, sample_rate_hz=self.sample_rate_hz,
                            command_timeout_s=self.command_timeout_s, stale_after_s=self.stale_after_s)  # fmt: skip


def _type_name(code: int) -> str:
    """A message type's name for the log; a type this host does not know (a newer device's) by its number."""
    try:
        return MsgType(code).name
    except ValueError:
        return f"message type 0x{code:02x}"


def _fault_name(code: int) -> str:
    try:
        return FaultCode(code).name
    except ValueError:
        return f"code {code}"
