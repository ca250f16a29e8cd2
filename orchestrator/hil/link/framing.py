"""Byte framing of the HIL serial link: COBS-encoded frames with a CRC-16, delimited by a zero byte.

Wire form of one frame: ``b"\\x00" + COBS(payload + crc16_le(payload)) + b"\\x00"``. COBS removes every zero byte from the
encoded body, so 0x00 only ever marks a frame end: after line noise, a garbage burst or a restart mid-frame the
decoder resynchronises at the next zero byte. The leading delimiter ends any garbage that preceded the frame, so a good frame is never lost
by being glued to noise; an empty frame (two delimiters in a row) is idle line, not an error. The CRC (CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, no
reflection, no final xor; check value 0x29B1 for b"123456789") rejects corrupted frames; they are counted and
dropped, never handed on. Small enough for a microcontroller: a 256-entry table or a bitwise loop, no heap.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Largest payload (message header + body) a frame may carry, bytes. Longer input is discarded as garbage.
MAX_PAYLOAD = 250
#: Largest encoded frame on the wire: COBS adds at most one byte per 254, plus CRC and the delimiter.
MAX_ENCODED = MAX_PAYLOAD + 2 + (MAX_PAYLOAD + 2) // 254 + 1 + 2


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc16_table()


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of data (poly 0x1021, init 0xFFFF)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result contains no zero byte (no delimiter appended)."""
    out = bytearray([0])
    code_index = 0
    code = 1
    for byte in data:
        if byte == 0:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
    out[code_index] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Inverse of cobs_encode; None if data is not a valid COBS block (a zero byte or a code past the end)."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            return None
        block = data[i + 1 : end]
        if 0 in block:
            return None
        out += block
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    """One wire frame for payload: 0x00, COBS(payload + CRC16 little-endian), 0x00."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte frame limit")
    crc = crc16_ccitt(payload)
    return b"\x00" + cobs_encode(payload + bytes((crc & 0xFF, crc >> 8))) + b"\x00"


@dataclass
class FramingStats:
    """What the decoder saw: good frames and every kind of rejected input (counts only grow)."""

    frames: int = 0
    bad_crc: int = 0
    bad_cobs: int = 0
    too_long: int = 0
    too_short: int = 0
    bytes_in: int = 0
    bytes_discarded: int = 0

    @property
    def rejected(self) -> int:
        return self.bad_crc + self.bad_cobs + self.too_long + self.too_short


class FrameDecoder:
    """Incremental decoder: feed it any bytes, get back the payloads of frames whose CRC checks out.

    Never raises on input; anything that is not a valid frame is counted in ``stats`` and dropped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self.stats = FramingStats()

    def feed(self, data: bytes) -> list[bytes]:
        payloads: list[bytes] = []
        self.stats.bytes_in += len(data)
        for chunk_end, part in _split_keep(data):
            if part:
                if self._overflow or len(self._buf) + len(part) > MAX_ENCODED:
                    if not self._overflow:
                        self.stats.bytes_discarded += len(self._buf)
                    self._overflow = True
                    self._buf.clear()
                    self.stats.bytes_discarded += len(part)
                else:
                    self._buf += part
            if chunk_end:
                payload = self._finish()
                if payload is not None:
                    payloads.append(payload)
        return payloads

    def _finish(self) -> bytes | None:
        raw = bytes(self._buf)
        self._buf.clear()
        if self._overflow:
            self._overflow = False
            self.stats.too_long += 1
            return None
        if not raw:
            return None  # back-to-back delimiters: an idle line, not an error
        decoded = cobs_decode(raw)
        if decoded is None:
            self.stats.bad_cobs += 1
            self.stats.bytes_discarded += len(raw)
            return None
        if len(decoded) < 3:
            self.stats.too_short += 1
            self.stats.bytes_discarded += len(raw)
            return None
        payload, crc = decoded[:-2], decoded[-2] | (decoded[-1] << 8)
        if crc16_ccitt(payload) != crc:
            self.stats.bad_crc += 1
            self.stats.bytes_discarded += len(raw)
            return None
        self.stats.frames += 1
        return payload


def _split_keep(data: bytes) -> list[tuple[bool, bytes]]:
    """Split data at zero bytes: [(ends_with_delimiter, part), ...]."""
    parts = data.split(b"\x00")
    return [(i < len(parts) - 1, p) for i, p in enumerate(parts)]
