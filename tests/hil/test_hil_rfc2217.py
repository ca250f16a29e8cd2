"""rfc2217:// device URLs: the virtual device's pty shared over the network by an RFC 2217 server (pyserial's)."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import serial
import serial.rfc2217

from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.host.device_slave import SerialDevice
from orchestrator.hil.sim.virtual import VirtualDevice

# These tests run against the wall clock over real pseudo-terminals: a scheduling hiccup on a loaded machine can
# miss a deadline. A rerun (at most two) tells such a hiccup from a real fault, which fails every time.
pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=1)


class PtySerial(serial.Serial):
    """A pty opened as a serial port: it has no modem lines, so they read as inactive and setting them does nothing
    (as on a 3-wire UART)."""

    @property
    def cts(self) -> bool:
        return False

    @property
    def dsr(self) -> bool:
        return False

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return False

    def _update_dtr_state(self) -> None:  # no DTR/RTS/BREAK lines to drive on a pty
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass


class Rfc2217Server:
    """One-connection RFC 2217 server in front of a local serial port, built on serial.rfc2217.PortManager."""

    def __init__(self, port_path: str) -> None:
        self.serial = PtySerial(port_path, timeout=0.02)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.conn: socket.socket | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def write(self, data: bytes) -> None:  # PortManager's connection interface
        with self._lock:
            self.conn.sendall(data)

    def _serve(self) -> None:
        self.listener.settimeout(5)
        try:
            self.conn, _ = self.listener.accept()
        except OSError:
            return
        self.conn.settimeout(0.02)
        manager = serial.rfc2217.PortManager(self.serial, self)
        pump = threading.Thread(target=self._serial_to_net, args=(manager,), daemon=True)
        pump.start()
        while not self.stop.is_set():
            try:
                data = self.conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            self.serial.write(b"".join(manager.filter(data)))
        self.stop.set()
        pump.join(1)

    def _serial_to_net(self, manager) -> None:
        while not self.stop.is_set():
            try:
                data = self.serial.read(4096)
                if data:
                    self.write(b"".join(manager.escape(data)))
            except (OSError, TypeError, serial.SerialException):  # closed under us at shutdown
                break

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        with contextlib.suppress(OSError):
            self.listener.close()
            if self.conn is not None:
                self.conn.close()
        self.serial.close()


def test_rfc2217_url_reaches_the_device(description, drive):
    hw = BenchHardware(description)
    with VirtualDevice(hw, description) as vd:
        server = Rfc2217Server(vd.path)
        try:
            dev = SerialDevice(f"rfc2217://127.0.0.1:{server.port}", description,
                               {"sample_rate_hz": 100, "stale_after_s": 0.5})  # fmt: skip
            trace = drive(dev, 30)
            dev.parts["psa"].terminate()
        finally:
            server.close()
    assert all(ok == 1.0 for ok in trace.link_ok)
    assert vd.agent.stats.commands_applied == 30
    assert dev.metrics()["bad_crc"] == 0
