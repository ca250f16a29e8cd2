"""The HIL device as co-simulation slaves: one ``DevicePart`` per plant unit the device replaces.

``SerialDevice`` splits the device's interface (from its description file) into one DevicePart slave per plant unit,
named as those units were ("compressor", "psa"), so a scenario's connections, events and recorded names stay
unchanged. Once every part has been stepped for an instant it asks the LinkMonitor whether the link is usable, sends
one COMMAND through the DeviceLink (the controllers' values, or the description's safe values while the link is not
ok) and paces the whole system to the wall clock. The link part also outputs link_ok, link_sample_age_s and
device_failsafe (apply_plant wires link_ok into the watchdog).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.cosim.slaves.base import Slave, SlaveInfo, Variable
from orchestrator.errors import DeviceError
from orchestrator.hil.host.monitor import LinkMonitor
from orchestrator.hil.host.session import DeviceLink, LinkOptions
from orchestrator.hil.link.description import DeviceDescription, load_description
from orchestrator.hil.link.protocol import Status
from orchestrator.hil.link.realtime import RealTimePacer

log = logging.getLogger(__name__)


class SerialDevice:
    """A device on a serial link standing in for several plant slaves; ``parts`` are the slaves to put in a system.

    ``slave_names`` maps each slave name in the system to the description part it stands for (default: the part
    names themselves). All parts must be stepped with the same macro step; the command goes out once every part has
    been stepped for the current instant, then the device paces the whole system to the wall clock.
    """

    def __init__(self, url: str, description: DeviceDescription | None = None,
                 options: LinkOptions | Mapping[str, Any] | None = None,
                 slave_names: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.url = url
        self.desc = description or load_description()
        opts = options if isinstance(options, LinkOptions) else LinkOptions.from_mapping(options or {})
        self.link = DeviceLink(url, self.desc, opts)
        self.monitor = LinkMonitor(self.link)
        self.pacer = RealTimePacer(speed=opts.speed)
        names = dict(slave_names or {p: p for p in self.desc.parts})
        for _slave, part in names.items():
            if part not in self.desc.parts:
                raise DeviceError(f"{self.desc.source}: no part '{part}' (parts: {', '.join(self.desc.parts)})")
        self.parts = {slave: DevicePart(slave, part, self) for slave, part in names.items()}
        self.inputs = self.desc.safe_values({})
        self._opened = False
        self._stepped: set[str] = set()
        self._step_t: float | None = None
        self._closed = False

    # called by the parts
    def _setup(self, start_time: float) -> None:
        if not self._opened:
            self._opened = True
            self.link.sim_time = start_time
            self.link.open()
            self.monitor.start()

    def _step(self, part: DevicePart, t: float, h: float) -> bool:
        if self._step_t is None or abs(t - self._step_t) > 1e-9 * max(1.0, abs(t)):
            self._step_t = t
            self._stepped = set()
        self._stepped.add(part.name)
        if self._stepped != set(self.parts):
            return True
        self._stepped = set()
        if not self.pacer.started:
            self.pacer.start(t)
        self.link.sim_time = t
        ok = self.monitor.check()
        values = self.inputs if ok else self.desc.safe_values(self.inputs)
        self.link.send_command(values)
        self.pacer.wait_until(t + h)
        self.link.sim_time = t + h
        return True

    def _outputs(self, part: str) -> dict[str, float]:
        latest = self.link.latest
        out = {c.name: float(latest[c.name]) for c in self.desc.sensors if c.part == part}
        if part == self.desc.link_part:
            out["link_ok"] = 1.0 if self.monitor.link_ok else 0.0
            out["link_sample_age_s"] = max(0.0, self.link.now() - self.link.latest_wall)
            out["device_failsafe"] = 1.0 if self.link.latest_status & Status.FAILSAFE else 0.0
        return out

    def _terminate(self) -> None:
        if not self._closed:
            self._closed = True
            self.link.close(send_bye=True)

    def metrics(self) -> dict[str, Any]:
        """Link statistics and real-time figures, for metrics.json (key "hil")."""
        return {**self.link.metrics(), "realtime": self.pacer.metrics()}


class DevicePart(Slave):
    """One plant unit's view of the serial device: its actuators as inputs, its sensors as outputs."""

    def __init__(self, name: str, part: str, device: SerialDevice) -> None:
        self.name = name
        self.part = part
        self.device = device
        self.variables: dict[str, Variable] = device.desc.part_variables(part)
        self.info = SlaveInfo(can_rollback=False, real_time=True, direct_feedthrough={
            v.name: frozenset() for v in self.variables.values() if v.causality == "output"})  # fmt: skip

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        if parameters:
            log.info("%s: a device has no parameters; ignoring %s", self.name, ", ".join(parameters))
        self.device._setup(start_time)

    def set_inputs(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            var = self.variables.get(name)
            if var is None or var.causality != "input":
                raise DeviceError(f"{self.name}: '{name}' is not an input of the device part '{self.part}'")
            v = float(value)
            if var.min is not None:
                v = max(var.min, v)
            if var.max is not None:
                v = min(var.max, v)
            self.device.inputs[name] = v

    def step(self, t: float, h: float) -> bool:
        return self.device._step(self, t, h)

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, float]:
        out = self.device._outputs(self.part)
        if names is None:
            return out
        for n in names:  # an input reads back as the value last set, as an FMU's would
            if n not in out and n in self.variables and self.variables[n].causality == "input":
                out[n] = self.device.inputs[n]
        try:
            return {n: out[n] for n in names}
        except KeyError as err:
            raise DeviceError(f"{self.name}: the device part '{self.part}' has no output {err}") from None

    def terminate(self) -> None:
        self.device._terminate()
