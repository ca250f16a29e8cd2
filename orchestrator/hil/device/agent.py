"""The device agent: the program on the Raspberry Pi (or the virtual device) that speaks the HIL protocol.

State machine (docs/serial-protocol.md): IDLE (after boot or BYE: actuators safe, no samples) --HELLO accepted-->
SESSION (commands applied, SAMPLE every period) --no valid COMMAND within the command timeout, or one of the
device's own limits violated--> FAILSAFE (compressor off, vent, alarm on, FAULT sent, samples go on, commands
ignored) --a new HELLO, with every limit reading back below its clear level--> SESSION.

What the device guarantees by itself, whatever the host sends (docs/safety.md):
- only a valid COMMAND refreshes the command timer: HELLOs, HEARTBEATs, refused or stale COMMANDs do not, so
  nothing but commands can hold the fail-safe off;
- a session cannot ask for a command timeout above the description's ``max_command_timeout_s``;
- sequence numbers are checked within a window (protocol.SequenceTracker) and resynchronised at each HELLO: a
  COMMAND far ahead of the newest is dropped and does not make the host's next commands look stale;
- interlocks refuse dead-headed patterns (compressor on with no feed valve open): NACK INTERLOCK, not applied;
- its own limits on its own readings (pressure, temperature; NaN or implausible counts as violated) engage the
  fail-safe at the sample that sees them.
Frames with a bad CRC, stale or duplicated COMMANDs, wrong lengths and out-of-range values are counted and never
acted on. The fail-safe is the device's own: it needs nothing from the host to engage.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orchestrator.hil.device.hardware import Hardware
from orchestrator.hil.link.description import DeviceDescription
from orchestrator.hil.link.framing import FrameDecoder
from orchestrator.hil.link.ports import Port, PortGone
from orchestrator.hil.link.protocol import (
    MAX_RATE_HZ,
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

log = logging.getLogger(__name__)


@dataclass
class AgentStats:
    """What the agent saw and did (for tests and the agent's status log)."""

    commands_applied: int = 0
    commands_rejected: int = 0  #: out of range, wrong count, no session, or during fail-safe
    commands_stale: int = 0  #: duplicated or reordered (older than the newest applied): not acted on
    commands_out_of_window: int = 0  #: sequence number far from the newest (stray or forged): not acted on
    commands_interlocked: int = 0  #: refused by an interlock (e.g. dead-headed compressor)
    hellos_refused: int = 0
    limit_trips: int = 0  #: fail-safes engaged by the device's own limits
    protocol_errors: int = 0
    samples_sent: int = 0
    failsafe_engaged: int = 0
    sessions: int = 0


class Agent:
    """Serve one port: apply commands to the hardware, stream samples, keep the fail-safe.

    ``port`` offers read(max_bytes, timeout_s) and write(data) (orchestrator.hil.link.ports); ``clock`` returns seconds
    (monotonic). The agent runs until ``stop`` is set (serve) or is driven step by step with poll().
    """

    def __init__(self, port: Port, hardware: Hardware, description: DeviceDescription, *,
                 clock: Callable[[], float] = time.monotonic, boot_id: int | None = None,
                 max_rate_hz: int = MAX_RATE_HZ, protocol_major: int = PROTOCOL_MAJOR) -> None:  # fmt: skip
        self.port = port
        self.hw = hardware
        self.desc = description
        self.clock = clock
        self.boot_id = boot_id if boot_id is not None else random.getrandbits(32)
        self.max_rate_hz = max_rate_hz
        self.protocol_major = protocol_major
        self.decoder = FrameDecoder()
        self.rx_seq = SequenceTracker()
        self.stats = AgentStats()
        self._tx_seq = 0
        self._t_boot = clock()
        self.in_session = False
        self.failsafe = False
        self.failsafe_cause = 0  #: FaultCode of the active fail-safe (0: none)
        self.sample_period_s = 1.0 / description.sample_rate_hz
        self.command_timeout_s = description.command_timeout_s
        self.max_command_timeout_ms = round(description.max_command_timeout_s * 1000)
        self._next_sample = math.inf
        self._last_command_time = 0.0
        self._last_command_seq = 0
        self._echo_host_time = 0
        self._newest_command_seq: int | None = None
        self.actuators = description.safe_values({})
        self.hw.apply(self.actuators)
        self._announced = False
        self._hello_id: tuple[int, int] | None = None

    # -- time and output ------------------------------------------------------------------------------------
    def device_time_us(self, now: float | None = None) -> int:
        return int(((self.clock() if now is None else now) - self._t_boot) * 1e6)

    def send(self, msg: Message) -> None:
        self.port.write(frame_message(msg, self._tx_seq))
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF

    # -- main loop ------------------------------------------------------------------------------------------
    def serve(self, stop: threading.Event | None = None, duration_s: float | None = None) -> None:
        """Run until stop is set, duration_s has passed, or the port disappears (PortGone propagates)."""
        stop = stop or threading.Event()
        end = self.clock() + duration_s if duration_s is not None else math.inf
        while not stop.is_set() and self.clock() < end:
            self.poll()

    def poll(self, max_wait_s: float = 0.05) -> None:
        """One iteration: wait for input until the next sample is due, handle it, sample, check the fail-safe."""
        if not self._announced:
            self._announced = True
            self.send(Fault(self.device_time_us(), FaultCode.RESTARTED, True, "device booted"))
        now = self.clock()
        wait = min(max_wait_s, max(0.0, self._next_sample - now))
        if self.in_session and not self.failsafe:
            wait = min(wait, max(0.0, self._last_command_time + self.command_timeout_s - now))
        try:
            data = self.port.read(4096, wait)
        except PortGone:
            if not getattr(self.port, "reconnectable", False):
                raise
            if self.in_session:  # the host vanished without BYE: that is command loss
                self._engage_failsafe(self.clock())
            self.in_session = False
            self._next_sample = math.inf
            return
        if data:
            for payload in self.decoder.feed(data):
                self._handle(payload)
        now = self.clock()
        self.hw.advance(now - self._t_boot)
        if self.in_session and not self.failsafe and now - self._last_command_time > self.command_timeout_s:
            self._engage_failsafe(now)
        if self.in_session and now >= self._next_sample:
            self._send_sample(now)
            self._next_sample += self.sample_period_s
            if self._next_sample < now:  # fell behind (slow plant or a stalled port): skip, do not burst
                self._next_sample = now + self.sample_period_s

    # -- handlers -------------------------------------------------------------------------------------------
    def _handle(self, payload: bytes) -> None:
        try:
            seq, msg = unpack_message(payload)
        except ProtocolError as err:
            self.stats.protocol_errors += 1
            log.debug("ignored frame: %s", err)
            if len(payload) >= 3:
                known = payload[0] in {t.value for t in MsgType}
                reason = NackReason.LENGTH if known else NackReason.UNKNOWN_TYPE
                self.send(Nack(payload[0], payload[1] | payload[2] << 8, reason, str(err)[:48]))
            return
        if isinstance(msg, Hello):
            self._on_hello(seq, msg)
        elif isinstance(msg, Command):
            self._on_command(seq, msg)
        elif isinstance(msg, Heartbeat):
            self.send(Heartbeat(self.device_time_us() & 0xFFFFFFFF, msg.time_us))
        elif isinstance(msg, Bye):
            self._enter_safe_state(alarm=self.failsafe and self.failsafe_cause != FaultCode.COMMAND_TIMEOUT)
            self.in_session = False
            self._next_sample = math.inf
            self.hw.session_closed()
            self.send(Ack(MsgType.BYE, seq))
        else:
            self.stats.protocol_errors += 1
            self.send(Nack(type_code(msg), seq, NackReason.UNKNOWN_TYPE, "not accepted by a device"))

    def _on_hello(self, seq: int, msg: Hello) -> None:
        """Open a session, or resynchronise a running one. The command timer is not touched by a HELLO inside a
        running session (only a valid COMMAND refreshes it); a HELLO in FAILSAFE clears it when every limit reading
        is back below its clear level, and the timer then starts afresh with the actuators still safe."""
        refusal = self._hello_refusal(msg)
        if refusal is not None:
            self.stats.hellos_refused += 1
            self.send(Nack(MsgType.HELLO, seq, *refusal))
            return
        if self.in_session and (seq, msg.host_nonce) == self._hello_id:
            return  # a duplicated HELLO frame: the session is open already
        now = self.clock()
        self._hello_id = (seq, msg.host_nonce)
        self.rx_seq.reset()  # the handshake resynchronises the host's numbering
        self.rx_seq.classify(seq)
        self._newest_command_seq = None
        self.sample_period_s = 1.0 / msg.sample_rate_hz
        self.command_timeout_s = msg.command_timeout_ms / 1000.0
        if not self.in_session:
            self.in_session = True
            self.hw.session_opened()
            self._last_command_time = now
            self._next_sample = now
        if self.failsafe and self._limits_clear(now):
            self._clear_failsafe(now)
            self._last_command_time = now
        self.stats.sessions += 1
        self.send(HelloAck(PROTOCOL_MAJOR, PROTOCOL_MINOR, msg.sample_rate_hz, msg.command_timeout_ms, self.boot_id,
                           self.desc.layout_crc, len(self.desc.actuators), len(self.desc.sensors),
                           self.desc.name[:32]))  # fmt: skip

    def _hello_refusal(self, msg: Hello) -> tuple[int, str] | None:
        """(NACK reason, text) when the HELLO cannot be accepted, else None."""
        if msg.major != self.protocol_major:
            return NackReason.VERSION, f"device speaks protocol {self.protocol_major}.x, host {msg.major}.{msg.minor}"
        if not 1 <= msg.sample_rate_hz <= self.max_rate_hz:
            return NackReason.RATE, f"sample rate 1..{self.max_rate_hz} Hz"
        if not 10 <= msg.command_timeout_ms <= self.max_command_timeout_ms:
            return NackReason.RANGE, f"command timeout 10..{self.max_command_timeout_ms} ms"
        return None

    def _on_command(self, seq: int, msg: Command) -> None:
        if not self.in_session:
            self.stats.commands_rejected += 1
            self.send(Nack(MsgType.COMMAND, seq, NackReason.NO_SESSION, "send HELLO first"))
            return
        kind = self.rx_seq.classify(seq)
        if kind == "out_of_window":
            self.stats.commands_out_of_window += 1  # a stray or forged number: dropped, the window does not move
            return
        if kind != "new":
            self.stats.commands_stale += 1  # a duplicate or a late (reordered) command is never applied
            return
        if len(msg.values) != len(self.desc.actuators):
            self.stats.commands_rejected += 1
            self.send(Nack(MsgType.COMMAND, seq, NackReason.LENGTH,
                           f"{len(msg.values)} values, device has {len(self.desc.actuators)}"))  # fmt: skip
            return
        for ch, v in zip(self.desc.actuators, msg.values, strict=True):
            if not (ch.min <= v <= ch.max):  # also rejects NaN
                self.stats.commands_rejected += 1
                self.send(Nack(MsgType.COMMAND, seq, NackReason.RANGE, f"{ch.name}={v:g} outside range"[:48]))
                return
        values = dict(zip(self.desc.actuator_names, (float(v) for v in msg.values), strict=True))
        for lock in self.desc.interlocks:
            if lock.refuses(values):
                self.stats.commands_interlocked += 1
                self.send(Nack(MsgType.COMMAND, seq, NackReason.INTERLOCK, f"interlock: {lock.name}"[:48]))
                return
        if self.failsafe:
            self.stats.commands_rejected += 1
            return
        self.actuators = values
        self.hw.apply(self.actuators)
        self.stats.commands_applied += 1
        self._last_command_time = self.clock()
        self._last_command_seq = seq
        self._echo_host_time = msg.host_time_us

    # -- fail-safe and samples ------------------------------------------------------------------------------
    def _enter_safe_state(self, alarm: bool) -> None:
        self.actuators = self.desc.safe_values(self.actuators)
        self.hw.apply(self.actuators)
        self.hw.set_alarm(alarm)

    def _engage_failsafe(self, now: float, code: int = FaultCode.COMMAND_TIMEOUT, why: str = "") -> None:
        """Compressor off, vent, alarm on, FAULT raised; commands are ignored until a HELLO clears it."""
        self.failsafe = True
        self.failsafe_cause = int(code)
        self.stats.failsafe_engaged += 1
        self._enter_safe_state(alarm=True)
        if code == FaultCode.COMMAND_TIMEOUT:
            why = why or f"no valid command for {now - self._last_command_time:.3f} s"
            text = "command timeout: fail-safe"
        else:
            self.stats.limit_trips += 1
            text = f"limit: {why}"
        log.warning("%s: fail-safe engaged (compressor off, vent, alarm)", why)
        self.send(Fault(self.device_time_us(now), code, True, text[:48]))

    def _clear_failsafe(self, now: float) -> None:
        code = self.failsafe_cause or FaultCode.COMMAND_TIMEOUT
        self.failsafe = False
        self.failsafe_cause = 0
        self.hw.set_alarm(False)
        self.send(Fault(self.device_time_us(now), code, False, "fail-safe cleared by HELLO"))

    def _check_limits(self, readings: Mapping[str, float], now: float) -> None:
        """Engage the fail-safe when a reading the device's own limits watch is beyond its limit or implausible."""
        for limit in self.desc.limits:
            value = float(readings.get(limit.sensor, math.nan))
            code = limit.violated(value)
            if code:
                self._engage_failsafe(now, code, f"{limit.sensor} = {value:.6g} ({limit.description or limit.kind})")
                return

    def _limits_clear(self, now: float) -> bool:
        """True when a HELLO may end the fail-safe: after a limit's, every limit's reading is plausible and below its
        clear level; after a command timeout, no reading is beyond its limit now. (Samples do not check the limits
        during a fail-safe: a timeout's was cleared unseen, and a command could act on a hot head until the next
        sample.) A reading beyond its limit turns the timeout's fail-safe into that limit's."""
        readings = self.hw.read()
        if self.failsafe_cause in (0, FaultCode.COMMAND_TIMEOUT):
            self._check_limits(readings, now)
            return self.failsafe_cause in (0, FaultCode.COMMAND_TIMEOUT)
        return all(limit.cleared(float(readings.get(limit.sensor, math.nan))) for limit in self.desc.limits)

    def status(self) -> int:
        bits = 0
        if self.in_session:
            bits |= Status.SESSION
        if self.failsafe:
            bits |= Status.FAILSAFE
            if self.failsafe_cause not in (0, FaultCode.COMMAND_TIMEOUT):
                bits |= Status.LIMIT
        if self.hw.alarm_on:
            bits |= Status.ALARM
        return bits

    def _send_sample(self, now: float) -> None:
        readings = self.hw.read()
        if not self.failsafe:
            self._check_limits(readings, now)
        values = tuple(float(readings.get(name, math.nan)) for name in self.desc.sensor_names)
        status = self.status()
        if any(math.isnan(v) for v in values):
            status |= Status.SENSOR_FAULT
        self.send(Sample(self.device_time_us(now), self._last_command_seq, self._echo_host_time, status, values))
        self.stats.samples_sent += 1


def type_code(msg: Message) -> int:
    """The MsgType of a message object."""
    return {
        Hello: MsgType.HELLO, HelloAck: MsgType.HELLO_ACK, Command: MsgType.COMMAND, Sample: MsgType.SAMPLE,
        Heartbeat: MsgType.HEARTBEAT, Fault: MsgType.FAULT, Ack: MsgType.ACK, Nack: MsgType.NACK, Bye: MsgType.BYE,
    }[type(msg)]  # fmt: skip


def serve_forever(port_factory: Callable[[], Port], hardware: Hardware, description: DeviceDescription,
                  stop: threading.Event, reopen_delay_s: float = 0.5) -> None:  # fmt: skip
    """Serve, reopening the port when it disappears (the Pi's UART or USB adapter coming back), until stop."""
    while not stop.is_set():
        try:
            port = port_factory()
        except PortGone as err:
            log.warning("%s; retrying in %.1f s", err, reopen_delay_s)
            stop.wait(reopen_delay_s)
            continue
        agent = Agent(port, hardware, description)
        try:
            agent.serve(stop)
        except PortGone as err:
            log.warning("port lost (%s): actuators to the safe state", err)
            agent._enter_safe_state(alarm=True)
        finally:
            port.close()
