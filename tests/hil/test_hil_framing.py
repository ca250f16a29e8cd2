"""Framing and protocol: COBS/CRC round trips, property tests of the decoder, message layouts, sequence tracking."""

from __future__ import annotations

import contextlib
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.hil.link.framing import (
    MAX_PAYLOAD,
    FrameDecoder,
    cobs_decode,
    cobs_encode,
    crc16_ccitt,
    encode_frame,
)
from orchestrator.hil.link.protocol import (
    Ack,
    Bye,
    Command,
    Fault,
    Heartbeat,
    Hello,
    HelloAck,
    Nack,
    ProtocolError,
    Sample,
    SequenceTracker,
    pack_message,
    unpack_message,
)

payloads = st.binary(min_size=1, max_size=MAX_PAYLOAD)


def test_crc16_ccitt_false_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740).
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc16_ccitt(b"") == 0xFFFF


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 256, 508, 509])
def test_cobs_round_trip_at_block_boundaries(n):
    for data in (bytes(n), bytes(range(1, 256)) * 2, random.Random(n).randbytes(n)):
        data = data[:n]
        enc = cobs_encode(data)
        assert 0 not in enc
        assert len(enc) <= n + n // 254 + 1
        assert cobs_decode(enc) == data


@given(st.binary(max_size=1200))
def test_cobs_round_trip(data):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data


@given(st.lists(payloads, max_size=8))
def test_frames_round_trip_in_any_chunking(frames_data):
    wire = b"".join(encode_frame(p) for p in frames_data)
    rng = random.Random(len(wire))
    dec = FrameDecoder()
    out = []
    i = 0
    while i < len(wire):
        n = rng.randint(1, 40)
        out += dec.feed(wire[i : i + n])
        i += n
    assert out == frames_data
    assert dec.stats.rejected == 0


@settings(max_examples=300)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_crash_and_never_yield_a_bad_crc_frame(noise):
    dec = FrameDecoder()
    for payload in dec.feed(noise):
        # anything handed on must carry the CRC that the sender computed: re-encoding reproduces a frame the
        # noise contained verbatim
        assert encode_frame(payload)[1:-1] in noise
        assert len(payload) <= MAX_PAYLOAD


@settings(max_examples=200)
@given(payloads, st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_a_single_bit_error_is_always_detected(payload, where, bit):
    frame = bytearray(encode_frame(payload))
    pos = 1 + where % (len(frame) - 2)  # inside the frame, between the delimiters
    frame[pos] ^= 1 << bit
    dec = FrameDecoder()
    got = dec.feed(bytes(frame))
    assert payload not in got
    assert got == [] or all(encode_frame(p)[1:-1] in bytes(frame) for p in got)
    assert dec.stats.rejected >= 1


@given(st.binary(max_size=300), payloads, st.binary(max_size=300))
def test_a_good_frame_survives_garbage_around_it(before, payload, after):
    dec = FrameDecoder()
    got = dec.feed(before + encode_frame(payload) + after)
    assert payload in got


def test_oversized_garbage_is_discarded_and_counted():
    dec = FrameDecoder()
    assert dec.feed(b"\x01" * 5000 + b"\x00") == []
    assert dec.stats.too_long == 1
    assert dec.feed(encode_frame(b"ok!")) == [b"ok!"]


MESSAGES = [
    Hello(1, 0, 50, 500, 0xDEADBEEF),
    HelloAck(1, 0, 50, 500, 0x12345678, 0xCAFEF00D, 8, 18, "O2Twin concentrator"),
    Command(123456, (0.5, 1.0, 0.0, 0.0, 1.0, 0.0, 5e-5, 0.0)),
    Sample(2**40 + 5, 65535, 4294967295, 0x05, tuple(float(i) for i in range(18))),
    Heartbeat(1, 2),
    Fault(99, 1, True, "command timeout"),
    Ack(0x50, 7),
    Nack(0x01, 3, 1, "version"),
    Bye(),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_message_round_trip(msg):
    seq, back = unpack_message(pack_message(msg, 4242))
    assert seq == 4242
    if isinstance(msg, Command | Sample):
        assert back.values == pytest.approx(msg.values, rel=1e-7)  # float32 on the wire
        assert back.__class__ is msg.__class__
    else:
        assert back == msg


def test_layouts_are_little_endian_and_packed():
    # HELLO: type 0x01, seq 0x0102 LE, major, minor, rate u16, timeout u16, nonce u32
    raw = pack_message(Hello(1, 0, 0x0032, 0x01F4, 0x04030201), 0x0102)
    assert raw == bytes([0x01, 0x02, 0x01, 1, 0, 0x32, 0x00, 0xF4, 0x01, 0x01, 0x02, 0x03, 0x04])
    # COMMAND with one value 1.0f = 0x3F800000
    assert pack_message(Command(1, (1.0,)), 0) == bytes([0x10, 0, 0, 1, 0, 0, 0, 0, 0, 0x80, 0x3F])


@given(st.binary(max_size=260))
def test_unpack_rejects_or_parses_never_crashes(payload):
    with contextlib.suppress(ProtocolError):
        unpack_message(payload)


@given(st.text(max_size=16), st.sampled_from(["\n", "\r", "\x1b[2J", "\x00", "\u2028"]), st.text(max_size=16))
def test_device_text_reaches_logs_without_control_characters(before, control, after):
    """A device's fault text, NACK reason and name are shown and logged: no newline to forge a log line, no escape
    sequence for the terminal."""
    raw = (before + control + after).encode()[:30].decode("utf-8", errors="ignore")
    for msg in (Fault(1, 2, True, raw), Nack(1, 2, 3, raw), HelloAck(1, 0, 50, 500, 1, 2, 3, 4, raw)):
        _, back = unpack_message(pack_message(msg, 1))
        text = back.device_name if isinstance(back, HelloAck) else back.text
        assert text.isprintable() and len(text) == len(raw)


def test_wrong_lengths_are_protocol_errors():
    with pytest.raises(ProtocolError, match="HELLO"):
        unpack_message(pack_message(Hello(), 0)[:-1])
    with pytest.raises(ProtocolError, match="float32"):
        unpack_message(pack_message(Command(1, (1.0,)), 0) + b"\x00")
    with pytest.raises(ProtocolError, match="unknown message type"):
        unpack_message(b"\x99\x00\x00")


def test_nan_survives_the_wire():
    _, back = unpack_message(pack_message(Sample(0, 0, 0, 0, (math.nan, 1.0)), 0))
    assert math.isnan(back.values[0])


def test_sequence_tracker_classifies_drops_duplicates_and_reordering():
    t = SequenceTracker()
    kinds = [t.classify(s) for s in (65533, 65534, 1, 1, 65535, 0, 2)]
    # 65535 and 0 skipped at the wrap (2 dropped), then arrive late (no longer dropped, 2 reordered)
    assert kinds == ["new", "new", "new", "duplicate", "late", "late", "new"]
    assert (t.dropped, t.duplicates, t.reordered) == (0, 1, 2)
    t.classify(10)
    assert t.dropped == 7


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60))
def test_sequence_tracker_counts_every_number_once(offsets):
    # frames numbered from near the wrap, arriving in any order with repeats (within the tracking window)
    t = SequenceTracker()
    arrivals = [(65520 + o) & 0xFFFF for o in offsets]
    kinds = [t.classify(s) for s in arrivals]
    distinct = set(arrivals)
    assert kinds.count("duplicate") == len(arrivals) - len(distinct) == t.duplicates
    assert kinds.count("new") + kinds.count("late") == len(distinct)
    assert t.reordered == kinds.count("late")
    # dropped = numbers between the first and the newest that never arrived
    first = arrivals[0]
    span = [(first + k) & 0xFFFF for k in range(((t.newest - first) & 0xFFFF) + 1)]
    assert t.dropped == len([s for s in span if s not in distinct])
