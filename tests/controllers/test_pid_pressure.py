"""PressurePID on its own: step response on a first-order plant, anti-windup, limits, bumpless transfer."""

from __future__ import annotations

import itertools
import math

import pytest

from controllers.pid import PressurePID
from orchestrator.errors import SystemDefinitionError

TS = 0.1
P_ATM = 101325.0


def make_pid(**params) -> PressurePID:
    """A PID without the ripple filter unless asked (the tests check the PID algorithm on a smooth plant)."""
    pid = PressurePID("pid", TS)
    pid.setup(0.0, {"measurement_tau_s": 0.0, **params})
    return pid


def simulate(pid: PressurePID, setpoint_pa, seconds: float, gain_bar=1.6, tau_s=3.0, p0=P_ATM, inputs=None):
    """Closed loop with a first-order plant p = p_atm + gain * duty (bar), exact discretisation; returns traces.

    gain_bar may be a function of time (a leak that lowers the achievable pressure)."""
    a = math.exp(-TS / tau_s)
    p = p0
    ts, ps, us = [], [], []
    for k in range(round(seconds / TS)):
        t = k * TS
        sp = setpoint_pa(t) if callable(setpoint_pa) else setpoint_pa
        pid.set_inputs({"p_measured": p, "p_setpoint": sp, **(inputs(t) if inputs else {})})
        pid.step(t, TS)
        u = pid.get_outputs()["duty"]
        gain = gain_bar(t) if callable(gain_bar) else gain_bar
        target = P_ATM + gain * 1e5 * u
        p = target + (p - target) * a
        ts.append(t)
        ps.append(p)
        us.append(u)
    return ts, ps, us


def test_step_response_reaches_setpoint_without_large_overshoot():
    pid = make_pid()
    sp = P_ATM + 1.0e5  # 1.0 bar(g)
    _, ps, us = simulate(pid, sp, 40.0)
    assert abs(ps[-1] - sp) < 0.01e5, "integral action removes the steady-state error"
    overshoot = (max(ps) - sp) / 1e5
    assert overshoot < 0.15, f"overshoot {overshoot:.3f} bar"
    assert all(0.0 <= u <= 1.0 for u in us)


def test_output_and_rate_limits_hold():
    pid = make_pid(duty_min=0.1, duty_max=0.8, duty_rate_max=0.5)
    _, _, us = simulate(pid, lambda t: P_ATM + (3.0e5 if t < 20 else 0.0), 40.0)
    assert min(us) >= 0.1 and max(us) <= 0.8
    assert max(us) == pytest.approx(0.8) and min(us[250:]) == pytest.approx(0.1)
    steps = [abs(b - a) for a, b in itertools.pairwise(us)]
    assert max(steps) <= 0.5 * TS + 1e-12


def test_anti_windup_limits_overshoot_after_saturation():
    """A leak makes 1 bar(g) unreachable for 30 s (duty saturated at 1); after the leak, back-calculation recovers
    with far less overshoot than an integrator that wound up."""

    def gain(t):
        return 0.6 if t < 30.0 else 1.6

    sp = P_ATM + 1.0e5
    _, ps_aw, _ = simulate(make_pid(), sp, 60.0, gain_bar=gain)
    _, ps_wound, _ = simulate(make_pid(tt=1e9), sp, 60.0, gain_bar=gain)  # tracking effectively off
    after = round(30.0 / TS)
    overshoot_aw = max(ps_aw[after:]) - (P_ATM + 1.0e5)
    overshoot_wound = max(ps_wound[after:]) - (P_ATM + 1.0e5)
    assert overshoot_wound > 0.3e5, "without anti-windup the integrator winds up (check of the test itself)"
    assert overshoot_aw < 0.5 * overshoot_wound, (overshoot_aw, overshoot_wound)
    assert overshoot_aw < 0.25e5  # the plant jumps toward 1.6 bar(g) at full duty: some overshoot is physical


def test_tracks_applied_duty_from_the_watchdog():
    """When the watchdog caps the duty, duty_applied keeps the integrator from winding up."""
    pid = make_pid()
    cap = {"duty_applied": 0.2}
    for k in range(300):
        pid.set_inputs({"p_measured": P_ATM, "p_setpoint": P_ATM + 2e5, **cap})
        pid.step(k * TS, TS)
    # The unsaturated output v stays near the applied value plus the tracking error, not at a wound-up integral.
    assert pid._integral < 1.0


def test_derivative_acts_on_measurement_only():
    outs = []
    for td in (0.0, 0.5):
        pid = make_pid(td=td, duty_rate_max=math.inf)
        seq = []
        for k in range(5):
            sp = P_ATM + (1e5 if k >= 2 else 0.5e5)
            pid.set_inputs({"p_measured": P_ATM + 0.5e5, "p_setpoint": sp})
            pid.step(k * TS, TS)
            seq.append(pid.get_outputs()["duty"])
        outs.append(seq)
    assert outs[0] == pytest.approx(outs[1]), "a setpoint step gives no derivative kick"
    pid = make_pid(td=0.5, duty_rate_max=math.inf, ti=math.inf, kp=0.5)
    pid.set_inputs({"p_measured": P_ATM + 1e5, "p_setpoint": P_ATM + 1e5})
    pid.step(0.0, TS)
    pid.set_inputs({"p_measured": P_ATM + 1.2e5})
    pid.step(TS, TS)
    # Measurement rising by 0.2 bar in one sample: D = -kp (1 - a) N dy with a = td / (td + N Ts) = 1/3.
    assert pid._derivative == pytest.approx(-0.5 * (2.0 / 3.0) * 10 * 0.2, rel=1e-12)


def test_bumpless_manual_to_auto_transfer():
    pid = make_pid()
    manual = {"manual": 1.0, "duty_manual": 0.4}
    _, ps, us = simulate(pid, P_ATM + 0.5e5, 40.0, inputs=lambda t: manual if t < 10 else {"manual": 0.0})
    k = round(10.0 / TS)
    assert us[k - 1] == pytest.approx(0.4)
    jump = abs(us[k] - us[k - 1])
    # Only the proportional+integral response to the current error, no jump back to a stale integral.
    assert jump <= 0.5 * TS + 1e-12
    assert abs(ps[-1] - (P_ATM + 0.5e5)) < 0.02e5


def test_auto_to_manual_moves_at_rate_limit():
    pid = make_pid(duty_rate_max=0.2)
    _, _, us = simulate(pid, P_ATM + 1e5, 30.0, inputs=lambda t: {"manual": 1.0, "duty_manual": 0.0} if t >= 20 else {})
    k = round(20.0 / TS)
    assert us[k - 1] > 0.3
    assert us[k] == pytest.approx(us[k - 1] - 0.2 * TS)
    assert us[-1] == 0.0


def test_measurement_filter_smooths_ripple():
    """A +-0.3 bar ripple at the 7.5 s cycle moves the duty far less with the 2 s measurement filter."""
    spreads = []
    for tau in (0.0, 2.0):
        pid = make_pid(measurement_tau_s=tau)
        duties = []
        for k in range(600):
            ripple = 0.3e5 * math.sin(2 * math.pi * k * TS / 7.5)
            pid.set_inputs({"p_measured": P_ATM + 1e5 + ripple, "p_setpoint": P_ATM + 1e5})
            pid.step(k * TS, TS)
            duties.append(pid.get_outputs()["duty"])
        spreads.append(max(duties[300:]) - min(duties[300:]))
    # first-order filter gain at the cycle frequency: 1 / sqrt(1 + (w tau)^2) = 0.51 for w = 2 pi / 7.5 s, tau = 2 s
    expected = 1.0 / math.sqrt(1.0 + (2 * math.pi / 7.5 * 2.0) ** 2)
    assert spreads[1] / spreads[0] == pytest.approx(expected, rel=0.1)


def test_nan_measurement_holds_output():
    pid = make_pid()
    _, _, us = simulate(pid, P_ATM + 1e5, 5.0)
    pid.set_inputs({"p_measured": math.nan})
    pid.step(5.0, TS)
    assert pid.get_outputs()["duty"] == us[-1]


@pytest.mark.parametrize(
    "params, word",
    [({"kp": -1.0}, "kp"), ({"ti": 0.0}, "ti"), ({"duty_min": 0.9, "duty_max": 0.5}, "duty_min"),
     ({"tt": 0.0}, "tt"), ({"duty_rate_max": 0.0}, "duty_rate_max"), ({"kd": 1.0}, "unknown parameter 'kd'")],
)  # fmt: skip
def test_parameter_validation_names_the_parameter(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        make_pid(**params)


def test_state_save_restore_reproduces_the_trajectory():
    pid = make_pid()
    simulate(pid, P_ATM + 1e5, 5.0)
    state = pid.get_state()
    _, _ps1, us1 = simulate(pid, P_ATM + 1e5, 5.0, p0=P_ATM + 0.8e5)
    pid.set_state(state)
    _, _ps2, us2 = simulate(pid, P_ATM + 1e5, 5.0, p0=P_ATM + 0.8e5)
    assert us1 == us2
