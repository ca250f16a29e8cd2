"""The watchdog and the device together over a real pty: issue 10 measured 0.5 duty for 7 s while the device
reported 95 degC. Each layer must stop the compressor on its own:
- the host's watchdog at a head temperature above its 85 degC limit but below the device's 90 degC (the device
  alone would let it run), within its reaction time;
- the device at 95 degC with no watchdog in the loop (a host that keeps commanding half duty);
and a lost link puts the watchdog's safe states on (apply_plant wires psa.link_ok into it).
"""

from __future__ import annotations

import math
import threading

import pytest

from controllers.alarms import BIT
from orchestrator.errors import DeviceError, SystemDefinitionError
from orchestrator.hil.device.hardware import BenchHardware
from orchestrator.hil.sim.virtual import VirtualDevice
from orchestrator.results.run import prepare_spec, run
from orchestrator.scenario.parse import parse_scenario
from orchestrator.units import barg_to_pa, degc_to_k, slpm_to_m3s

pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=1)

STEP = 0.05
#: The host's reaction bound, from the device's first hot reading to the first safe command it applies: the sample
#: reaches the host within a sample period, the watchdog acts at its next sample (one step) and the command goes out
#: at the next macro step; 0.3 s leaves room for a loaded machine.
REACTION_S = 0.3


class HotBench(BenchHardware):
    """Bench hardware whose guard sensors read like a running concentrator: the feed pressure moves with a PSA-like
    wobble, the O2 and flow readings are plausible, the head temperature is 50 degC until ``hot_at_s`` (device
    time since the session's first command), then ``hot_degc``. ``applied_at`` keeps the time of each command."""

    def __init__(self, description, hot_degc: float, hot_at_s: float) -> None:
        super().__init__(description)
        self.hot_degc, self.hot_at_s = hot_degc, hot_at_s
        self.t = 0.0
        self.t0: float | None = None
        self.applied_at: list[tuple[float, dict]] = []
        self.lock = threading.Lock()

    def advance(self, device_time_s: float) -> None:
        self.t = device_time_s

    def apply(self, values) -> None:
        super().apply(values)
        if self.t0 is None and values["duty"] > 0:
            self.t0 = self.t
        with self.lock:
            self.applied_at.append((self.t, dict(values)))

    @property
    def hot(self) -> bool:
        return self.t0 is not None and self.t - self.t0 >= self.hot_at_s

    def read(self) -> dict[str, float]:
        out = super().read()
        out["sensor_p_feed"] = barg_to_pa(1.2) + 2e4 * math.sin(2 * math.pi * self.t / 1.5)
        out["T_head"] = degc_to_k(self.hot_degc if self.hot else 50.0)
        out["sensor_O2"] = 0.93 + 1e-3 * math.sin(self.t)
        out["sensor_Q"] = slpm_to_m3s(2.0)
        return out

    def hot_since(self) -> float:
        return (self.t0 or 0.0) + self.hot_at_s


def scenario(with_watchdog: bool) -> dict:
    """Compressor and PSA unit (replaced by the device), a manual duty request of 0.5, the PSA sequencer, a fixed
    flow; with the watchdog between them and the plant, or the requests wired straight to the device."""
    raw: dict = {
        "scenario": {"name": "hil-watchdog", "stop_time": 2.5},
        "master": {"algorithm": "gauss-seidel", "step": STEP},
        "slaves": {
            "compressor": {"fmu": "O2Twin.CoSim.Compressor"},
            "psa": {"fmu": "fmus/O2Twin_CoSim_PSAUnit.fmu"},
            "pid": {"block": "controllers.pid:PressurePID", "sample_time": STEP,
                    "parameters": {"manual": 1.0, "duty_manual": 0.5, "duty_rate_max": 100.0}},
            "sequencer": {"block": "controllers.sequencer:PSASequencer", "sample_time": STEP},
            "flow": {"block": "controllers.manual:FixedFlow", "sample_time": STEP},
        },
        "connections": [],
        "outputs": {"record": ["psa.link_ok", "compressor.T_head"]},
    }  # fmt: skip
    conns = raw["connections"]
    valves = ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")
    if with_watchdog:
        raw["slaves"]["watchdog"] = {"block": "controllers.watchdog:SafetyWatchdog", "sample_time": STEP,
                                     "parameters": {"reset": 0.0, "spo2": -1.0, "link_ok": 1.0}}  # fmt: skip
        raw["safety"] = {"watchdog": "watchdog"}
        raw["outputs"]["record"] += ["watchdog.duty", "watchdog.alarm_code", "watchdog.thermal_trip"]
        conns += [{"from": "pid.duty", "to": "watchdog.duty_req"}, {"from": "flow.Q_set", "to": "watchdog.Q_set_req"}]
        conns += [{"from": f"sequencer.{v}", "to": f"watchdog.{v}_req"} for v in valves]
        conns += [{"from": "watchdog.duty", "to": "compressor.duty"}, {"from": "watchdog.Q_set", "to": "psa.Q_set"}]
        conns += [{"from": f"watchdog.{v}", "to": f"psa.{v}"} for v in valves]
        conns += [{"from": "psa.sensor_p_feed", "to": "watchdog.p_feed"},
                  {"from": "psa.sensor_O2", "to": "watchdog.sensor_O2"},
                  {"from": "compressor.T_head", "to": "watchdog.T_head"},
                  {"from": "psa.sensor_Q", "to": "watchdog.sensor_Q"}]  # fmt: skip
    else:
        conns += [{"from": "pid.duty", "to": "compressor.duty"}, {"from": "flow.Q_set", "to": "psa.Q_set"}]
        conns += [{"from": f"sequencer.{v}", "to": f"psa.{v}"} for v in valves]
    return raw


def run_against(hw, description, raw: dict, tmp_path):
    with VirtualDevice(hw, description) as vd:
        spec = parse_scenario(raw, source=str(tmp_path / "hil-watchdog.toml"))
        return run(spec, out=tmp_path / "out", plant=vd.url, plots=False)


def duties_after(hw: HotBench, t: float) -> list[float]:
    with hw.lock:
        return [values["duty"] for at, values in hw.applied_at if at >= t]


def test_the_watchdog_stops_the_compressor_when_the_device_reports_a_hot_head(description, tmp_path):
    """88 degC: above the watchdog's 85 degC, below the device's own 90 degC limit, so only the host can act."""
    hw = HotBench(description, hot_degc=88.0, hot_at_s=1.0)
    result = run_against(hw, description, scenario(with_watchdog=True), tmp_path)
    assert result.exit_code == 0, result.error
    hot = hw.hot_since()
    before = [d for at, d in ((a, v["duty"]) for a, v in hw.applied_at) if hw.t0 is not None and at < hot]
    assert max(before) == pytest.approx(0.5, abs=1e-6), "running at half duty before"
    after = duties_after(hw, hot + REACTION_S)
    assert len(after) >= 15 and set(after) == {0.0}, f"duty after {REACTION_S} s of a hot head: {sorted(set(after))}"
    assert not vd_failsafe_tripped(hw), "the device's own limit did not have to act"
    s = result.signals
    assert (s["watchdog.thermal_trip"].to_numpy()[-5:] == 1.0).all()
    events = [e for e in result.events if e.get("source") == "watchdog" and e.get("name") == "THERMAL_SHUTDOWN"]
    assert events and events[0]["priority"] == "high"


def vd_failsafe_tripped(hw: HotBench) -> bool:
    return any(values["cmd_vent_A"] == 1.0 and values["cmd_vent_B"] == 1.0 and values["duty"] == 0.0
               and values["cmd_feed_A"] == 0.0 and values["cmd_feed_B"] == 0.0
               for _, values in hw.applied_at[1:-1])  # fmt: skip


def test_the_device_stops_the_compressor_at_95_degc_with_no_watchdog(description, tmp_path):
    """The issue's case without the host's safety layer: a host that keeps asking for 0.5 duty."""
    hw = HotBench(description, hot_degc=95.0, hot_at_s=1.0)
    result = run_against(hw, description, scenario(with_watchdog=False), tmp_path)
    hot = hw.hot_since()
    after = duties_after(hw, hot + 0.1)  # the device checks its limits at every sample (10-20 ms)
    assert after and set(after) == {0.0}
    assert vd_failsafe_tripped(hw)
    assert result.metrics["hil"]["failsafe_reports"] >= 1
    assert (result.signals["psa.link_ok"].to_numpy()[-5:] == 0.0).all()


def test_link_loss_puts_the_watchdog_safe_states_on(description, tmp_path):
    """apply_plant wires psa.link_ok into the watchdog: while the device reports its fail-safe (a lost link for the
    host), the watchdog commands duty 0 with the vent path open and raises LINK_LOSS."""
    hw = HotBench(description, hot_degc=95.0, hot_at_s=1.0)  # the device's own trip makes the link not ok
    result = run_against(hw, description, scenario(with_watchdog=True), tmp_path)
    s = result.signals
    lost = s["psa.link_ok"].to_numpy() == 0.0
    assert lost.any()
    code = s["watchdog.alarm_code"].to_numpy().astype(int)

    assert ((code[lost] & BIT["LINK_LOSS"]) != 0).all() and (s["watchdog.duty"].to_numpy()[lost] == 0.0).all()


def _hot_run_refused(description, raw: dict, tmp_path, match: str) -> HotBench:
    """Run raw against a virtual device whose head turns hot (88 degC, the watchdog's trip alone) and expect the
    run refused before anything reaches the device; returns the bench (for what it applied)."""
    hw = HotBench(description, hot_degc=88.0, hot_at_s=1.0)
    with pytest.raises(SystemDefinitionError, match=match):
        run_against(hw, description, raw, tmp_path)
    return hw


def test_no_scenario_event_reaches_the_device_around_the_watchdog(description, tmp_path):
    """Hazard: with hardware in the loop, the compressor on the device is off within the watchdog's reaction time of
    its thermal trip, whatever the scenario's events. An override on an actuator models a stuck actuator in
    simulation; on the device it is a command past the watchdog: before, `override compressor.duty = 0.5` kept the
    device at 0.5 duty for the 1.5 s to the end of the run after the watchdog tripped at 88 degC (watchdog.duty
    0). Now such a run is refused before the first command, naming the event and the request to act on instead."""
    raw = scenario(with_watchdog=True)
    raw["events"] = [{"time": 0.3, "override": {"compressor.duty": 0.5}}]
    hw = _hot_run_refused(description, raw, tmp_path, r"override 'compressor\.duty'.*watchdog\.duty_req")
    assert all(v["duty"] == 0.0 for _, v in hw.applied_at), "no command reached the device (only its own safe state)"
    raw["events"] = [{"time": 0.3, "set": {"psa.cmd_vent_A": 0.0}}]
    _hot_run_refused(description, raw, tmp_path, r"set 'psa\.cmd_vent_A'")
    # an event on the device's own fault inputs (not an actuator the watchdog drives) stays allowed
    raw["events"] = [{"time": 0.3, "set": {"psa.blockage": 0.5}}, {"time": 0.3, "override": {"watchdog.duty_req": 0.4}}]
    hw = HotBench(description, hot_degc=88.0, hot_at_s=1.0)
    result = run_against(hw, description, raw, tmp_path / "allowed")
    assert result.exit_code == 0, result.error
    after = duties_after(hw, hw.hot_since() + REACTION_S)
    assert after and set(after) == {0.0}


def test_a_block_stand_in_for_the_plant_cannot_drive_the_device_around_the_watchdog(description, tmp_path):
    """Hazard: whatever slaves the device replaces, its actuators are driven by the watchdog alone. The topology check
    knew only FMU slaves as the plant: with block stand-ins listed in [plant] replaces and the PID wired straight to
    `compressor.duty`, the device ran at the PID's 0.5 duty after the watchdog's thermal trip. Now refused."""
    raw = scenario(with_watchdog=True)
    raw["slaves"]["compressor"] = {"block": "controllers.manual:FixedFlow", "sample_time": STEP}
    raw["slaves"]["psa"] = {"block": "controllers.manual:FixedFlow", "sample_time": STEP}
    raw["plant"] = {"device": "serial:///dev/null", "replaces": ["compressor", "psa"]}
    raw["connections"] = [c for c in raw["connections"] if c["to"] != "compressor.duty"]
    raw["connections"].append({"from": "pid.duty", "to": "compressor.duty"})
    hw = _hot_run_refused(description, raw, tmp_path, r"'compressor\.duty' must be driven by the watchdog")
    assert all(v["duty"] == 0.0 for _, v in hw.applied_at)


@pytest.mark.parametrize("stale", [60.0, 2.5, 0.0, -1.0, "0.1", True], ids=str)
def test_a_stale_device_reading_cannot_be_taken_as_current_for_longer_than_the_command_timeout(stale, tmp_path):
    """Hazard: whenever the device's newest sample is older than its maximum command timeout (2 s), the link is not
    ok and the watchdog holds its safe states. [plant] stale_after_s was unchecked: 60 s let the host act on a
    minute-old head temperature (no stuck check guards it), a string failed at the first step, 0 silently meant
    the default."""
    raw = scenario(with_watchdog=True)
    raw["plant"] = {"device": "loop://", "stale_after_s": stale}
    spec = parse_scenario(raw, source=str(tmp_path / "hil-watchdog.toml"))
    with pytest.raises((SystemDefinitionError, DeviceError), match="stale_after_s"):
        prepare_spec(spec)


@pytest.mark.parametrize("stale", [0.05, 0.5, 2.0])
def test_a_stale_after_s_within_the_command_timeout_is_accepted(stale, tmp_path):
    raw = scenario(with_watchdog=True)
    raw["plant"] = {"device": "loop://", "stale_after_s": stale}
    spec = prepare_spec(parse_scenario(raw, source=str(tmp_path / "hil-watchdog.toml")))
    assert spec.plant is not None and spec.plant.options["stale_after_s"] == stale
