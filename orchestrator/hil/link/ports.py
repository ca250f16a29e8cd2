"""Byte ports for the HIL link: pyserial URLs on the host, raw file descriptors (pty masters) on the device side.

Both offer the small interface the host and the agent need: ``read(max_bytes, timeout_s) -> bytes`` (b"" on
timeout), ``write(data)``, ``close()``. A vanished port raises PortGone, the one error the link layer handles.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
from typing import Protocol

import serial

from orchestrator.errors import DeviceError

#: The pyserial URL schemes a device may be reached by (docs/hil.md). pyserial imports a handler module named after
#: any scheme it is given, and some act on the machine: spy:// writes its log to the file its ?file= names.
DEVICE_SCHEMES = ("serial", "socket", "rfc2217", "loop")
#: Where serial ports live (Linux): a device path is opened read-write, and opening another device (a watchdog,
#: raw memory) could act on the machine. ttyS, ttyUSB, ttyACM, ttyAMA, ttyGS; pseudo-terminals; Bluetooth.
SERIAL_DEVICE_PREFIXES = ("/dev/tty", "/dev/pts/", "/dev/rfcomm")


class Port(Protocol):
    """What the agent and the host need of a byte stream (FdPort, SerialPort, TcpServerPort)."""

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class PortGone(OSError):
    """The port disappeared (cable unplugged, pty closed, USB adapter removed)."""


class FdPort:
    """A port over a file descriptor (a pty master or a pipe), non-blocking reads with select."""

    def __init__(self, fd: int, name: str = "") -> None:
        self.fd = fd
        self.name = name or f"fd{fd}"
        os.set_blocking(fd, False)

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        try:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
            if not ready:
                return b""
            data = os.read(self.fd, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as err:
            raise PortGone(err.errno, f"{self.name}: {err.strerror}") from None
        if not data:
            raise PortGone(errno.EIO, f"{self.name}: end of file")
        return data

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 0.05)
                continue
            except OSError as err:
                raise PortGone(err.errno, f"{self.name}: {err.strerror}") from None
            view = view[n:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class SerialPort:
    """A pyserial port opened from a URL or a device path (serial://, rfc2217://, socket://, loop://, /dev/...)."""

    def __init__(self, url: str, baudrate: int = 115200) -> None:
        self.url = url
        target, baud = parse_url(url, baudrate)
        if "://" not in target:
            check_serial_device(target, url)
        try:
            self._ser = serial.serial_for_url(target, baudrate=baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as err:
            raise PortGone(errno.ENODEV, f"cannot open {url}: {err}") from None
        if isinstance(self._ser, serial.Serial):  # a local port (rfc2217:// has no write timeout)
            self._ser.write_timeout = 1.0  # a blocked port must not hang the master forever
        self.baudrate = baud

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        try:
            timeout_s = max(0.0, timeout_s)
            if self._ser.timeout != timeout_s:  # reconfiguring a tty costs a syscall: only when it changes
                self._ser.timeout = timeout_s
            first = self._ser.read(1)
            if not first:
                return b""
            waiting = self._ser.in_waiting
            return first + (self._ser.read(min(waiting, max_bytes - 1)) if waiting else b"")
        except (serial.SerialException, OSError) as err:
            raise PortGone(errno.EIO, f"{self.url}: {err}") from None

    def write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
        except (serial.SerialException, OSError) as err:
            raise PortGone(errno.EIO, f"{self.url}: {err}") from None

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._ser.close()


def check_serial_device(path: str, url: str) -> None:
    """A serial device path from a URL (often a scenario's [plant] device) must be a terminal device under
    SERIAL_DEVICE_PREFIXES, or a link to one; DeviceError otherwise. A path that does not exist passes: opening it
    fails with the usual 'cannot open' (PortGone), which the link retries while a USB adapter is replugged."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    real = os.path.realpath(path)
    if not stat.S_ISCHR(mode) or not real.startswith(SERIAL_DEVICE_PREFIXES):
        raise DeviceError(
            f"device URL '{url}': {path} is not a serial device (a terminal device "
            f"{', '.join(p + '*' for p in SERIAL_DEVICE_PREFIXES)}, or a link to one); it is not opened"
        )


def parse_url(url: str, default_baud: int = 115200) -> tuple[str, int]:
    """Split an o2twin device URL into what pyserial opens and the baud rate.

    ``serial:///dev/ttyUSB0?baud=115200`` -> ("/dev/ttyUSB0", 115200); a plain path is used as is; rfc2217://,
    socket:// and loop:// URLs are passed through unchanged. Any other scheme (spy://, alt://, hwgrep://, ...) is a
    DeviceError: the URL may come from a scenario file, and pyserial would import the scheme's handler.
    """
    if not url:
        raise DeviceError("empty device URL: give e.g. serial:///dev/ttyUSB0?baud=115200 or socket://host:port")
    if "://" in url and (scheme := url.split("://", 1)[0].lower()) not in DEVICE_SCHEMES:
        raise DeviceError(
            f"device URL '{url}': scheme '{scheme}' is not one of {', '.join(DEVICE_SCHEMES)} (docs/hil.md); "
            "e.g. serial:///dev/ttyUSB0?baud=115200 or socket://host:port"
        )
    baud = default_baud
    if url.startswith("serial://"):
        rest = url[len("serial://") :]
        path, _, query = rest.partition("?")
        for item in filter(None, query.split("&")):
            key, _, value = item.partition("=")
            if key in ("baud", "baudrate"):
                if not value.isdigit() or int(value) <= 0:
                    raise DeviceError(f"{url}: baud must be a positive integer, got {value!r}")
                baud = int(value)
            else:
                raise DeviceError(f"{url}: unknown option '{key}' (serial:// URLs take ?baud=N)")
        if not path:
            raise DeviceError(f"{url}: no device path; e.g. serial:///dev/ttyUSB0?baud=115200")
        return path, baud
    return url, baud


class TcpServerPort:
    """The device side of a TCP link (host: socket://HOST:PORT): listens, serves one connection at a time.

    read() accepts a pending connection first; a closed connection raises PortGone and the next read() waits for
    the host to connect again.
    """

    #: the agent keeps serving after the host disconnects (it goes to the safe state and waits)
    reconnectable = True

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.setblocking(False)
        self.port = self._server.getsockname()[1]
        self._conn: socket.socket | None = None
        self.name = f"tcp:{host}:{self.port}"

    def _accept(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self._server], [], [], timeout_s)
        if not ready:
            return False
        conn, _ = self._server.accept()
        conn.settimeout(1.0)  # reads are select()ed first; writes may wait for buffer space
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return True

    def read(self, max_bytes: int = 4096, timeout_s: float = 0.0) -> bytes:
        if self._conn is None and not self._accept(timeout_s):
            return b""
        conn = self._conn
        if conn is None:
            return b""
        ready, _, _ = select.select([conn], [], [], max(0.0, timeout_s))
        if not ready:
            return b""
        try:
            data = conn.recv(max_bytes)
        except BlockingIOError:
            return b""
        except OSError as err:
            self._drop()
            raise PortGone(errno.ECONNRESET, f"{self.name}: {err}") from None
        if not data:
            self._drop()
            raise PortGone(errno.ECONNRESET, f"{self.name}: the host closed the connection")
        return data

    def write(self, data: bytes) -> None:
        if self._conn is None:
            return  # nobody connected: like a UART with no cable, the bytes go nowhere
        try:
            self._conn.sendall(data)
        except OSError as err:
            self._drop()
            raise PortGone(errno.ECONNRESET, f"{self.name}: {err}") from None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop()
        self._server.close()
