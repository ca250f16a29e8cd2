"""The device agent under line noise: arbitrary bytes never move an actuator (property test over real pipes)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.hil.device.agent import Agent
from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.link.framing import FrameDecoder
from orchestrator.hil.link.ports import FdPort
from orchestrator.hil.link.protocol import Command, Hello, HelloAck, frame_message, unpack_message


class PipePort:
    """Reads from one pipe, writes to another: the agent's side of a link made of real file descriptors."""

    def __init__(self) -> None:
        self.host_to_dev = os.pipe()
        self.dev_to_host = os.pipe()
        self._in = FdPort(self.host_to_dev[0], "pipe in")
        self._out = FdPort(self.dev_to_host[1], "pipe out")
        self.host_reader = FdPort(self.dev_to_host[0], "host in")

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        return self._in.read(max_bytes, timeout_s)

    def write(self, data: bytes) -> None:
        self._out.write(data)

    def host_send(self, data: bytes) -> None:
        os.write(self.host_to_dev[1], data)

    def host_receive(self) -> list:
        dec = FrameDecoder()
        out = []
        while data := self.host_reader.read(65536, 0.0):
            out += [unpack_message(p)[1] for p in dec.feed(data)]
        return out

    def close(self) -> None:
        for fd in (*self.host_to_dev, *self.dev_to_host):
            os.close(fd)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(min_size=1, max_size=2000))
def test_noise_never_moves_an_actuator(description, noise):
    port = PipePort()
    try:
        hw = BenchHardware(description)
        agent = Agent(port, hw, description, clock=lambda: 0.0)  # frozen clock: no timeouts, one sample
        port.host_send(frame_message(Hello(command_timeout_ms=2000), 7))
        agent.poll(0.0)
        assert any(isinstance(m, HelloAck) for m in port.host_receive())
        values = (0.5, 1.0, 0.0, 0.0, 1.0, 0.0, 5e-5, 0.0)  # duty, valves, Q_set, blockage; then the noise inputs
        good = Command(1, values + (0.0,) * (len(description.actuators) - len(values)))
        port.host_send(frame_message(good, 8))
        agent.poll(0.0)
        applied_before = list(hw.applied)
        assert applied_before[-1]["duty"] == 0.5
        for i in range(0, len(noise), 512):
            port.host_send(noise[i : i + 512])
            agent.poll(0.0)
        # (a valid COMMAND hidden in random noise needs valid COBS, the right length, in-range values and a matching
        # CRC-16: hypothesis does not find one)
        assert hw.applied == applied_before, f"noise moved an actuator: {hw.applied[len(applied_before) :]}"
        assert agent.in_session and not agent.failsafe
        assert agent.decoder.stats.bytes_in >= len(noise)  # the agent did read all of it
    finally:
        port.close()
