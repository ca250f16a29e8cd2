"""The virtual device: the device agent served on a pseudo-terminal, in a background thread.

``open_pty()`` makes a raw pseudo-terminal pair; ``VirtualDevice`` runs an Agent on one end and hands out the other
end's path (what a host opens, exactly like /dev/ttyUSB0). ``restart()`` simulates a device reboot: the agent's
state is lost and it comes back with a new boot id, its actuators in the safe state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import tty
from collections.abc import Callable

from orchestrator.hil.device.agent import Agent
from orchestrator.hil.device.hardware import Hardware
from orchestrator.hil.link.description import DeviceDescription
from orchestrator.hil.link.ports import FdPort, PortGone
from orchestrator.hil.link.realtime import set_realtime_priority

log = logging.getLogger(__name__)


def open_pty() -> tuple[int, int, str]:
    """(master_fd, slave_fd, slave_path) of a new pseudo-terminal with the slave in raw mode (binary safe)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class VirtualDevice:
    """An Agent serving ``port`` (default: the master of a new pty) in a thread; ``path`` is what a host opens."""

    def __init__(self, hardware: Hardware, description: DeviceDescription, port: FdPort | None = None,
                 agent_factory: Callable[..., Agent] = Agent, rt_priority: int | None = None,
                 **agent_kwargs) -> None:  # fmt: skip
        self.hw = hardware
        self.desc = description
        self._slave_fd: int | None = None
        self.path = ""
        if port is None:
            master, self._slave_fd, self.path = open_pty()
            port = FdPort(master, "virtual device pty")
        self.port = port
        self._factory = agent_factory
        self._agent_kwargs = agent_kwargs
        self.agent: Agent | None = None
        self.agents: list[Agent] = []  #: every agent this device ran (one per boot)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.rt_priority = rt_priority  #: SCHED_FIFO priority of the agent thread (None: normal)

    @property
    def url(self) -> str:
        return f"serial://{self.path}"

    def start(self) -> VirtualDevice:
        self._stop = threading.Event()
        self.agent = self._factory(self.port, self.hw, self.desc, **self._agent_kwargs)
        self.agents.append(self.agent)
        self._thread = threading.Thread(target=self._run, args=(self.agent, self._stop), daemon=True,
                                        name="virtual device agent")  # fmt: skip
        self._thread.start()
        return self

    def _run(self, agent: Agent, stop: threading.Event) -> None:
        if self.rt_priority:
            set_realtime_priority(self.rt_priority)
        try:
            agent.serve(stop)
        except PortGone as err:
            log.info("virtual device: port gone (%s)", err)
        except BaseException as err:  # surfaced to the test or the CLI through .error
            self.error = err
            log.exception("virtual device agent failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def restart(self) -> None:
        """Reboot: stop the agent, drop its state, start a fresh one (new boot id, actuators safe)."""
        self.stop()
        self.hw.apply(self.desc.safe_values({}))
        self.hw.set_alarm(False)
        self.start()

    def close(self) -> None:
        self.stop()
        self.port.close()
        if self._slave_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._slave_fd)
            self._slave_fd = None

    def __enter__(self) -> VirtualDevice:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
