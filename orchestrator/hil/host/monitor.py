"""The link monitor: whether the HIL link is usable, judged once per macro step on the master's thread.

Link loss policy (docs/hil.md): the link is *ok* while the session is open, the newest sample is younger than
``stale_after_s`` and the device does not report its fail-safe. When it is not ok: link_ok = 0 (the device slave
commands the safe state and the watchdog, wired to link_ok, holds its own), and HELLO is re-sent every
``hello_retry_s`` (the reader thread reopens a lost port). Ok again within ``link_timeout_s``: the run recovers
(counted; the gap is visible in the results). Otherwise, or at the first loss with ``on_link_loss = "stop"``, a
DeviceError ends the run, with the samples CSV flushed. A heartbeat goes out every ``heartbeat_s`` to measure the
round trip.
"""

from __future__ import annotations

import logging
import math

from orchestrator.errors import DeviceError
from orchestrator.hil.host.session import DeviceLink
from orchestrator.hil.link.protocol import Heartbeat, Status

log = logging.getLogger(__name__)


class LinkMonitor:
    """Judges a DeviceLink after each step: ``check()`` updates and returns ``link_ok``; DeviceError when it lasts."""

    def __init__(self, link: DeviceLink) -> None:
        self.link = link
        self.link_ok = False
        self._bad_since: float | None = None
        self._last_heartbeat = -math.inf

    def start(self) -> None:
        """The session is open (DeviceLink.open succeeded): the link starts out ok."""
        self.link_ok = True

    def check(self) -> bool:
        """Update link_ok from sample age and device status; re-HELLO while not ok; DeviceError when it lasts."""
        link = self.link
        if link.fatal:
            raise link.fatal
        now = link.now()
        age = now - link.latest_wall
        status = link.latest_status
        ok = (link.session_ok and age <= link.stale_after_s and bool(status & Status.SESSION)
              and not status & Status.FAILSAFE)  # fmt: skip
        if ok and not self.link_ok:
            link.stats.recoveries += 1
            log.warning("%s: link recovered after %.3f s", link.url, now - (self._bad_since or now))
            self._bad_since = None
        elif not ok and self.link_ok:
            self._lost(now, age, status)
        self.link_ok = ok
        if not ok:
            self._retry(now, age)
        if now - self._last_heartbeat >= link.opt.heartbeat_s and link.port_open:
            self._last_heartbeat = now
            link.send(Heartbeat(link.now_us() or 1, 0))
        return ok

    def _lost(self, now: float, age: float, status: int) -> None:
        link = self.link
        link.stats.link_losses += 1
        self._bad_since = now
        if status & Status.FAILSAFE:
            why = "device fail-safe engaged" + (" by its own limit" if status & Status.LIMIT else "")
        else:
            why = f"no sample for {age:.3f} s" if age > link.stale_after_s else "session lost"
        log.warning("%s: link lost (%s): commanding the safe state", link.url, why)
        if link.opt.on_link_loss == "stop":
            self.link_ok = False
            link.flush()
            raise DeviceError(f"{link.url}: link lost ({why}) at t={link.sim_time:.3f} s and on_link_loss = "
                              "'stop'; results up to here are saved")  # fmt: skip

    def _retry(self, now: float, age: float) -> None:
        """While not ok: end the run after link_timeout_s, else re-send HELLO every hello_retry_s."""
        link = self.link
        if self._bad_since is None:
            self._bad_since = now
        if now - self._bad_since > link.opt.link_timeout_s:
            link.flush()
            state = "the port is gone (cable unplugged?)" if not link.port_open else f"last sample {age:.1f} s ago"
            raise DeviceError(
                f"{link.url}: no usable link to the device for {now - self._bad_since:.1f} s "
                f"(link_timeout_s = {link.opt.link_timeout_s:g}; {state}) at t={link.sim_time:.3f} s; "
                "check the cable and the device; results up to here are saved"
            )
        if now - link.last_hello_s >= link.opt.hello_retry_s and link.port_open:
            link.send_hello()
