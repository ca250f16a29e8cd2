"""A deterministic fault-injecting serial link between a host and a device, over real pseudo-terminals.

    host (pyserial) --> pty "host side" --[FaultLink thread: frames, faults, baud-rate timing]--> pty --> agent

The host opens ``link.host_path``, a symlink to the current host-side pty (like /dev/serial/by-id/... links), so
an "unplugged" cable can come back under the same name. The link cuts the byte stream into frames at the 0x00
delimiters and, per direction, with its own seeded random generator (so the same seed faults the same frames):
corrupts a bit, drops, duplicates, reorders (holds a frame back behind the next one) and prepends garbage bursts.
Scheduled faults: stalls (every byte in the window is lost), unplugging the cable (the host-side pty closes and
its path disappears for a while), and restarting the device. Bytes are delivered no faster than the configured
baud rate allows (10 bits per byte), since a pty itself ignores baud rates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.hil.link.ports import FdPort
from orchestrator.hil.sim.virtual import open_pty

log = logging.getLogger(__name__)

HOST_TO_DEVICE = "h2d"
DEVICE_TO_HOST = "d2h"


@dataclass
class FaultConfig:
    """Per-frame fault probabilities (each direction drawn independently) and scheduled faults (times in s
    from link start)."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    garbage: float = 0.0  #: probability of a garbage burst before a frame
    garbage_bytes: tuple[int, int] = (1, 64)
    active_after_s: float = 0.0  #: per-frame faults start this long after the link starts (e.g. after HELLO)
    directions: tuple[str, ...] = (HOST_TO_DEVICE, DEVICE_TO_HOST)
    #: (start_s, duration_s) for both directions, or (start_s, duration_s, direction) for one
    stalls: list[tuple] = field(default_factory=list)
    unplugs: list[tuple[float, float]] = field(default_factory=list)  #: (start_s, duration_s)
    restarts: list[float] = field(default_factory=list)  #: device restart instants
    baud: int | None = None  #: emulate this baud rate (None: as fast as the ptys go)


@dataclass
class FaultCounts:
    frames: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    garbage_bursts: int = 0
    stalled_bytes: int = 0
    unplugs: int = 0
    restarts: int = 0


class _Direction:
    def __init__(self, name: str, rng: random.Random, baud: int | None) -> None:
        self.name = name
        self.rng = rng
        self.buf = bytearray()
        self.held: bytes | None = None  # a frame held back for reordering
        self.queue: list[tuple[float, bytes]] = []
        self.wire_free = 0.0
        self.byte_time = 10.0 / baud if baud else 0.0
        self.counts = FaultCounts()

    def schedule(self, now: float, data: bytes) -> None:
        start = max(now, self.wire_free)
        self.wire_free = start + len(data) * self.byte_time
        self.queue.append((self.wire_free, data))


class FaultLink:
    """Relay bytes between a host-side pty (``host_path``) and a device port, injecting faults (see module doc).

    ``device_port`` is the FdPort the device agent should serve; ``on_restart`` is called at each scheduled
    restart (e.g. VirtualDevice.restart).
    """

    def __init__(self, config: FaultConfig | None = None, seed: int = 0, link_dir: str | Path | None = None,
                 on_restart: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.cfg = config or FaultConfig()
        self.seed = seed
        self.on_restart = on_restart
        base = random.Random(seed)
        self.dirs = {d: _Direction(d, random.Random(base.getrandbits(64)), self.cfg.baud)
                     for d in (HOST_TO_DEVICE, DEVICE_TO_HOST)}  # fmt: skip
        dev_master, self._dev_slave, _ = open_pty()
        os.set_blocking(self._dev_slave, False)
        self.device_port = FdPort(dev_master, "device side of the fault link")
        self._link_dir = Path(link_dir) if link_dir else Path(os.environ.get("TMPDIR", "/tmp"))
        self.host_path = str(self._link_dir / f"o2twin-faultlink-{os.getpid()}-{id(self):x}")
        self._host_master: int | None = None
        self._host_slave: int | None = None
        self._plug()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._events: list[tuple[float, str, float, str]] = sorted(
            [(s[0], "stall", s[1], s[2] if len(s) > 2 else "both") for s in self.cfg.stalls]
            + [(a, "unplug", d, "both") for a, d in self.cfg.unplugs]
            + [(a, "restart", 0.0, "both") for a in self.cfg.restarts])  # fmt: skip
        self._stall_until = {HOST_TO_DEVICE: 0.0, DEVICE_TO_HOST: 0.0}
        self._replug_at: float | None = None

    @property
    def url(self) -> str:
        return f"serial://{self.host_path}"

    def counts(self, direction: str) -> FaultCounts:
        return self.dirs[direction].counts

    # -- cable ----------------------------------------------------------------------------------------------
    def _plug(self) -> None:
        master, slave, path = open_pty()
        os.set_blocking(master, False)
        self._host_master, self._host_slave = master, slave
        tmp = self.host_path + ".new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(path, tmp)
        os.replace(tmp, self.host_path)

    def _unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.host_path)
        for fd in (self._host_master, self._host_slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._host_master = self._host_slave = None
        for d in self.dirs.values():
            d.queue.clear()
            d.buf.clear()
            d.held = None

    # -- running --------------------------------------------------------------------------------------------
    def start(self) -> FaultLink:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="fault link", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._unplug()
        with contextlib.suppress(OSError):
            os.close(self._dev_slave)
        self.device_port.close()

    def __enter__(self) -> FaultLink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic() - self._t0
            self._scheduled(now)
            fds = [self._dev_slave] + ([self._host_master] if self._host_master is not None else [])
            due = [t for d in self.dirs.values() for t, _ in d.queue[:1]]
            timeout = max(0.0, min([0.005, *[t - now for t in due]]))
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                continue
            now = time.monotonic() - self._t0
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:  # the host closed its end: nothing to relay until it reopens
                    time.sleep(0.001)
                    continue
                if not data:
                    continue
                d = self.dirs[HOST_TO_DEVICE if fd == self._host_master else DEVICE_TO_HOST]
                if now < self._stall_until[d.name]:
                    d.counts.stalled_bytes += len(data)
                    continue
                self._ingest(d, now, data)
            self._deliver(time.monotonic() - self._t0)

    def _scheduled(self, now: float) -> None:
        if self._replug_at is not None and now >= self._replug_at:
            self._replug_at = None
            self._plug()
            log.info("fault link: cable plugged back in at %.3f s", now)
        while self._events and self._events[0][0] <= now:
            _, kind, duration, which = self._events.pop(0)
            if kind == "stall":
                for name in self._stall_until:
                    if which in ("both", name):
                        self._stall_until[name] = now + duration
                log.info("fault link: stall for %.3f s at %.3f s", duration, now)
            elif kind == "unplug":
                self.dirs[HOST_TO_DEVICE].counts.unplugs += 1
                self._unplug()
                self._replug_at = now + duration
                log.info("fault link: cable unplugged at %.3f s for %.3f s", now, duration)
            elif kind == "restart":
                self.dirs[DEVICE_TO_HOST].counts.restarts += 1
                log.info("fault link: device restart at %.3f s", now)
                if self.on_restart is not None:
                    self.on_restart()

    def _ingest(self, d: _Direction, now: float, data: bytes) -> None:
        d.buf += data
        while True:
            i = d.buf.find(0)
            if i < 0:
                return
            body = bytes(d.buf[:i])
            del d.buf[: i + 1]
            if body:
                self._frame(d, now, body)

    def _frame(self, d: _Direction, now: float, body: bytes) -> None:
        c = d.counts
        c.frames += 1
        rng = d.rng
        cfg = self.cfg
        active = d.name in cfg.directions and now >= cfg.active_after_s
        # draw every decision for every frame, so the sequence of faults depends only on the seed and frame index
        r_drop, r_corrupt, r_dup, r_reorder, r_garbage = (rng.random() for _ in range(5))
        pos, bit = rng.randrange(len(body)), rng.randrange(8)
        n_garbage = rng.randint(*cfg.garbage_bytes)
        garbage = bytes(rng.getrandbits(8) for _ in range(n_garbage))
        if not active:
            d.schedule(now, b"\x00" + body + b"\x00")
            return
        if r_garbage < cfg.garbage:
            c.garbage_bursts += 1
            d.schedule(now, garbage)
        if r_drop < cfg.drop:
            c.dropped += 1
            return
        if r_corrupt < cfg.corrupt:
            c.corrupted += 1
            body = body[:pos] + bytes([body[pos] ^ (1 << bit)]) + body[pos + 1 :]
        frame = b"\x00" + body + b"\x00"
        if r_reorder < cfg.reorder and d.held is None:
            c.reordered += 1
            d.held = frame
            return
        d.schedule(now, frame)
        if r_dup < cfg.duplicate:
            c.duplicated += 1
            d.schedule(now, frame)
        if d.held is not None:
            d.schedule(now, d.held)
            d.held = None

    def _deliver(self, now: float) -> None:
        for d in self.dirs.values():
            fd = self._dev_slave if d.name == HOST_TO_DEVICE else self._host_master
            while d.queue and d.queue[0][0] <= now:
                _, data = d.queue.pop(0)
                if fd is None:
                    continue
                try:
                    os.write(fd, data)
                except BlockingIOError:  # the reader is not keeping up: a real UART would overrun and lose it
                    d.counts.stalled_bytes += len(data)
                except OSError:
                    d.counts.stalled_bytes += len(data)
