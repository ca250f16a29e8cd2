"""The device agent's hardware layer: actuators, sensors and the alarm behind one small interface.

Implementations:
- PiHardware: a Raspberry Pi with gpiozero (PWM motor driver, valve drivers, buzzer) and an ADS1115 ADC on I2C
  through smbus2 (pressure, flow, O2 and temperature transducers). Both libraries are the optional ``pi`` extra and
  are imported only when PiHardware is built.
- VirtualPlantHardware: the plant FMUs (compressor + PSA unit) stepped in real time, so the whole HIL chain runs
  on any machine.
- BenchHardware: a link-test instrument with no physics: every sensor reports a known function of the last
  applied command (like a loopback plug), so a test can tell exactly which command the device acted on.
"""

from __future__ import annotations

import logging
import math
import time
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.base import Slave
from orchestrator.errors import DeviceError
from orchestrator.hil.link.description import DeviceDescription

log = logging.getLogger(__name__)


class Hardware(ABC):
    """What the agent drives: apply actuator values, read sensors, switch the alarm, advance in time."""

    def __init__(self, description: DeviceDescription) -> None:
        self.description = description
        self.alarm_on = False

    @abstractmethod
    def apply(self, values: Mapping[str, float]) -> None:
        """Drive the actuators to values (every actuator named in the description)."""

    @abstractmethod
    def read(self) -> dict[str, float]:
        """Current sensor values by name (NaN where a sensor is not fitted or failed)."""

    def advance(self, device_time_s: float) -> None:
        """Bring the hardware up to device time (real hardware runs by itself; a virtual plant steps)."""

    def set_alarm(self, on: bool) -> None:
        self.alarm_on = on

    def session_opened(self) -> None:
        """A host opened a session (HELLO accepted)."""

    def session_closed(self) -> None:
        """The session ended (BYE)."""

    def close(self) -> None:
        """Release pins and buses; leaves actuators in the safe state where it can."""


class BenchHardware(Hardware):
    """Loopback-style bench instrument: sensor i reports ``1000 * i + sum_j (j + 1) * command_j`` of the last
    applied command, and ``applied`` keeps every command the agent drove, so tests can check which commands
    reached the actuators and which samples reflect them. The sensors the device's own limits watch read a
    nominal value instead (halfway between the lowest plausible reading and the limit's clear level), unless a
    test sets one in ``fixed`` (e.g. ``fixed["T_head"] = 368.15`` for a head at 95 degC)."""

    def __init__(self, description: DeviceDescription) -> None:
        super().__init__(description)
        self.values = description.safe_values({})
        self.applied: list[dict[str, float]] = []
        self.fixed: dict[str, float] = {
            limit.sensor: (limit.plausible[0] + limit.clear_below) / 2.0 for limit in description.limits
        }

    def apply(self, values: Mapping[str, float]) -> None:
        self.values = dict(values)
        self.applied.append(dict(values))

    def signature(self, values: Mapping[str, float]) -> float:
        return sum((j + 1) * values[name] for j, name in enumerate(self.description.actuator_names))

    def read(self) -> dict[str, float]:
        base = self.signature(self.values)
        fixed = self.fixed
        return {name: fixed.get(name, 1000.0 * i + base) for i, name in enumerate(self.description.sensor_names)}


#: Internal connections of the concentrator's plant units (docs/interfaces.md): (source, target).
CONCENTRATOR_COUPLINGS = (
    ("compressor.m_flow", "psa.m_flow_feed"),
    ("compressor.T_discharge", "psa.T_feed"),
    ("psa.p_feed", "compressor.p_discharge"),
)


class VirtualPlantHardware(Hardware):
    """Plant co-simulation units (FMUs) as the device's hardware, stepped to the wall clock.

    ``units`` maps each description part to its slave (for the concentrator: compressor and PSA unit); the
    ``couplings`` between them are made here, Gauss-Seidel in the parts' order with a fixed step ``plant_step_s``.
    advance() steps until the plant's time reaches the device time, so the plant runs in real time as long as it
    computes faster than real time (``overruns`` counts the advances that needed more than two steps of catch-up).
    The plant's clock runs from the first command of a session (a host connecting starts the plant where the
    scenario starts it, at rest) and pauses between sessions (after BYE), so an idle device does not drift away
    from the state a scenario expects; a link loss inside a session does not pause it (physics goes on).
    Actuator values go to the unit inputs of the same name; sensors are read from unit outputs of the same name
    on the channel's part (NaN where the unit has no such output).
    """

    def __init__(self, description: DeviceDescription, units: Mapping[str, Slave], plant_step_s: float = 0.01,
                 couplings: Sequence[tuple[str, str]] = CONCENTRATOR_COUPLINGS,
                 parameters: Mapping[str, Mapping[str, Any]] | None = None) -> None:  # fmt: skip
        super().__init__(description)
        if not plant_step_s > 0:
            raise DeviceError(f"plant_step_s must be > 0, got {plant_step_s}")
        missing = [p for p in description.parts if p not in units]
        if missing:
            raise DeviceError(f"virtual plant: no unit for part(s) {', '.join(missing)}")
        self.units = {part: units[part] for part in description.parts}
        self.couplings = [(s.split(".", 1), t.split(".", 1)) for s, t in couplings
                          if s.split(".", 1)[0] in self.units and t.split(".", 1)[0] in self.units]  # fmt: skip
        self.dt = plant_step_s
        self.t = 0.0
        self._k = 0
        self.overruns = 0
        self._origin: float | None = None  # device time at plant time 0 (None: the plant clock is paused)
        self._armed = False
        self._device_time = 0.0
        params = parameters or {}
        for part, unit in self.units.items():
            unit.setup(0.0, dict(params.get(part, {})) or None)
        self.commands = description.safe_values({})
        self._apply_commands()
        self._outputs = {part: unit.get_outputs() for part, unit in self.units.items()}

    def apply(self, values: Mapping[str, float]) -> None:
        self.commands = dict(values)
        self._apply_commands()
        if self._armed:
            self._armed = False
            self._origin = self._device_time - self.t

    def session_opened(self) -> None:
        if self._origin is None:
            self._armed = True

    def session_closed(self) -> None:
        self._origin = None
        self._armed = False

    def _apply_commands(self) -> None:
        for unit in self.units.values():
            names = {v.name for v in unit.inputs()}
            unit.set_inputs({k: float(v) for k, v in self.commands.items() if k in names})

    def advance(self, device_time_s: float) -> None:
        self._device_time = device_time_s
        if self._origin is None:
            return
        plant_time = device_time_s - self._origin
        steps = 0
        while (self._k + 1) * self.dt <= plant_time + 1e-12:
            self._step()
            steps += 1
        if steps > 2:
            self.overruns += 1

    def _step(self) -> None:
        t = self._k * self.dt
        for part, unit in self.units.items():
            inputs = {tv: self._outputs[sp][sv] for (sp, sv), (tp, tv) in self.couplings if tp == part}
            if inputs:
                unit.set_inputs(inputs)
            if not unit.step(t, self.dt):
                raise DeviceError(f"virtual plant: {part} rejected the step at t={t:.3f} s")
            self._outputs[part] = unit.get_outputs()
        self._k += 1
        self.t = self._k * self.dt

    def read(self) -> dict[str, float]:
        return {
            ch.name: float(self._outputs.get(ch.part, {}).get(ch.name, math.nan)) for ch in self.description.sensors
        }

    def close(self) -> None:
        for unit in self.units.values():
            unit.terminate()


# ---------------------------------------------------------------------------------------------------------------
# Raspberry Pi


@dataclass(frozen=True)
class AnalogInput:
    """One ADS1115 input: SI value = gain * volts + offset (from the transducer's datasheet)."""

    sensor: str
    address: int  #: I2C address of the ADS1115 (0x48..0x4B)
    channel: int  #: single-ended input 0..3
    gain: float
    offset: float = 0.0


#: The default Pi build of docs/deployment.md (BCM pin numbers). Analog inputs: ADS1115 at +-4.096 V, powered from
#: 3.3 V; 5 V transducer outputs (0.5-4.5 V) come through 10k/20k dividers (x 2/3), so V_sensor = 1.5 * V_adc.
DEFAULT_PI_WIRING: dict[str, Any] = {
    "pwm": {"duty": 18, "Q_set": 13},  # hardware PWM pins: motor driver, proportional flow valve
    "valves": {"cmd_feed_A": 5, "cmd_feed_B": 6, "cmd_vent_A": 16, "cmd_vent_B": 20, "cmd_equalize": 21},
    "alarm_pin": 26,
    "q_set_full_scale": 1.7e-4,  # m3/s at 100 % PWM of the flow valve
    "i2c_bus": 1,
    "analog": [
        # pressure transducers 0-10 bar(g) at 0.5-4.5 V: p_abs = (1.5 V - 0.5) / 4 * 1e6 + 101325 Pa
        {"sensor": "sensor_p_feed", "address": 0x48, "channel": 0, "gain": 3.75e5, "offset": 101325.0 - 1.25e5},
        {"sensor": "sensor_p_tank", "address": 0x48, "channel": 1, "gain": 3.75e5, "offset": 101325.0 - 1.25e5},
        {"sensor": "p_bed_A", "address": 0x48, "channel": 2, "gain": 3.75e5, "offset": 101325.0 - 1.25e5},
        {"sensor": "p_bed_B", "address": 0x48, "channel": 3, "gain": 3.75e5, "offset": 101325.0 - 1.25e5},
        # O2 sensor analog output 0-1 V = 0-100 % O2 (no divider): fraction = V
        {"sensor": "sensor_O2", "address": 0x49, "channel": 0, "gain": 1.0, "offset": 0.0},
        # flow sensor 0-10 L/min at 0.5-4.5 V through the divider: Q = (1.5 V - 0.5) / 4 * 1.7e-4 m3/s
        {"sensor": "sensor_Q", "address": 0x49, "channel": 1, "gain": 6.375e-5, "offset": -2.125e-5},
        # LM35-type temperature sensors, 10 mV/K (no divider): T = 100 V + 273.15 K
        {"sensor": "sensor_T", "address": 0x49, "channel": 2, "gain": 100.0, "offset": 273.15},
        {"sensor": "T_head", "address": 0x49, "channel": 3, "gain": 100.0, "offset": 273.15},
    ],
    # sensors that are the same physical reading as another (the device reports what it measures)
    "aliases": {
        "p_feed": "sensor_p_feed",
        "p_tank": "sensor_p_tank",
        "y_O2_product": "sensor_O2",
        "Q_product": "sensor_Q",
        "T_bed_A": "sensor_T",
        "T_bed_B": "sensor_T",
    },
}


def load_pi_wiring(path: str | Path | None) -> dict[str, Any]:
    """The default wiring, with the tables of a wiring TOML file (same keys) replacing the defaults."""
    wiring = dict(DEFAULT_PI_WIRING)
    if path is not None:
        try:
            wiring.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise DeviceError(f"{path}: cannot read the wiring file: {err}") from None
    return wiring


class ADS1115:
    """Single-shot reads of a TI ADS1115 16-bit ADC over smbus2 (+-4.096 V range, 860 samples/s)."""

    _REG_CONVERSION = 0x00
    _REG_CONFIG = 0x01
    _FULL_SCALE_V = 4.096

    def __init__(self, bus: Any, address: int) -> None:
        self.bus = bus
        self.address = address

    def read_volts(self, channel: int) -> float:
        # OS=1 (start), MUX=100+channel (single-ended), PGA=001 (+-4.096 V), MODE=1 (single shot),
        # DR=111 (860 SPS), comparator disabled (11).
        config = 0x8000 | ((0x4 + channel) << 12) | (0x1 << 9) | (0x1 << 8) | (0x7 << 5) | 0x3
        self.bus.write_i2c_block_data(self.address, self._REG_CONFIG, [config >> 8, config & 0xFF])
        deadline = time.monotonic() + 0.01
        while time.monotonic() < deadline:
            hi, lo = self.bus.read_i2c_block_data(self.address, self._REG_CONFIG, 2)
            if hi & 0x80:  # conversion done
                break
            time.sleep(0.0002)
        hi, lo = self.bus.read_i2c_block_data(self.address, self._REG_CONVERSION, 2)
        raw = (hi << 8) | lo
        if raw & 0x8000:
            raw -= 1 << 16
        return raw * self._FULL_SCALE_V / 32768.0


class PiHardware(Hardware):
    """A Raspberry Pi: gpiozero PWM/digital outputs and ADS1115 analog inputs over I2C (see docs/deployment.md)."""

    def __init__(self, description: DeviceDescription, wiring: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        try:
            import gpiozero
            import smbus2
        except ImportError as err:
            raise DeviceError(
                f"the Raspberry Pi hardware layer needs gpiozero and smbus2 ({err}); install them with "
                "pip install 'o2twin[pi]', or run the agent with --virtual"
            ) from None
        w = dict(wiring or DEFAULT_PI_WIRING)
        self.wiring = w
        self._pwm = {name: gpiozero.PWMOutputDevice(pin, frequency=1000) for name, pin in w["pwm"].items()}
        self._valves = {name: gpiozero.DigitalOutputDevice(pin) for name, pin in w["valves"].items()}
        self._buzzer = gpiozero.Buzzer(w["alarm_pin"])
        self._bus = smbus2.SMBus(w["i2c_bus"])
        self._inputs = [AnalogInput(**a) for a in w["analog"]]
        self._adcs = {a.address: ADS1115(self._bus, a.address) for a in self._inputs}
        self.apply(description.safe_values({}))

    def apply(self, values: Mapping[str, float]) -> None:
        for name, dev in self._pwm.items():
            if name in values:
                v = values[name] / self.wiring["q_set_full_scale"] if name == "Q_set" else values[name]
                dev.value = min(1.0, max(0.0, float(v)))
        for name, dev in self._valves.items():
            if name in values:
                dev.value = 1 if values[name] >= 0.5 else 0

    def read(self) -> dict[str, float]:
        out = {name: math.nan for name in self.description.sensor_names}
        for a in self._inputs:
            try:
                out[a.sensor] = a.gain * self._adcs[a.address].read_volts(a.channel) + a.offset
            except OSError as err:  # an I2C error marks the reading as missing; the agent flags SENSOR_FAULT
                log.warning("ADC 0x%02x channel %d (%s): %s", a.address, a.channel, a.sensor, err)
        for alias, source in self.wiring.get("aliases", {}).items():
            if alias in out:
                out[alias] = out.get(source, math.nan)
        return out

    def set_alarm(self, on: bool) -> None:
        super().set_alarm(on)
        self._buzzer.value = 1 if on else 0

    def close(self) -> None:
        self.apply(self.description.safe_values({}))
        for dev in (*self._pwm.values(), *self._valves.values(), self._buzzer):
            dev.close()
        self._bus.close()
