"""Component physics of the PSA unit against closed-form results (test rigs in tests/models/psa/models/PSATest).

The rigs are simulated directly from the Modelica sources (orchestrator/validation/modelica_sim.py); the expected values
are computed here independently from the textbook formulas and the published isotherm parameters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from orchestrator.validation.modelica_sim import Simulator, compile_model

RIGS = Path(__file__).parent / "models"
R = 8.314462618
GAMMA = 1.4
T_AMB = 298.15
Y_AIR = np.array([(1 - 0.00934) * 0.7808 / 0.9903, (1 - 0.00934) * 0.2095 / 0.9903, 0.00934])
M_AIR = float(Y_AIR @ np.array([0.0280134, 0.0319988, 0.039948]))
# Yang et al. Li-LSX extended Langmuir (physics.md): k1 mol/(kg Pa), k2 K, k3 1/Pa, k4 K; Ar uses O2's
K1 = np.array([9.86e-9, 7.87e-9, 7.87e-9])
K2 = np.array([2010.9, 1541.2, 1541.2])
K3 = np.array([1.67e-10, 6.79e-10, 6.79e-10])
K4 = np.array([2250.0, 1968.2, 1968.2])


def isotherm(p_partial: np.ndarray, t_k: float) -> np.ndarray:
    return K1 * np.exp(K2 / t_k) * p_partial / (1 + np.sum(K3 * np.exp(K4 / t_k) * p_partial))


def orifice_flow(p_up: float, p_down: float, d: float, cd: float = 0.7) -> float:
    """Isentropic nozzle molar flow of air (textbook form, choked below the critical ratio)."""
    area = cd * math.pi * d**2 / 4
    pr = max(p_down / p_up, (2 / (GAMMA + 1)) ** (GAMMA / (GAMMA - 1)))
    psi = math.sqrt(pr ** (2 / GAMMA) - pr ** ((GAMMA + 1) / GAMMA))
    return area * p_up * math.sqrt(2 * GAMMA / ((GAMMA - 1) * R * T_AMB * M_AIR)) * psi


def _static_flow(rig: str, **params: float) -> float:
    model = compile_model(f"PSATest.{rig}", ["n_flow"], params, extra_dirs=[RIGS])
    return float(model.outputs(0.0, model.x0, np.zeros(len(model.input_names))))


def test_psa_published_isotherm_numbers():
    """Yang's parameters give ~0.81 mol/kg N2 at 1 atm, 298 K and N2/O2 Henry selectivity ~6 (physics.md)."""
    q_n2 = isotherm(np.array([101325.0, 0, 0]), 298.0)[0]
    henry_ratio = (K1[0] * math.exp(K2[0] / 298.0)) / (K1[1] * math.exp(K2[1] / 298.0))
    assert q_n2 == pytest.approx(0.81, rel=0.02)
    assert henry_ratio == pytest.approx(6.0, rel=0.05)


def test_psa_orifice_choked_and_subsonic():
    choked = orifice_flow(3e5, 1e5, 1e-3)
    assert _static_flow("OrificeRig", p_a=3e5, p_b=1e5) == pytest.approx(choked, rel=1e-4)
    # choked: independent of the downstream pressure
    assert _static_flow("OrificeRig", p_a=3e5, p_b=0.5e5) == pytest.approx(choked, rel=1e-4)
    subsonic = orifice_flow(3e5, 2.5e5, 1e-3)
    assert subsonic < 0.8 * choked
    assert _static_flow("OrificeRig", p_a=3e5, p_b=2.5e5) == pytest.approx(subsonic, rel=1e-3)
    # reverse direction: the same flow with the opposite sign
    assert _static_flow("OrificeRig", p_a=2.5e5, p_b=3e5) == pytest.approx(-subsonic, rel=1e-3)


def test_psa_check_valve_blocks_reverse_flow():
    assert _static_flow("CheckValveRig", p_a=1e5, p_b=2e5) == 0.0
    assert _static_flow("CheckValveRig", p_a=1.01e5, p_b=1e5) == 0.0  # below the 2 kPa cracking pressure
    assert _static_flow("CheckValveRig", p_a=2e5, p_b=1e5) == pytest.approx(orifice_flow(2e5, 1e5, 3e-3), rel=1e-4)


def test_psa_solenoid_valve_opening_time():
    model = compile_model("PSATest.ValveRig", ["opening", "n_flow"], extra_dirs=[RIGS])
    sim = Simulator(model)
    u = np.ones(1)
    sim.step(0.02, u)
    opening, n_flow = sim.outputs(u)
    assert opening == pytest.approx(1 - math.exp(-1), abs=1e-4)  # first-order lag, tau = 20 ms
    sim.step(0.2, u)
    opening, n_flow = sim.outputs(u)
    assert opening == pytest.approx(1.0, abs=1e-4)
    assert n_flow == pytest.approx(orifice_flow(2e5, 1e5, 3e-3), rel=1e-3)


def test_psa_bed_air_saturated_start_is_equilibrium_and_pressurisation_heats():
    names = ["q_N2", "q_O2", "T_mean", "p_bed", "N_N2", "N_O2"]
    rest = compile_model("PSATest.BedRig", names, extra_dirs=[RIGS])
    sim = Simulator(rest)
    y0 = dict(zip(names, sim.outputs(np.zeros(0)), strict=True))
    q_expected = isotherm(101325.0 * Y_AIR, T_AMB)
    assert y0["q_N2"] == pytest.approx(q_expected[0], rel=1e-9)
    assert y0["q_O2"] == pytest.approx(q_expected[1], rel=1e-9)
    sim.step(5.0, np.zeros(0))
    y1 = dict(zip(names, sim.outputs(np.zeros(0)), strict=True))
    assert y1["q_N2"] == pytest.approx(y0["q_N2"], rel=1e-6)
    assert y1["T_mean"] == pytest.approx(T_AMB, abs=1e-4)

    # pressurise with air to 2 bar: the loading rises and the heat of adsorption warms the bed
    press = compile_model("PSATest.BedRig", names, {"p_feed": 2e5}, extra_dirs=[RIGS])
    sim = Simulator(press)
    sim.step(20.0, np.zeros(0))
    y2 = dict(zip(names, sim.outputs(np.zeros(0)), strict=True))
    assert y2["p_bed"] == pytest.approx(2e5, rel=0.01)
    assert y2["q_N2"] > 1.2 * y0["q_N2"]
    # what entered is air (the outlet is closed): the bed's uptake has the feed's N2/O2 ratio (mass balance)
    uptake_ratio = (y2["N_N2"] - y0["N_N2"]) / (y2["N_O2"] - y0["N_O2"])
    assert uptake_ratio == pytest.approx(Y_AIR[0] / Y_AIR[1], rel=1e-3)
    # adiabatic estimate: 0.2-0.3 mol/kg of N2 at 22.6 kJ/mol into ~540 J/K of bed and wall gives a few K
    assert 1.0 < y2["T_mean"] - T_AMB < 30.0
