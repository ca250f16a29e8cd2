"""Swap the plant slaves of a scenario for the serial device: `o2twin run SCENARIO --plant URL` or [plant].

apply_plant(spec, url) replaces the slaves listed in [plant] replaces (default: every slave whose FMU is one of
the device's parts, e.g. O2Twin.CoSim.Compressor and O2Twin.CoSim.PSAUnit) by DeviceSlave blocks with the same
names, so connections, events, recorded signals and plots keep their names. Connections between two replaced
slaves (compressor <-> PSA unit) disappear into the device. Every other reference to a replaced slave must name a
variable the device description declares, with the right causality; otherwise a SystemDefinitionError names it.
With a [safety] watchdog, no event may act on a device input the watchdog drives (it would command the real
actuator around the watchdog).
With a [safety] watchdog, the device's ``link_ok`` is connected to the watchdog's ``link_ok`` input (a scenario
connecting anything else to it is refused): a lost link puts the watchdog's safe states on.

[plant] keys besides device and replaces: ``description`` (a device description .toml, relative to the scenario)
and the link options of orchestrator.hil.host.session.LinkOptions (sample_rate_hz, command_timeout_s,
stale_after_s, link_timeout_s, on_link_loss, speed, samples_path, ...).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from orchestrator.cosim.master.events import EVENT_CAUSALITIES
from orchestrator.cosim.system import Connection
from orchestrator.errors import DeviceError, SystemDefinitionError
from orchestrator.hil.host.device_slave import DevicePart, SerialDevice
from orchestrator.hil.host.session import LinkOptions
from orchestrator.hil.link.description import DeviceDescription, load_description
from orchestrator.hil.link.ports import check_serial_device, parse_url
from orchestrator.scenario.spec import PlantSpec, ScenarioSpec, SlaveSpec

log = logging.getLogger(__name__)

#: slave name -> (device, part) for the DeviceSlave blocks apply_plant put into a spec (see DeviceSlave)
_REGISTRY: dict[str, tuple[SerialDevice, str]] = {}

SAMPLES_FILE = "device_samples.csv"


class DeviceSlave(DevicePart):
    """The block class apply_plant puts in place of a plant slave: built by the scenario loader as
    ``DeviceSlave(name, sample_time)``, it attaches to the SerialDevice that apply_plant registered for that name."""

    def __init__(self, name: str, sample_time: float | None = None) -> None:
        try:
            device, part = _REGISTRY[name]
        except KeyError:
            raise SystemDefinitionError(
                f"slave {name}: DeviceSlave is put in place by orchestrator.hil.host.plant.apply_plant ([plant] or "
                "--plant URL); it cannot be named in [slaves] directly"
            ) from None
        super().__init__(name, part, device)
        device.parts[name] = self


def _fmu_class(slave: SlaveSpec) -> str | None:
    if slave.fmu is None:
        return None
    if slave.fmu_is_path:
        return Path(slave.fmu).stem.replace("_", ".")  # fmus/O2Twin_CoSim_PSAUnit.fmu -> O2Twin.CoSim.PSAUnit
    return slave.fmu


def _match_parts(spec: ScenarioSpec, desc: DeviceDescription, replaces: list[str], where: str) -> dict[str, str]:
    """slave name -> device part, by the Modelica class the slave's FMU exports (or, failing that, by name)."""
    by_class = {cls: part for part, cls in desc.parts.items()}
    candidates = replaces or [n for n, s in spec.slaves.items() if _fmu_class(s) in by_class]
    mapping: dict[str, str] = {}
    for name in candidates:
        if name not in spec.slaves:
            raise SystemDefinitionError(f"{where}: 'replaces' names unknown slave '{name}'")
        part = by_class.get(_fmu_class(spec.slaves[name]) or "") or (name if name in desc.parts else None)
        if part is None:
            raise SystemDefinitionError(
                f"{where}: slave '{name}' ({spec.slaves[name].fmu or spec.slaves[name].block}) is none of the "
                f"device's parts ({', '.join(f'{p} = {c}' for p, c in desc.parts.items())})"
            )
        if part in mapping.values():
            raise SystemDefinitionError(f"{where}: two slaves stand for the device part '{part}'")
        mapping[name] = part
    missing = [p for p in desc.parts if p not in mapping.values()]
    if missing:
        raise SystemDefinitionError(
            f"{where}: the device replaces {', '.join(desc.parts)} together, but the scenario has no slave for "
            f"{', '.join(missing)}; list them in [plant] replaces"
        )
    rates = {spec.slaves[n].rate for n in mapping}
    if len(rates) > 1:
        raise SystemDefinitionError(f"{where}: the replaced slaves must share one 'rate', got {sorted(rates)}")
    return mapping


def _check_reference(desc: DeviceDescription, mapping: dict[str, str], qualified: str, causality: tuple[str, ...],
                     where: str) -> None:  # fmt: skip
    slave, var = qualified.split(".", 1)
    if slave not in mapping:
        return
    v = desc.part_variables(mapping[slave]).get(var)
    if v is None:
        raise SystemDefinitionError(
            f"{where}: '{qualified}' is not provided by the device ({desc.source} declares no {var} for "
            f"'{mapping[slave]}'); connect a signal the device measures or add it to the device description"
        )
    if v.causality not in causality:
        raise SystemDefinitionError(
            f"{where}: '{qualified}' is a device {v.causality}; expected {' or '.join(causality)}"
        )


def _description_file(value: Any, source: str | None, where: str) -> Path:
    """The device description a [plant] table names: a relative .toml path inside the scenario file's folder (no
    absolute path, '..' or link out of it), as for the scenario's other files."""
    folder = Path(source).resolve().parent if source else Path.cwd().resolve()
    rel = PurePath(value) if isinstance(value, str) and value else None
    if rel is None or rel.is_absolute() or ".." in rel.parts or "\\" in value or rel.suffix.lower() != ".toml":
        raise SystemDefinitionError(
            f"{where}: description = {value!r} must be a relative .toml path inside the scenario's folder {folder}; "
            "copy the device description there"
        )
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder):
        raise SystemDefinitionError(
            f"{where}: description = {value!r} leads out of the scenario's folder {folder} (a link); copy the file there"
        )
    return path


def apply_plant(spec: ScenarioSpec, url: str) -> ScenarioSpec:
    """A copy of spec with its plant slaves replaced by the device at url (see the module doc)."""
    src = spec.source or "<scenario>"
    where = f"{src}: [plant]"
    try:  # the URL is often a scenario's: a device, never a file or another pyserial handler (ports.py)
        target, _ = parse_url(url)
        if "://" not in target:
            check_serial_device(target, url)
    except DeviceError as err:
        raise SystemDefinitionError(f"{where}: device: {err}") from None
    plant = spec.plant or PlantSpec(device=url)
    options: dict[str, Any] = dict(plant.options)
    desc_path = options.pop("description", None)
    if desc_path is not None:
        desc_path = _description_file(desc_path, spec.source, where)
    desc = load_description(desc_path)
    mapping = _match_parts(spec, desc, list(plant.replaces), where)
    try:
        link_options = LinkOptions.from_mapping(options, where)
    except DeviceError as err:
        raise SystemDefinitionError(str(err)) from None

    connections = []
    for i, c in enumerate(spec.connections, 1):
        if c.source_slave in mapping and c.target_slave in mapping:
            continue  # internal to the plant: inside the device now
        cw = f"{src}: [[connections]] #{i}"
        _check_reference(desc, mapping, c.source, ("output",), cw)
        _check_reference(desc, mapping, c.target, ("input",), cw)
        connections.append(c)
    for name in spec.outputs.record:
        _check_reference(desc, mapping, name, ("input", "output"), f"{src}: [outputs] record")
    for p in spec.plots:
        for name in p.signals:
            _check_reference(desc, mapping, name, ("input", "output"), f"{src}: [[plots]] '{p.title}'")
    guarded = _watchdog_driven(spec, mapping, connections)
    for e in spec.events:
        # the device has no parameters: only the inputs and outputs among what the action may act on
        wanted = tuple(c for c in EVENT_CAUSALITIES[e.action] if c in ("input", "output"))
        ew = f"{src}: [[events]] t={e.time:g} s {e.action}"
        _check_reference(desc, mapping, e.target, wanted, ew)
        if e.target in guarded and e.action != "release":
            raise SystemDefinitionError(
                f"{ew} '{e.target}': with hardware in the loop this actuator is the real device's and the watchdog "
                f"'{spec.watchdog}' alone drives it; an event on it would reach the device around the watchdog. "
                f"Act on the request instead ('{spec.watchdog}.{e.variable}_req'), or run without --plant to "
                "simulate an actuator fault"
            )

    connections += _link_loss_to_watchdog(spec, desc, mapping, connections)
    device = SerialDevice(url, desc, link_options, slave_names=mapping)
    slaves = {}
    for name, s in spec.slaves.items():
        if name in mapping:
            if s.parameters:
                log.info("%s: the device has no parameters; %s of '%s' do not apply", url, ", ".join(s.parameters),
                         name)  # fmt: skip
            slaves[name] = SlaveSpec(name=name, block=f"{__name__}:DeviceSlave", rate=s.rate)
            _REGISTRY[name] = (device, mapping[name])
        else:
            slaves[name] = s
    new_plant = PlantSpec(device=url, replaces=list(mapping), options=dict(plant.options))
    return dataclasses.replace(spec, slaves=slaves, connections=connections, plant=new_plant)


def _watchdog_driven(spec: ScenarioSpec, mapping: dict[str, str], connections: list[Connection]) -> set[str]:
    """The device inputs ("slave.variable") the [safety] watchdog drives: on the device they are the real actuators,
    so no scheduled event may set, override or drift them (in simulation such an event models an actuator fault; on
    hardware it would be a command that bypasses the watchdog, docs/safety.md)."""
    if spec.watchdog is None:
        return set()
    return {c.target for c in connections if c.source_slave == spec.watchdog and c.target_slave in mapping}


def _link_loss_to_watchdog(spec: ScenarioSpec, desc: DeviceDescription, mapping: dict[str, str],
                           connections: list[Connection]) -> list[Connection]:  # fmt: skip
    """[Connection(link part's link_ok -> watchdog's link_ok)] when the scenario has a [safety] watchdog: a lost link
    is a hazard the watchdog answers with its safe states (docs/safety.md). Nothing else may drive that input (a
    scenario's own source would hide the device's link state from the watchdog: no LINK_LOSS, no safe states)."""
    if spec.watchdog is None or spec.watchdog not in spec.slaves:
        return []
    target = f"{spec.watchdog}.link_ok"
    link_ok = f"{next(name for name, part in mapping.items() if part == desc.link_part)}.link_ok"
    for i, c in enumerate(spec.connections, 1):
        if c.target == target and c.source != link_ok:
            raise SystemDefinitionError(
                f"{spec.source or '<scenario>'}: [[connections]] #{i} ('{c.source}' -> '{target}'): with hardware in "
                f"the loop the watchdog's link_ok is the device link's ('{link_ok}', wired by --plant); remove the "
                "connection"
            )
    return [] if any(c.target == target for c in connections) else [Connection(link_ok, target)]


def devices_in(system_or_slaves: Any) -> list[SerialDevice]:
    """The SerialDevices behind the DevicePart slaves of a System (or a mapping of slaves)."""
    slaves = getattr(system_or_slaves, "slaves", system_or_slaves)
    found: list[SerialDevice] = []
    for s in slaves.values() if isinstance(slaves, Mapping) else slaves:
        if isinstance(s, DevicePart) and s.device not in found:
            found.append(s.device)
    return found


def attach_results(system: Any, out_dir: str | Path) -> None:
    """Before the run: stream every received device sample to out_dir/device_samples.csv (unless the scenario set
    samples_path). Call it between building the simulation and running it."""
    for device in devices_in(system):
        if device.link.opt.samples_path is None:
            device.link.opt.samples_path = str(Path(out_dir) / SAMPLES_FILE)


def hil_metrics(system: Any) -> dict[str, Any]:
    """{"hil": link statistics, latency and real-time figures} for metrics.json; {} without a device."""
    devices = devices_in(system)
    if not devices:
        return {}
    if len(devices) == 1:
        return {"hil": devices[0].metrics()}
    return {"hil": {d.url: d.metrics() for d in devices}}
