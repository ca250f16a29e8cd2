"""Device descriptions: the HIL device's interface (names, units, causality, wire order) read from a TOML file.

A description plays the role of an FMU's modelDescription.xml for the serial device, so a scenario's connections
to the device are checked exactly as for an FMU. It also carries what the device enforces on its own, whatever the
host sends: the longest command timeout a session may ask for, its limits on its own readings (``[[limits]]``) and
the actuator patterns it refuses (``[[interlocks]]``). The default is orchestrator/hil/link/devices/concentrator.toml.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.cosim.slaves.base import Variable
from orchestrator.errors import SystemDefinitionError
from orchestrator.hil.link.protocol import PROTOCOL_MAJOR, FaultCode, layout_crc

DEFAULT_DESCRIPTION = Path(__file__).with_name("devices") / "concentrator.toml"

#: Outputs the host adds to the link part: they describe the link, not the plant.
LINK_OUTPUTS = (
    Variable("link_ok", "output", unit="1", start=0.0, description="1 while fresh sensor samples arrive, else 0"),
    Variable("link_sample_age_s", "output", unit="s", start=0.0, description="wall-clock age of the newest sample"),
    Variable("device_failsafe", "output", unit="1", start=0.0, description="1 while the device fail-safe holds"),
)


@dataclass(frozen=True)
class Channel:
    """One actuator or sensor value on the wire."""

    name: str
    part: str
    unit: str
    min: float = -math.inf
    max: float = math.inf
    safe: float | None = None  #: actuators: value in the safe state (None: hold the last value)
    description: str = ""


#: Kinds of device limit and the FAULT code each raises (orchestrator.hil.link.protocol.FaultCode).
LIMIT_KINDS = {"pressure": FaultCode.OVER_PRESSURE, "temperature": FaultCode.OVER_TEMPERATURE}


@dataclass(frozen=True)
class DeviceLimit:
    """A limit the device enforces on one of its own readings, independently of the host.

    Above ``max`` (or NaN, or outside ``plausible``) the device engages its fail-safe; it clears only below
    ``clear_below`` (and plausible) at the next HELLO.
    """

    sensor: str
    kind: str  #: "pressure" | "temperature"
    max: float
    clear_below: float
    plausible: tuple[float, float]
    description: str = ""

    @property
    def fault_code(self) -> int:
        return int(LIMIT_KINDS[self.kind])

    def violated(self, value: float) -> int:
        """0 when value is within the limit, else the FAULT code: the limit's, or SENSOR_FAULT when implausible."""
        if value > self.max:  # beyond the limit, plausible or not
            return self.fault_code
        if not self.plausible[0] <= value <= self.plausible[1]:  # also NaN
            return int(FaultCode.SENSOR_FAULT)
        return 0

    def cleared(self, value: float) -> bool:
        return self.plausible[0] <= value < self.clear_below


@dataclass(frozen=True)
class Interlock:
    """An actuator pattern the device refuses: ``actuator`` above ``above`` while none of ``requires_open`` is open."""

    name: str
    actuator: str
    above: float
    requires_open: tuple[str, ...]
    open_at: float = 0.5
    description: str = ""

    def refuses(self, values: dict[str, float]) -> bool:
        return values[self.actuator] > self.above and not any(values[a] >= self.open_at for a in self.requires_open)


@dataclass
class DeviceDescription:
    name: str
    protocol: int
    parts: dict[str, str]  #: part name -> the Modelica class it replaces
    actuators: list[Channel]
    sensors: list[Channel]
    sample_rate_hz: int = 50
    command_timeout_s: float = 0.5
    link_part: str = ""
    source: str = ""
    #: The longest command timeout a HELLO may ask for; the device refuses more (NACK RANGE).
    max_command_timeout_s: float = 2.0
    limits: list[DeviceLimit] = field(default_factory=list)
    interlocks: list[Interlock] = field(default_factory=list)
    _layout: int = field(default=0, repr=False)

    @property
    def actuator_names(self) -> list[str]:
        return [c.name for c in self.actuators]

    @property
    def sensor_names(self) -> list[str]:
        return [c.name for c in self.sensors]

    @property
    def layout_crc(self) -> int:
        return layout_crc(self.actuator_names, self.sensor_names)

    def safe_values(self, last: dict[str, float]) -> dict[str, float]:
        """Actuator values of the safe state (compressor off, feeds closed, vents open); others hold ``last``."""
        return {c.name: (c.safe if c.safe is not None else last.get(c.name, 0.0)) for c in self.actuators}

    def part_variables(self, part: str) -> dict[str, Variable]:
        """The FMU-like interface of one part: its actuators as inputs, its sensors (+ link outputs) as outputs."""
        out: dict[str, Variable] = {}
        for c in self.actuators:
            if c.part == part:
                lo = c.min if math.isfinite(c.min) else None
                hi = c.max if math.isfinite(c.max) else None
                start = c.safe if c.safe is not None else (lo or 0.0)
                out[c.name] = Variable(c.name, "input", unit=c.unit, start=start, description=c.description,
                                       min=lo, max=hi)  # fmt: skip
        for c in self.sensors:
            if c.part == part:
                out[c.name] = Variable(c.name, "output", unit=c.unit, start=math.nan, description=c.description)
        if part == self.link_part:
            out.update({v.name: v for v in LINK_OUTPUTS})
        return out


def _err(source: str, message: str) -> SystemDefinitionError:
    return SystemDefinitionError(f"{source}: {message}")


def _channel(source: str, kind: str, index: int, raw: dict, parts: dict[str, str]) -> Channel:
    where = f"[[{kind}]] #{index}"
    allowed = {"name", "part", "unit", "min", "max", "safe", "description"}
    unknown = set(raw) - allowed
    if unknown:
        raise _err(
            source, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )
    for key in ("name", "part", "unit"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _err(source, f"{where}: '{key}' must be a non-empty string")
    if raw["part"] not in parts:
        raise _err(
            source, f"{where} '{raw['name']}': part '{raw['part']}' is not in [device] parts ({', '.join(parts)})"
        )
    if kind == "sensors" and "safe" in raw:
        raise _err(source, f"{where} '{raw['name']}': 'safe' is for actuators only")
    nums = {}
    for key in ("min", "max", "safe"):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise _err(source, f"{where} '{raw['name']}': '{key}' must be a finite number, got {v!r}")
            nums[key] = float(v)
    ch = Channel(raw["name"], raw["part"], raw["unit"], nums.get("min", -math.inf), nums.get("max", math.inf),
                 nums.get("safe"), str(raw.get("description", "")))  # fmt: skip
    if ch.min > ch.max:
        raise _err(source, f"{where} '{ch.name}': min {ch.min} > max {ch.max}")
    if ch.safe is not None and not ch.min <= ch.safe <= ch.max:
        raise _err(source, f"{where} '{ch.name}': safe value {ch.safe} outside [{ch.min}, {ch.max}]")
    return ch


def load_description(path: str | Path | None = None) -> DeviceDescription:
    """Read and check a device description (default: the concentrator); SystemDefinitionError names the problem."""
    path = Path(path) if path is not None else DEFAULT_DESCRIPTION
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _err(source, "device description not found; give an existing .toml file") from None
    except tomllib.TOMLDecodeError as err:
        raise _err(source, f"not valid TOML: {err}") from None
    head = raw.get("device")
    if not isinstance(head, dict):
        raise _err(source, "missing [device] table")
    parts = head.get("parts")
    if not isinstance(parts, dict) or not parts or not all(isinstance(v, str) for v in parts.values()):
        raise _err(source, "[device] 'parts' must map part names to the Modelica classes they replace")
    protocol = head.get("protocol", PROTOCOL_MAJOR)
    if protocol != PROTOCOL_MAJOR:
        raise _err(source, f"[device] protocol {protocol} is not supported by this host (protocol {PROTOCOL_MAJOR})")
    acts = [_channel(source, "actuators", i + 1, c, parts) for i, c in enumerate(raw.get("actuators", []))]
    sens = [_channel(source, "sensors", i + 1, c, parts) for i, c in enumerate(raw.get("sensors", []))]
    if not acts or not sens:
        raise _err(source, "a device needs at least one [[actuators]] and one [[sensors]] entry")
    names = [c.name for c in (*acts, *sens)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _err(source, f"channel names must be unique, repeated: {', '.join(dup)}")
    if len(acts) * 4 + 7 > 240 or len(sens) * 4 + 19 > 240:
        raise _err(source, "too many channels for one frame (at most 55 actuators and 55 sensors)")
    rate = head.get("sample_rate_hz", 50)
    if not isinstance(rate, int) or not 1 <= rate <= 200:
        raise _err(source, f"[device] sample_rate_hz must be an integer 1..200, got {rate!r}")
    timeout = head.get("command_timeout_s", 0.5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.01 <= timeout <= 60:
        raise _err(source, f"[device] command_timeout_s must be 0.01..60 s, got {timeout!r}")
    link_part = head.get("link_part", next(iter(parts)))
    if link_part not in parts:
        raise _err(source, f"[device] link_part '{link_part}' is not one of the parts ({', '.join(parts)})")
    max_timeout = head.get("max_command_timeout_s", max(2.0, float(timeout)))
    if isinstance(max_timeout, bool) or not isinstance(max_timeout, int | float) or not timeout <= max_timeout <= 60:
        raise _err(source, f"[device] max_command_timeout_s must be command_timeout_s..60 s, got {max_timeout!r}")
    limits = [_limit(source, i + 1, raw_limit, sens) for i, raw_limit in enumerate(raw.get("limits", []))]
    interlocks = [_interlock(source, i + 1, raw_lock, acts) for i, raw_lock in enumerate(raw.get("interlocks", []))]
    return DeviceDescription(str(head.get("name", path.stem)), protocol, dict(parts), acts, sens, rate,
                             float(timeout), link_part, source, float(max_timeout), limits, interlocks)  # fmt: skip


def _number(source: str, where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _err(source, f"{where}: '{key}' must be a finite number, got {value!r}")
    return float(value)


def _limit(source: str, index: int, raw: dict, sensors: list[Channel]) -> DeviceLimit:
    where = f"[[limits]] #{index}"
    allowed = {"sensor", "kind", "max", "clear_below", "plausible", "description"}
    unknown = set(raw) - allowed
    if unknown:
        raise _err(
            source, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )
    if raw.get("sensor") not in {c.name for c in sensors}:
        raise _err(source, f"{where}: 'sensor' must name one of the [[sensors]], got {raw.get('sensor')!r}")
    if raw.get("kind") not in LIMIT_KINDS:
        raise _err(source, f"{where}: 'kind' must be one of {', '.join(LIMIT_KINDS)}, got {raw.get('kind')!r}")
    plausible = raw.get("plausible")
    if not isinstance(plausible, list) or len(plausible) != 2:
        raise _err(source, f"{where}: 'plausible' must be [lowest, highest] physically possible reading")
    lo, hi = (_number(source, where, "plausible", v) for v in plausible)
    top = _number(source, where, "max", raw.get("max"))
    clear = _number(source, where, "clear_below", raw.get("clear_below"))
    if not lo < clear < top:
        raise _err(source, f"{where}: need plausible[0] < clear_below < max, got {lo}, {clear}, {top}")
    return DeviceLimit(raw["sensor"], raw["kind"], top, clear, (lo, hi), str(raw.get("description", "")))


def _interlock(source: str, index: int, raw: dict, actuators: list[Channel]) -> Interlock:
    where = f"[[interlocks]] #{index}"
    allowed = {"name", "actuator", "above", "requires_open", "open_at", "description"}
    unknown = set(raw) - allowed
    if unknown:
        raise _err(
            source, f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )
    names = {c.name for c in actuators}
    if raw.get("actuator") not in names:
        raise _err(source, f"{where}: 'actuator' must name one of the [[actuators]], got {raw.get('actuator')!r}")
    opens = raw.get("requires_open")
    if not isinstance(opens, list) or not opens or not all(o in names for o in opens):
        raise _err(source, f"{where}: 'requires_open' must list [[actuators]] names, got {opens!r}")
    return Interlock(str(raw.get("name", f"interlock {index}")), raw["actuator"],
                     _number(source, where, "above", raw.get("above", 0.0)), tuple(opens),
                     _number(source, where, "open_at", raw.get("open_at", 0.5)),
                     str(raw.get("description", "")))  # fmt: skip
