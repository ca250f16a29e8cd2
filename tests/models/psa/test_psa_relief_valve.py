"""The feed manifold's pressure relief valve (O2Twin.Components.ReliefValve in O2Twin.CoSim.PSAUnit).

Physical checks: the valve is closed below its 2.41 bar(g) setting and passes the textbook orifice flow when fully
lifted; with every PSA valve closed and the compressor at full duty (the dead-headed state a fail-safe or a stuck
sequencer can leave), it holds the manifold between its setting and the SafetyWatchdog's 3.0 bar(g) limit, venting
what the compressor delivers. Without the relief path the same plant climbs past 17 bar(g) (issue 10).
The rigs are simulated from the Modelica sources (tests/models/psa/models/PSATest).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from orchestrator.validation.modelica_sim import Simulator, compile_model
from tests.models.psa.test_psa_components import orifice_flow

RIGS = Path(__file__).parent / "models"
P_AMB = 101325.0
P_SET_PA = 2.41e5  # gauge, the valve's documented setting (35 psig)
ACCUMULATION_PA = 0.4e5
WATCHDOG_PWM_LIMIT_BARG = 3.0  # controllers/watchdog.py p_max_barg
M_AIR = 0.028965


def _relief_flow(p_abs: float) -> float:
    model = compile_model("PSATest.ReliefRig", ["n_flow"], {"p_a": p_abs}, extra_dirs=[RIGS])
    return float(model.outputs(0.0, model.x0, np.zeros(len(model.input_names))))


def test_relief_valve_closed_below_setting_open_above():
    assert _relief_flow(P_AMB + 1.9e5) == 0.0  # the cycle peak of normal operation
    assert _relief_flow(P_AMB + P_SET_PA - 1e3) == 0.0
    assert _relief_flow(P_AMB + P_SET_PA + 0.5 * ACCUMULATION_PA) > 0.0
    p_full = P_AMB + P_SET_PA + ACCUMULATION_PA + 0.1e5
    assert _relief_flow(p_full) == pytest.approx(orifice_flow(p_full, P_AMB, 2.5e-3), rel=1e-3)


def _dead_head(d_relief_m: float, seconds: float) -> dict[str, float]:
    names = ["p_feed", "Q_relief", "m_flow"]
    model = compile_model("PSATest.DeadHeadRig", names, {"d_relief_valve": d_relief_m}, extra_dirs=[RIGS])
    sim = Simulator(model)
    u = np.zeros(len(model.input_names))
    sim.step(seconds, u)
    return dict(zip(names, sim.outputs(u), strict=True))


def test_relief_valve_bounds_dead_headed_manifold():
    """Feed valves closed, compressor at full duty: the manifold settles above the setting, below 3.0 bar(g)."""
    y = _dead_head(2.5e-3, 30.0)
    p_barg = (y["p_feed"] - P_AMB) / 1e5
    print(f"dead-headed with relief: {p_barg:.3f} bar(g), compressor {1e3 * y['m_flow']:.3f} g/s")
    assert P_SET_PA / 1e5 < p_barg < WATCHDOG_PWM_LIMIT_BARG
    # at steady state the relief vents what the compressor delivers (standard m3/s -> kg/s)
    vented_kg_s = y["Q_relief"] * 101325.0 / (8.314462618 * 273.15) * M_AIR
    assert vented_kg_s == pytest.approx(y["m_flow"], rel=0.01)
    assert y["m_flow"] > 0.8e-3  # the compressor really runs (about 1.1 g/s)


def test_without_relief_path_the_dead_headed_manifold_overpressures():
    """The hazard the valve removes: the same plant with no relief path passes the 3.5 bar(g) hard limit."""
    y = _dead_head(0.0, 30.0)
    p_barg = (y["p_feed"] - P_AMB) / 1e5
    print(f"dead-headed without relief: {p_barg:.2f} bar(g)")
    assert p_barg > 10.0
    assert math.isclose(y["Q_relief"], 0.0, abs_tol=1e-12)
