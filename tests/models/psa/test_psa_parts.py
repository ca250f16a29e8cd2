"""Optional parts of the PSA unit and the compressor (issue 15), each against a physical check.

Rigs in tests/models/psa/models/PSATest, simulated directly from the Modelica sources
(orchestrator/validation/modelica_sim.py); expected values are closed forms computed here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.validation.modelica_sim import Simulator, compile_model
from tests.models.psa.test_psa_components import RIGS, orifice_flow

P_AMB = 101325.0
Y_AR_AIR = 0.00934


def _sim(rig: str, names: list[str], **params) -> Simulator:
    return Simulator(compile_model(f"PSATest.{rig}", names, params, extra_dirs=[RIGS]))


def test_valve_opening_ramp_follows_its_closed_form():
    """dx/dt = (1 - x)/(tau + t_ramp (1 - x)): from closed, x is reached at t = tau ln(1/(1-x)) + t_ramp x."""
    tau, t_ramp = 0.02, 0.15
    sim = _sim("RampValveRig", ["opening"], ramp=t_ramp)
    u = np.ones(1)
    t_prev = 0.0
    for x in (0.25, 0.5, 0.9):
        t_x = tau * math.log(1 / (1 - x)) + t_ramp * x
        sim.step(t_x - t_prev, u)
        t_prev = t_x
        assert sim.outputs(u)[0] == pytest.approx(x, abs=1e-4)
    # without a ramp the valve is the 20 ms lag: 90 % after 46 ms instead of 181 ms
    plain = _sim("RampValveRig", ["opening"], ramp=0.0)
    plain.step(tau * math.log(10), u)
    assert plain.outputs(u)[0] == pytest.approx(0.9, abs=1e-4)


def _steady_tank(**params) -> tuple[float, float, float]:
    sim = _sim("RegulatorRig", ["p_tank", "n_in", "n_out"], **params)
    sim.step(60.0, np.zeros(0))
    p_tank, n_in, n_out = sim.outputs(np.zeros(0))
    return float(p_tank), float(n_in), float(n_out)


@pytest.mark.parametrize("p_source", [2.5e5, 3.5e5])
def test_regulator_holds_its_setting(p_source):
    """The tank stays inside the regulator's band below its setting, whatever the inlet pressure."""
    p_set, band = 1.0e5, 1e4
    p_tank, n_in, n_out = _steady_tank(p_source=p_source, setting=p_set)
    assert n_in == pytest.approx(n_out, rel=1e-4)  # steady: the tank passes what the draw takes
    assert P_AMB + p_set - band <= p_tank <= P_AMB + p_set
    # the draw is the choked orifice flow at the held pressure
    assert n_out == pytest.approx(orifice_flow(p_tank, P_AMB, 0.6e-3), rel=2e-3)
    # without the regulator the same tank rises to the source pressure
    p_free, _, _ = _steady_tank(p_source=p_source, setting=0.0)
    assert p_free > p_source - 0.1e5


def test_restrictor_in_series_lowers_the_tank():
    """Steady state with a 0.4 mm restrictor: the series area A_c A_r/sqrt(A_c^2 + A_r^2) balances the draw."""
    p_source, d_r, d_check, d_draw = 2.5e5, 0.4e-3, 3e-3, 0.6e-3
    p_tank, n_in, n_out = _steady_tank(p_source=p_source, setting=0.0, d_r=d_r)
    d_series = (d_check**2 * d_r**2 / math.sqrt(d_check**4 + d_r**4)) ** 0.5  # area ~ d^2
    lo, hi = P_AMB, p_source
    for _ in range(60):  # bisection: inflow through the series area = choked draw
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if orifice_flow(p_source, mid, d_series) > orifice_flow(mid, P_AMB, d_draw) else (lo, mid)
    assert p_tank == pytest.approx(lo, rel=2e-3)
    assert n_in == pytest.approx(n_out, rel=1e-2)  # still filling slowly through the restrictor after 60 s
    assert p_tank < p_source - 0.5e5


def test_exhaust_volume_and_check_valve():
    """Blowdown through the exhaust volume: no room air drawn in, mass conserved, the check valve's back-pressure."""
    names = ["p_bed", "p_exhaust", "n_out", "n_held", "N_out"]
    sim = _sim("ExhaustRig", names)
    u = np.ones(1)
    start = dict(zip(names, sim.outputs(u), strict=True))
    rows = []
    for _ in range(300):
        sim.step(0.01, u)
        rows.append(dict(zip(names, sim.outputs(u), strict=True)))
    assert min(r["n_out"] for r in rows) >= -1e-12  # the check valve never lets the room in
    for r in rows:
        assert r["n_held"] + r["N_out"] == pytest.approx(start["n_held"], rel=1e-6)
    assert max(r["p_exhaust"] for r in rows) > P_AMB + 0.1e5  # the blowdown pressurises the chamber (0.18 bar)
    # the check valve shuts at its cracking pressure: bed and chamber are left just above 1 kPa(g)
    end = rows[-1]
    assert P_AMB + 1000.0 <= end["p_exhaust"] < P_AMB + 1500.0
    assert end["p_bed"] == pytest.approx(end["p_exhaust"], abs=50.0)


def test_o2_dead_time_has_its_mean_delay():
    """Step response of the transport delay: the first moment (integral of 1 - y) is the dead time."""
    for t_dead in (2.0, 5.0):
        sim = _sim("DeadTimeRig", ["y"], dead_time=t_dead)
        u = np.ones(1)
        dt, area, ys = 0.01, 0.0, []
        y_prev = float(sim.outputs(u)[0])
        for _ in range(int(8 * t_dead / dt)):
            sim.step(dt, u)
            y = float(sim.outputs(u)[0])
            area += dt * (1 - 0.5 * (y + y_prev))
            ys.append(y)
            y_prev = y
        assert area == pytest.approx(t_dead, rel=2e-3)
        t_half = dt * (1 + next(k for k, y in enumerate(ys) if y >= 0.5))
        assert 0.85 * t_dead < t_half < 1.0 * t_dead  # Erlang-8 median 0.96 T
    off = _sim("DeadTimeRig", ["y"], dead_time=0.0)
    assert off.outputs(np.ones(1))[0] == 1.0  # no dead time: the reading is the input


def _tracer(d_ax: float) -> tuple[np.ndarray, np.ndarray, float]:
    names = ["y_Ar_out", "n_out", "n_gas"]
    sim = _sim("DispersionRig", names, dispersion=d_ax)
    u = np.zeros(0)
    times, ys, taus = [], [], []
    for k in range(1, 161):
        sim.step(0.25, u)
        y, n_out, n_gas = sim.outputs(u)
        times.append(0.25 * k)
        ys.append(y / Y_AR_AIR)
        taus.append(n_gas / n_out)
    return np.array(times), np.array(ys), float(np.median(taus))


def test_axial_dispersion_mixes_the_bed_towards_a_stirred_tank():
    """Argon tracer through an inert bed: strong dispersion (Pe ~ 0.02) gives the stirred tank's 1 - exp(-t/tau),
    tau = gas held / flow; without it the front arrives much later and steeper."""
    t, y_mixed, tau = _tracer(0.5)
    for frac in (0.5, 1.0, 2.0):
        k = int(np.argmin(np.abs(t - frac * tau)))
        assert y_mixed[k] == pytest.approx(1 - math.exp(-t[k] / tau), abs=0.02)
    t0, y_plug, _ = _tracer(0.0)
    k = int(np.argmin(np.abs(t0 - 0.5 * tau)))
    assert y_plug[k] < 0.5 * (1 - math.exp(-0.5))
    assert y_plug[-1] == pytest.approx(1.0, abs=0.02)  # the tracer has broken through in both


def _compressor(modifiers: dict, u: dict[str, float], seconds: float, names: list[str]) -> tuple[Simulator, dict]:
    model = compile_model("O2Twin.CoSim.Compressor", names, modifiers)
    sim = Simulator(model)
    vec = np.array([u.get(n, 0.0) for n in model.input_names])
    sim.step(seconds, vec)
    return sim, dict(zip(names, sim.outputs(vec), strict=True))


def test_compressor_speed_input_is_the_same_motor():
    """Replaying the speed the PWM drive reaches gives the same flow and electrical power (same torque balance);
    the fan's power adds to the balance."""
    names = ["speed", "power", "m_flow"]
    _, duty_mode = _compressor({}, {"duty": 0.8, "p_discharge": 2.2e5}, 6.0, names)
    assert 150 < duty_mode["speed"] < 400
    _, speed_mode = _compressor(
        {"use_speed_input": "true", "P_fan": 10.0}, {"p_discharge": 2.2e5, "speed_set": duty_mode["speed"]}, 6.0, names
    )
    assert speed_mode["speed"] == pytest.approx(duty_mode["speed"], rel=1e-6)
    assert speed_mode["m_flow"] == pytest.approx(duty_mode["m_flow"], rel=1e-6)
    assert speed_mode["power"] - 10.0 == pytest.approx(duty_mode["power"], rel=1e-3)


def test_compressor_pulsation_at_twice_the_crank_frequency():
    """Two heads: the delivery ripples at 2x the crank angle with the set amplitude; its mean is unchanged."""
    names = ["m_flow", "cycles", "speed"]
    u = {"p_discharge": 2.0e5, "speed_set": 300.0}
    _, steady = _compressor({"use_speed_input": "true"}, u, 3.0, names)
    sim, _ = _compressor({"use_speed_input": "true", "pulsation": 0.5}, u, 3.0, names)
    vec = np.array([u.get(n, 0.0) for n in sim.model.input_names])
    rows = []
    for _ in range(400):
        sim.step(1e-3, vec)
        rows.append(sim.outputs(vec))
    m, cycles = np.array(rows)[:, 0], np.array(rows)[:, 1]
    theta = 2 * math.pi * cycles
    basis = np.column_stack([np.ones_like(theta), np.cos(2 * theta), np.sin(2 * theta)])
    (mean, a, b), *_ = np.linalg.lstsq(basis, m, rcond=None)
    assert mean == pytest.approx(steady["m_flow"], rel=1e-4)
    assert math.hypot(a, b) / mean == pytest.approx(0.5, rel=1e-3)
    spectrum = np.abs(np.fft.rfft(m - m.mean()))
    f_peak = np.fft.rfftfreq(len(m), 1e-3)[int(np.argmax(spectrum))]
    assert f_peak == pytest.approx(2 * 300.0 / (2 * math.pi), abs=2.5)  # 95.5 Hz, FFT bins of 2.5 Hz
