"""The O2 Twin HIL serial protocol, version 1: message types, little-endian layouts, sequence tracking.

Every frame (see framing.py) carries one message: a 3-byte header ``<B H`` (message type, sequence number) and a
type-specific body. Each side numbers the frames it sends with its own 16-bit sequence counter (wrapping); the
receiver uses it to detect drops, duplicates and reordering, accepts a number as new only within a window ahead of
the newest it has seen (``SEQ_MAX_AHEAD``) and resynchronises at the handshake (HELLO / HELLO_ACK). Bodies are packed little-endian with no padding,
floats are IEEE-754 float32 (NaN = "not measured"). docs/serial-protocol.md has the byte tables and state machine.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from orchestrator.hil.link.framing import MAX_PAYLOAD, encode_frame

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

HEADER = struct.Struct("<BH")
#: Highest sample and command rate a device may be asked for, Hz.
MAX_RATE_HZ = 200
#: A sequence number more than this far ahead of the newest seen is out of the window: dropped, never acted on.
#: 1024 frames are 5 s at the highest rate, more than any gap the link survives without a new handshake (the
#: device's fail-safe ends a session after at most its maximum command timeout; the host re-handshakes when its
#: samples go stale).
SEQ_MAX_AHEAD = 1024
#: How far behind the newest a number is still judged (duplicate or late); older ones are out of the window.
SEQ_WINDOW_BEHIND = 256


class MsgType(IntEnum):
    HELLO = 0x01  #: host -> device: open a session (version, rate, command timeout)
    HELLO_ACK = 0x02  #: device -> host: accepted; capabilities
    COMMAND = 0x10  #: host -> device: actuator values
    SAMPLE = 0x11  #: device -> host: sensor values with device timestamp
    HEARTBEAT = 0x20  #: either way: liveness and round-trip time; answered with an echo
    FAULT = 0x30  #: device -> host: a fault/alarm was raised or cleared
    ACK = 0x40  #: receiver accepted a message that asks for one (BYE)
    NACK = 0x41  #: receiver refused a message (version mismatch, bad length, out of range, no session)
    BYE = 0x50  #: host -> device: end the session; the device goes to the safe state


class Status(IntEnum):
    """Bits of SAMPLE.status."""

    SESSION = 0x01  #: a session is open (a HELLO was accepted)
    FAILSAFE = 0x02  #: the fail-safe holds the actuators in the safe state; commands are ignored
    ALARM = 0x04  #: the audible/visual alarm is on
    SENSOR_FAULT = 0x08  #: at least one sensor reads NaN or out of range
    LIMIT = 0x10  #: the fail-safe holds because of the device's own limit (pressure, temperature, sensor fault)


class FaultCode(IntEnum):
    COMMAND_TIMEOUT = 1  #: no valid COMMAND within the command timeout: fail-safe engaged
    SENSOR_FAULT = 2  #: a sensor the device's own limits watch reads NaN or outside its plausible range: fail-safe
    OVER_TEMPERATURE = 3  #: the device's own temperature limit: fail-safe
    HARDWARE_ERROR = 4
    RESTARTED = 5  #: sent once after boot (device timestamps start again at zero)
    OVER_PRESSURE = 6  #: the device's own pressure limit: fail-safe


class NackReason(IntEnum):
    VERSION = 1  #: protocol major version not supported
    LENGTH = 2  #: body length does not match the layout
    NO_SESSION = 3  #: COMMAND before a HELLO was accepted
    RANGE = 4  #: a value outside its declared range, or NaN
    RATE = 5  #: requested rate above the device's maximum
    UNKNOWN_TYPE = 6
    INTERLOCK = 7  #: the COMMAND's pattern is refused by a device interlock (e.g. compressor on, no flow path)


class ProtocolError(ValueError):
    """A frame with a valid CRC whose content does not follow the protocol (counted, not acted on)."""


_HELLO = struct.Struct("<BBHHI")  # major, minor, sample_rate_hz, command_timeout_ms, host_nonce
_HELLO_ACK = struct.Struct("<BBHHIIBB")  # major, minor, sample_rate_hz, timeout_ms, boot_id, layout_crc, n_act, n_sens
_COMMAND = struct.Struct("<I")  # host_time_us (echoed in SAMPLE for round-trip time)
_SAMPLE = struct.Struct("<QHIH")  # device_time_us, last applied COMMAND seq, echoed host_time_us, status
_HEARTBEAT = struct.Struct("<II")  # sender time us, echo (0 in a request)
_FAULT = struct.Struct("<QHB")  # device_time_us, code, active (1 raised, 0 cleared)
_ACK = struct.Struct("<BH")  # acknowledged type, acknowledged seq
_NACK = struct.Struct("<BHB")  # refused type, refused seq, reason


@dataclass(frozen=True)
class Hello:
    major: int = PROTOCOL_MAJOR
    minor: int = PROTOCOL_MINOR
    sample_rate_hz: int = 50
    command_timeout_ms: int = 500
    host_nonce: int = 0


@dataclass(frozen=True)
class HelloAck:
    major: int
    minor: int
    sample_rate_hz: int
    command_timeout_ms: int
    boot_id: int
    layout_crc: int
    n_actuators: int
    n_sensors: int
    device_name: str = ""


@dataclass(frozen=True)
class Command:
    host_time_us: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class Sample:
    device_time_us: int
    command_seq: int
    echo_host_time_us: int
    status: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class Heartbeat:
    time_us: int
    echo_us: int = 0


@dataclass(frozen=True)
class Fault:
    device_time_us: int
    code: int
    active: bool
    text: str = ""


@dataclass(frozen=True)
class Ack:
    acked_type: int
    acked_seq: int


@dataclass(frozen=True)
class Nack:
    refused_type: int
    refused_seq: int
    reason: int
    text: str = ""


@dataclass(frozen=True)
class Bye:
    pass


Message = Hello | HelloAck | Command | Sample | Heartbeat | Fault | Ack | Nack | Bye

_TEXT_MAX = 48


def _text(s: str) -> bytes:
    return s.encode("utf-8")[:_TEXT_MAX]


def _untext(body: bytes) -> str:
    """A text field from the device, as the host shows and logs it: invalid UTF-8 and control characters (a
    newline would start a forged log line, an escape sequence would drive the terminal) become U+FFFD."""
    return "".join(c if c.isprintable() else "\ufffd" for c in body.decode("utf-8", errors="replace"))


def _floats(values: tuple[float, ...]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _unfloats(body: bytes, what: str) -> tuple[float, ...]:
    if len(body) % 4:
        raise ProtocolError(f"{what}: {len(body)} value bytes is not a whole number of float32")
    return struct.unpack(f"<{len(body) // 4}f", body)


def pack_message(msg: Message, seq: int) -> bytes:
    """Header + body of msg (the frame payload)."""
    seq &= 0xFFFF
    if isinstance(msg, Hello):
        t, body = MsgType.HELLO, _HELLO.pack(msg.major, msg.minor, msg.sample_rate_hz, msg.command_timeout_ms,
                                             msg.host_nonce)  # fmt: skip
    elif isinstance(msg, HelloAck):
        t = MsgType.HELLO_ACK
        body = _HELLO_ACK.pack(msg.major, msg.minor, msg.sample_rate_hz, msg.command_timeout_ms, msg.boot_id,
                               msg.layout_crc, msg.n_actuators, msg.n_sensors) + _text(msg.device_name)  # fmt: skip
    elif isinstance(msg, Command):
        t, body = MsgType.COMMAND, _COMMAND.pack(msg.host_time_us & 0xFFFFFFFF) + _floats(msg.values)
    elif isinstance(msg, Sample):
        t = MsgType.SAMPLE
        body = _SAMPLE.pack(msg.device_time_us, msg.command_seq & 0xFFFF, msg.echo_host_time_us & 0xFFFFFFFF,
                            msg.status) + _floats(msg.values)  # fmt: skip
    elif isinstance(msg, Heartbeat):
        t, body = MsgType.HEARTBEAT, _HEARTBEAT.pack(msg.time_us & 0xFFFFFFFF, msg.echo_us & 0xFFFFFFFF)
    elif isinstance(msg, Fault):
        t, body = MsgType.FAULT, _FAULT.pack(msg.device_time_us, msg.code, int(msg.active)) + _text(msg.text)
    elif isinstance(msg, Ack):
        t, body = MsgType.ACK, _ACK.pack(msg.acked_type, msg.acked_seq & 0xFFFF)
    elif isinstance(msg, Nack):
        t, body = MsgType.NACK, _NACK.pack(msg.refused_type, msg.refused_seq & 0xFFFF, msg.reason) + _text(msg.text)
    elif isinstance(msg, Bye):
        t, body = MsgType.BYE, b""
    else:  # pragma: no cover - programming error
        raise TypeError(f"not a protocol message: {msg!r}")
    payload = HEADER.pack(t, seq) + body
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{t.name} of {len(payload)} bytes exceeds the frame limit {MAX_PAYLOAD}")
    return payload


def frame_message(msg: Message, seq: int) -> bytes:
    """The complete wire frame of msg with sequence number seq."""
    return encode_frame(pack_message(msg, seq))


def _fixed(s: struct.Struct, body: bytes, name: str, exact: bool = True) -> tuple:
    if len(body) < s.size or (exact and len(body) != s.size):
        raise ProtocolError(f"{name}: body of {len(body)} bytes, expected {s.size}")
    return s.unpack_from(body)


def unpack_message(payload: bytes) -> tuple[int, Message]:
    """(seq, message) from a frame payload; ProtocolError for an unknown type or a wrong length."""
    if len(payload) < HEADER.size:
        raise ProtocolError(f"payload of {len(payload)} bytes is shorter than the header")
    type_code, seq = HEADER.unpack_from(payload)
    body = payload[HEADER.size :]
    try:
        t = MsgType(type_code)
    except ValueError:
        raise ProtocolError(f"unknown message type 0x{type_code:02x}") from None
    if t is MsgType.HELLO:
        return seq, Hello(*_fixed(_HELLO, body, "HELLO"))
    if t is MsgType.HELLO_ACK:
        major, minor, rate, timeout, boot, crc, n_act, n_sens = _fixed(_HELLO_ACK, body, "HELLO_ACK", exact=False)
        name = _untext(body[_HELLO_ACK.size :])
        return seq, HelloAck(major, minor, rate, timeout, boot, crc, n_act, n_sens, device_name=name)
    if t is MsgType.COMMAND:
        (host_time,) = _fixed(_COMMAND, body, "COMMAND", exact=False)
        return seq, Command(host_time, _unfloats(body[_COMMAND.size :], "COMMAND"))
    if t is MsgType.SAMPLE:
        device_us, command_seq, echo_us, status = _fixed(_SAMPLE, body, "SAMPLE", exact=False)
        return seq, Sample(device_us, command_seq, echo_us, status, _unfloats(body[_SAMPLE.size :], "SAMPLE"))
    if t is MsgType.HEARTBEAT:
        return seq, Heartbeat(*_fixed(_HEARTBEAT, body, "HEARTBEAT"))
    if t is MsgType.FAULT:
        time_us, code, active = _fixed(_FAULT, body, "FAULT", exact=False)
        return seq, Fault(time_us, code, bool(active), _untext(body[_FAULT.size :]))
    if t is MsgType.ACK:
        return seq, Ack(*_fixed(_ACK, body, "ACK"))
    if t is MsgType.NACK:
        refused, refused_seq, reason = _fixed(_NACK, body, "NACK", exact=False)
        return seq, Nack(refused, refused_seq, reason, _untext(body[_NACK.size :]))
    if body:
        raise ProtocolError(f"BYE carries no body, got {len(body)} bytes")
    return seq, Bye()


def layout_crc(actuators: list[str], sensors: list[str]) -> int:
    """32-bit fingerprint of the channel layout (names in wire order), exchanged at HELLO_ACK.

    Host and device must agree on which float is which; a mismatch is refused before any command is sent.
    """
    import zlib

    text = "A:" + ",".join(actuators) + ";S:" + ",".join(sensors)
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF


@dataclass
class SequenceTracker:
    """Classifies received sequence numbers (16-bit, wrapping) within a window; counts gaps.

    A number 1..``max_ahead`` ahead of the newest seen is new; numbers skipped on the way count as dropped until
    they arrive late, when they count as reordered instead. A number seen within the last ``window`` is a duplicate,
    an unseen one there is late (reordered). Anything else (far ahead, or older than the window) is out of the
    window: counted and dropped, and the newest number does not move, so one stray or forged frame cannot make the
    receiver ignore the numbers that follow. ``reset()`` (at the handshake, or a peer's restart) starts afresh.
    """

    window: int = SEQ_WINDOW_BEHIND
    max_ahead: int = SEQ_MAX_AHEAD
    newest: int | None = None
    dropped: int = 0
    duplicates: int = 0
    reordered: int = 0
    out_of_window: int = 0
    _seen: set[int] = field(default_factory=set)
    _missing: set[int] = field(default_factory=set)

    def reset(self) -> None:
        """Forget history (a new session or a restarted peer starts its numbering afresh)."""
        self.newest = None
        self._seen.clear()
        self._missing.clear()

    def classify(self, seq: int) -> str:
        """'new', 'duplicate', 'late' (a reordered frame older than the newest) or 'out_of_window'."""
        if self.newest is None:
            self.newest = seq
            self._seen = {seq}
            return "new"
        if seq in self._seen:
            self.duplicates += 1
            return "duplicate"
        ahead = (seq - self.newest) & 0xFFFF
        if 0 < ahead <= self.max_ahead:
            for k in range(1, ahead):
                self._missing.add((self.newest + k) & 0xFFFF)
            self.dropped += ahead - 1
            self.newest = seq
            self._remember(seq)
            return "new"
        if (self.newest - seq) & 0xFFFF >= self.window:
            self.out_of_window += 1
            return "out_of_window"
        self._remember(seq)
        if seq in self._missing:
            self._missing.discard(seq)
            self.dropped -= 1
        self.reordered += 1
        return "late"

    def _remember(self, seq: int) -> None:
        self._seen.add(seq)
        if len(self._seen) > self.window:
            newest = self.newest or 0
            self._seen = {s for s in self._seen if ((newest - s) & 0xFFFF) < self.window}
            self._missing = {s for s in self._missing if ((newest - s) & 0xFFFF) < self.window}
