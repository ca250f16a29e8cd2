"""The default and the named scenarios, closed loop: plant FMUs + PID + sequencer + fuzzy titrator + watchdog.

Each scenario runs through `o2twin run`'s execute() into a temporary results directory and is checked on what was
recorded:
* no actuator command ever leaves its range (duty, valves 0..1; Q_set 0..10 L/min) and never is NaN;
* the watchdog trips when and only when it should: an oracle re-derives each alarm from the recorded sensor signals
  (thermal trip <=> head above 85 degC, latched; low purity <=> O2 reading below 87 % after the grace period;
  occlusion <=> flow below half the setpoint for 5 s; overpressure <=> feed above 3 bar(g)) and compares;
* the scenario's own outcome (flow raised for exercise/altitude, occlusion during the kink and SpO2 recovery, the
  thermal shutdown latching, the sensor drift visible against the true purity, ...).

The default suite runs short horizons (events moved earlier where needed; for the thermal trip a lower trip
temperature on the same physics); the full-length runs are marked slow. Needs the plant FMUs: they are exported
on demand (cached in fmus/); the module is skipped, with the exporter's message, when that is not possible.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from controllers.watchdog import BIT, SafetyWatchdog
from orchestrator.results.metrics import read_metrics
from orchestrator.results.signals import read_signals_csv
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.toml import dumps_scenario
from orchestrator.units import barg_to_pa, slpm_to_m3s

WD = {v.name: v.start for v in SafetyWatchdog.PARAMETERS}
VALVES = ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")


class Run:
    """Signals and metrics of one scenario run."""

    def __init__(self, out_dir: Path, spec) -> None:
        self.spec = spec
        self.out_dir = out_dir
        self.s = read_signals_csv(out_dir / "signals.csv")
        self.metrics = read_metrics(out_dir)
        self.t = self.s["time"]
        self.code = self.s["watchdog.alarm_code"].astype(np.int64)

    def bit(self, name: str) -> np.ndarray:
        return (self.code & BIT[name]) != 0

    def window(self, t0: float, t1: float) -> np.ndarray:
        return (self.t >= t0) & (self.t < t1)

    def wd_param(self, name: str) -> float:
        return float(self.spec.slaves["watchdog"].parameters.get(name, WD[name]))


_CACHE: dict[tuple, Run] = {}


def run_scenario(
    tmp_path_factory, name: str, stop_time: float, event_shift: float = 0.0, watchdog: dict | None = None
) -> Run:
    """Run scenarios/NAME.toml up to stop_time, events moved `event_shift` s earlier; cached per module."""
    key = (name, stop_time, event_shift, tuple(sorted((watchdog or {}).items())))
    if key in _CACHE:
        return _CACHE[key]
    from orchestrator.results.run import run as run_scenario

    spec = load_scenario(name)
    events = [
        dataclasses.replace(e, time=e.time - event_shift) for e in spec.events if e.time - event_shift <= stop_time
    ]
    spec = dataclasses.replace(spec, stop_time=stop_time, events=events)
    if watchdog:
        spec.slaves["watchdog"].parameters = {**spec.slaves["watchdog"].parameters, **watchdog}
    folder = tmp_path_factory.mktemp(name)
    path = folder / f"{name}.toml"
    path.write_text(dumps_scenario(spec), encoding="utf-8")
    result = run_scenario(path, out=folder / "results", plots=False)
    out_dir = result.out_dir
    assert result.exit_code == 0, f"scenario {name} failed: {result.error}"
    run = Run(out_dir, spec)
    check_actuators(run)
    check_watchdog_oracle(run)
    _CACHE[key] = run
    return run


def check_actuators(run: Run) -> None:
    s = run.s
    q_max = slpm_to_m3s(run.wd_param("q_max_slpm"))
    for name in ("watchdog.duty", *(f"watchdog.{v}" for v in VALVES)):
        assert np.all(np.isfinite(s[name])) and s[name].min() >= 0.0 and s[name].max() <= 1.0, name
    assert np.all(np.isfinite(s["watchdog.Q_set"]))
    assert s["watchdog.Q_set"].min() >= 0.0 and s["watchdog.Q_set"].max() <= q_max + 1e-15
    # The watchdog never commands more than was requested.
    assert np.all(s["watchdog.duty"] <= np.clip(s["pid.duty"], 0, 1) + 1e-12)


def _near(mask: np.ndarray, k: int, width: int = 2) -> bool:
    return bool(mask[max(0, k - width) : k + width + 1].any())


def check_watchdog_oracle(run: Run) -> None:
    """Each alarm re-derived from the recorded sensors (within two recording intervals of the watchdog's timing)."""
    s, t = run.s, run.t
    t_max = run.wd_param("t_max_degc") + 273.15
    t_head = s["compressor.T_head"]
    trip = s["watchdog.thermal_trip"] > 0.5
    # Thermal: latched (no reset input in the scenarios), set iff the head went above the limit.
    assert np.all(np.diff(trip.astype(int)) >= 0), "a thermal trip never clears without a reset"
    above = t_head > t_max + 0.05
    for k in np.flatnonzero(trip)[:1]:
        assert np.max(t_head[: k + 1]) > t_max - 0.05, f"thermal trip at {t[k]:.1f} s with the head below the limit"
    for k in np.flatnonzero(above)[:1]:
        assert _near(trip, k), f"head above {t_max - 273.15:.0f} degC at {t[k]:.1f} s without a thermal trip"
    assert np.all(s["watchdog.duty"][trip] == 0.0), "compressor off while tripped"

    # Low purity: only after the grace period, iff the O2 reading is below the limit (hysteresis when clearing).
    o2 = s["psa.sensor_O2"]
    grace = run.wd_param("purity_grace_s") + t[0]
    low = run.bit("LOW_PURITY")
    pmin, hyst = run.wd_param("purity_min"), run.wd_param("purity_hysteresis")
    for k in np.flatnonzero(low):
        assert t[k] >= grace - 0.1, f"low-purity alarm at {t[k]:.1f} s, inside the grace period"
        assert _near(o2 < pmin + hyst, k), f"low-purity alarm at {t[k]:.1f} s with the O2 reading {o2[k]:.3f}"
    for k in np.flatnonzero((o2 < pmin - 0.002) & (t >= grace + 0.2)):
        assert _near(low, k), f"O2 reading {o2[k]:.3f} at {t[k]:.1f} s without a low-purity alarm"
    sustained = run.bit("LOW_PURITY_SUSTAINED")
    assert not np.any(sustained & ~low)

    # Occlusion: flow below half the setpoint for the persistence time.
    q, q_set = s["psa.sensor_Q"], s["watchdog.Q_set"]
    starved = q < run.wd_param("occlusion_fraction") * q_set
    n_persist = round(run.wd_param("occlusion_time_s") / np.median(np.diff(t)))
    for k in np.flatnonzero(run.bit("OCCLUSION")):
        lo = max(0, k - n_persist + 3)
        assert starved[lo : k - 1].all(), f"occlusion alarm at {t[k]:.1f} s without {n_persist} starved samples"
    # Overpressure.
    p = s["psa.sensor_p_feed"]
    over = run.bit("OVERPRESSURE")
    p_max = barg_to_pa(run.wd_param("p_max_barg"), run.wd_param("p_ambient"))
    for k in np.flatnonzero(over):
        assert _near(p > p_max, k), f"overpressure alarm at {t[k]:.1f} s with {p[k]:.0f} Pa"
    for k in np.flatnonzero(p > p_max + 2000.0):
        assert _near(over, k), f"feed pressure {p[k]:.0f} Pa at {t[k]:.1f} s without an overpressure alarm"
    # No sensor in these scenarios is implausible and no controller sends garbage.
    for name in ("SENSOR_PRESSURE", "SENSOR_TEMPERATURE", "SENSOR_O2", "SENSOR_FLOW", "COMMAND_INVALID"):
        assert not run.bit(name).any(), f"unexpected {name} alarm"


def count_switches(x: np.ndarray) -> int:
    return int(np.sum(np.abs(np.diff(x)) > 0.5))


# ------------------------------------------------------------------------------------------------------------------
# default suite: short horizons


def test_default_scenario_closed_loop(plant_fmus, tmp_path_factory):
    """Cold start, 15 minutes at home: SpO2 in the 88-92 % target most of the time after warm-up, not all of it
    (the walk desaturates the patient); the titrator holds the flow while the probe is off."""
    run = run_scenario(tmp_path_factory, "default", 900.0)
    s, summary = run.s, run.metrics["summary"]
    # The sequencer cycles the beds the whole time (7.5 s cycle: feed A opens and closes twice per cycle).
    assert count_switches(s["watchdog.cmd_feed_A"]) >= 2 * 900 / 7.5 - 2
    assert not (s["watchdog.thermal_trip"] > 0).any()
    assert 60.0 <= summary["time_in_target_pct"] < 99.0, summary
    assert summary["warmup_s"] == 240.0
    assert summary["energy_wh"] > 0 and "alarms_raised" in summary
    # The walk (360-480 s) asks for more oxygen than rest.
    q = s["watchdog.Q_set"]
    assert q[run.window(450.0, 500.0)].mean() > q[run.window(300.0, 360.0)].mean() + slpm_to_m3s(0.5)
    # Probe off 700-715 s: no reading, the flow is held (the titrator does not act without a reading).
    off = run.window(702.0, 716.0)
    assert np.isnan(s["oximeter.spo2"][off]).all()
    assert np.ptp(q[off]) == 0.0
    # The feed manifold is a capacitance: the compressor-PSA coupling has no algebraic loop to iterate.
    assert run.metrics["steps"]["loop_solves"] == 0


def test_same_seed_same_session_other_seed_other_readings(plant_fmus, tmp_path):
    """Determinism: the scenario's seed drives every random source (oximeter, sensor noise)."""
    from orchestrator.results.run import run

    spec = dataclasses.replace(load_scenario("default"), stop_time=60.0, events=[])
    runs = [run(dataclasses.replace(spec, seed=seed), out=tmp_path / f"r{k}", plots=False)
            for k, seed in enumerate((0, 0, 1))]  # fmt: skip
    a, b, c = (r.signals for r in runs)
    assert a.equals(b)
    assert not a["oximeter.spo2"].equals(c["oximeter.spo2"])
    assert not a["psa.sensor_p_feed"].equals(c["psa.sensor_p_feed"])


def test_exercise_raises_the_flow(plant_fmus, tmp_path_factory):
    """Walking moved from 180 s to 60 s: identical to rest before it, then SpO2 falls and the titrator adds flow."""
    rest = run_scenario(tmp_path_factory, "default", 900.0)
    walk = run_scenario(tmp_path_factory, "exercise", 150.0, event_shift=120.0)
    before_w, before_r = walk.window(0.0, 59.9), rest.window(0.0, 59.9)
    assert np.array_equal(walk.s["patient.SpO2"][before_w], rest.s["patient.SpO2"][before_r]), "deterministic"
    spo2_w = walk.s["patient.SpO2"][walk.window(100.0, 150.0)].mean()
    assert spo2_w < rest.s["patient.SpO2"][rest.window(100.0, 150.0)].mean()
    q_walk = walk.s["watchdog.Q_set"][walk.window(100.0, 150.0)].mean()
    q_rest = rest.s["watchdog.Q_set"][rest.window(100.0, 150.0)].mean()
    assert q_walk > q_rest + slpm_to_m3s(0.2)


def longest_run_s(mask: np.ndarray, dt: float) -> float:
    """Longest stretch of consecutive True samples, in seconds."""
    best = cur = 0
    for x in mask:
        cur = cur + 1 if x else 0
        best = max(best, cur)
    return best * dt


def test_exercise_desaturates_below_85_percent_at_the_flow_limit(plant_fmus, tmp_path_factory):
    """Stairs at 480-570 s: the titrator is at its 5 L/min limit and the oximeter still reads below 85 % for more
    than 15 s (the low-SpO2 alarm condition, issue 11); at rest afterwards SpO2 comes back."""
    run = run_scenario(tmp_path_factory, "exercise", 660.0)
    s = run.s
    stairs = run.window(480.0, 600.0)
    assert s["watchdog.Q_set"][stairs].max() == pytest.approx(slpm_to_m3s(5.0))
    low = (s["oximeter.spo2"] < 0.85) & stairs
    assert longest_run_s(low, 0.1) > 15.0
    assert run.bit("LOW_SPO2")[stairs].any(), "the watchdog's low-SpO2 alarm"
    assert s["patient.SpO2"][run.window(640.0, 660.0)].mean() > 0.88


def test_high_altitude_needs_more_flow(plant_fmus, tmp_path_factory):
    """The same patient at 2000 m: on the 3 L/min of before it starts in equilibrium (not at 36 % SpO2, issue 11);
    lower inspired O2 then asks for more flow than at home."""
    rest = run_scenario(tmp_path_factory, "default", 900.0)
    alt = run_scenario(tmp_path_factory, "high_altitude", 150.0)
    assert 0.84 <= alt.s["patient.SpO2"][0] <= 0.92
    q_alt = alt.s["watchdog.Q_set"][alt.window(60.0, 150.0)].mean()
    assert q_alt > rest.s["watchdog.Q_set"][rest.window(60.0, 150.0)].mean()


def test_compressor_wear_lowers_feed(plant_fmus, tmp_path_factory):
    rest = run_scenario(tmp_path_factory, "default", 900.0)
    worn = run_scenario(tmp_path_factory, "compressor_wear", 150.0)
    w, r = worn.window(60.0, 150.0), rest.window(60.0, 150.0)
    # The PID saturates at full duty and the worn compressor still delivers less air than the healthy one needs.
    assert worn.s["compressor.m_flow"][w].mean() < 0.9 * rest.s["compressor.m_flow"][r].mean()
    assert worn.s["pid.duty"][w].mean() > 0.95
    assert worn.s["psa.p_feed"][w].max() < rest.s["psa.p_feed"][r].max()
    assert worn.s["pid.duty"][w].mean() >= rest.s["pid.duty"][r].mean() - 1e-9, "the PID asks for at least as much"


def test_stuck_feed_valve_degrades_purity(plant_fmus, tmp_path_factory):
    """Fault moved from 300 s to 60 s: after it, the delivered purity falls below its pre-fault level."""
    run = run_scenario(tmp_path_factory, "stuck_valve", 180.0, event_shift=240.0)
    y = run.s["psa.y_O2_product"]
    before = y[run.window(50.0, 60.0)].mean()
    assert y[run.window(150.0, 180.0)].mean() < before - 0.03
    # The watchdog still cycles feed A; the plant input is held open by the fault.
    assert count_switches(run.s["watchdog.cmd_feed_A"][run.window(60.0, 180.0)]) >= 20


def test_o2_sensor_drift_moves_reading_not_purity(plant_fmus, tmp_path_factory):
    """Drift moved from 300 s to 60 s and the purity grace to 60 s: the reading departs from the true purity at the
    drift rate and the watchdog acts on the reading (oracle)."""
    run = run_scenario(tmp_path_factory, "o2_sensor_drift", 180.0, event_shift=240.0, watchdog={"purity_grace_s": 60})
    ref = run_scenario(tmp_path_factory, "default", 180.0, watchdog={"purity_grace_s": 60})
    # reading - true purity (the sensor's lag while purity rises) compared with the same run without the drift
    gap = run.s["psa.sensor_O2"] - run.s["psa.y_O2_product"]
    gap_ref = ref.s["psa.sensor_O2"] - ref.s["psa.y_O2_product"]
    before = run.window(0.0, 60.0)
    assert np.abs(gap[before] - gap_ref[before]).max() < 1e-9
    assert gap[-1] - gap_ref[-1] == pytest.approx(-3e-4 * (run.t[-1] - 60.0), abs=0.005)


def test_blocked_cannula_raises_occlusion_and_recovers(plant_fmus, tmp_path_factory):
    """Kink moved from 300-420 s to 60-180 s; occlusion only while kinked; SpO2 falls, then the flow returns."""
    run = run_scenario(tmp_path_factory, "blocked_cannula", 240.0, event_shift=240.0, watchdog={"purity_grace_s": 30})
    occl = run.bit("OCCLUSION")
    assert occl[run.window(66.0, 180.0)].all(), "occlusion alarm within 6 s of the kink, for as long as it lasts"
    assert not occl[run.window(0.0, 60.0)].any() and not occl[run.window(185.0, 240.0)].any()
    q = run.s["psa.Q_product"]
    assert q[run.window(70.0, 180.0)].max() < 0.3 * q[run.window(40.0, 60.0)].mean()
    assert q[run.window(200.0, 240.0)].mean() > 0.8 * q[run.window(40.0, 60.0)].mean()
    spo2 = run.s["patient.SpO2"]
    assert spo2[run.window(175.0, 180.0)].mean() < spo2[run.window(59.0, 61.0)].mean(), "SpO2 falls while kinked"
    assert spo2[run.window(230.0, 240.0)].min() >= 0.88, "back in the 88-92 % target after the kink"
    # The titrator answers the falling SpO2 by raising the setpoint during the kink.
    assert (
        run.s["watchdog.Q_set"][run.window(170.0, 180.0)].mean()
        > run.s["watchdog.Q_set"][run.window(50.0, 60.0)].mean()
    )


def test_thermal_shutdown_trips_and_latches_short(plant_fmus, tmp_path_factory):
    """Same physics as high_ambient_temperature, trip temperature lowered to 54 degC to reach it in 2 minutes."""
    run = run_scenario(tmp_path_factory, "high_ambient_temperature", 240.0, watchdog={"t_max_degc": 54.0})
    trip = run.s["watchdog.thermal_trip"] > 0.5
    assert trip.any() and trip[-1], "tripped and still latched at the end"
    k = int(np.argmax(trip))
    assert run.s["watchdog.duty"][k:].max() == 0.0
    t_head, t = run.s["compressor.T_head"], run.t
    heating = np.polyfit(t[k - 300 : k], t_head[k - 300 : k], 1)[0]  # K/s over the 30 s before the trip
    after = np.polyfit(t[-300:], t_head[-300:], 1)[0]  # K/s over the last 30 s
    assert heating > 0.02 and after < 0.0, "heating stops with the compressor; the head cools (slowly: no fan)"
    assert run.bit("THERMAL_SHUTDOWN")[k:].all() and (run.s["watchdog.alarm_level"][k:] == 3).all()
    # The watchdog's own log reaches the results' event log, at the trip time.
    logged = [json.loads(line) for line in (run.out_dir / "events.jsonl").read_text().splitlines()]
    thermal = [e for e in logged if "THERMAL" in json.dumps(e).upper() and e.get("source") != "master"]
    assert thermal and abs(thermal[0]["time"] - t[k]) < 1.0, thermal[:3]


# ------------------------------------------------------------------------------------------------------------------
# slow suite: full-length scenarios


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["default", "exercise", "high_altitude", "compressor_wear", "stuck_valve", "o2_sensor_drift", "blocked_cannula"],
)
def test_named_scenario_full_length(plant_fmus, tmp_path_factory, name):
    spec = load_scenario(name)
    run = run_scenario(tmp_path_factory, name, spec.stop_time)
    assert run.t[-1] == pytest.approx(spec.stop_time)


@pytest.mark.slow
def test_night_sleep_hypoventilation_and_a_mucus_plug(plant_fmus, tmp_path_factory):
    """REM sleep raises PaCO2 and the flow; the cold hand (no reading) holds the flow for hold_max_s, then raises it
    to the fallback prescription; the mucus plug desaturates the patient and the titrator answers with more flow
    until the cough clears it."""
    run = run_scenario(tmp_path_factory, "night", 7200.0)
    s = run.s
    paco2 = s["patient.PaCO2"]
    assert paco2[run.window(3500.0, 4200.0)].mean() > paco2[run.window(0.0, 600.0)].mean() * 1.15
    q = s["watchdog.Q_set"]
    assert q[run.window(3500.0, 4200.0)].mean() > q[run.window(2500.0, 3000.0)].mean()
    cold = run.window(2010.0, 2120.0)
    assert np.isnan(s["oximeter.spo2"][cold]).all()
    titrator = run.spec.slaves["titrator"].parameters
    hold_s, q_fallback = titrator.get("hold_max_s", 60.0), slpm_to_m3s(titrator.get("q_fallback_slpm", 2.0))
    last_reading = run.t[run.window(1900.0, 2010.0) & np.isfinite(s["oximeter.spo2"])][-1]
    held = run.window(2010.0, last_reading + hold_s - 1.0)
    assert np.ptp(q[held]) == 0.0  # neither chased nor lowered without a reading
    fallback = run.window(last_reading + hold_s + 15.0, 2120.0)
    assert q[fallback].min() == pytest.approx(max(q[held][0], q_fallback)) and np.ptp(q[fallback]) == 0.0
    assert run.bit("SENSOR_SPO2")[run.window(2045.0, 2120.0)].all(), "no SpO2 reading for 30 s: alarm"
    # the plug desaturates the patient within minutes, until the titrator's extra flow makes up for it
    assert (
        s["patient.SpO2"][run.window(4800.0, 4900.0)].mean()
        < s["patient.SpO2"][run.window(4500.0, 4800.0)].mean() - 0.02
    )
    assert q[run.window(5000.0, 5100.0)].mean() > q[run.window(4500.0, 4800.0)].mean() + slpm_to_m3s(0.3)


@pytest.mark.slow
def test_exacerbation_outgrows_the_unit(plant_fmus, tmp_path_factory):
    """At the end the flow is at its 5 L/min limit and the oximeter reads below 85 % (the low-SpO2 alarm)."""
    run = run_scenario(tmp_path_factory, "exacerbation", 3600.0)
    end = run.window(3100.0, 3600.0)
    assert run.s["watchdog.Q_set"][end].min() == pytest.approx(slpm_to_m3s(5.0))
    assert longest_run_s((run.s["oximeter.spo2"] < 0.85) & end, 0.1) > 15.0
    assert run.bit("LOW_SPO2")[end].any()


@pytest.mark.slow
def test_high_ambient_temperature_full_length(plant_fmus, tmp_path_factory):
    """50 degC, failed fan: the real 85 degC trip happens within the scenario's 30 minutes and latches."""
    run = run_scenario(
        tmp_path_factory, "high_ambient_temperature", load_scenario("high_ambient_temperature").stop_time
    )
    trip = run.s["watchdog.thermal_trip"] > 0.5
    assert trip.any() and trip[-1]
    k = int(np.argmax(trip))
    assert run.s["compressor.T_head"][k] > 273.15 + 84.9
    assert run.s["watchdog.duty"][k:].max() == 0.0
