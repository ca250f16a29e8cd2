"""The feed air cooling coil (O2Twin.Components.Aftercooler) against the effectiveness-NTU result.

With the room air stream much larger than the compressed-air stream (C_min/C_max -> 0) every flow arrangement has
effectiveness 1 - exp(-NTU), NTU = UA/(m cp) (Incropera and DeWitt, section 11.4). The closed-loop effect of the coil
on purity is checked in tests/controllers/test_rating.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from orchestrator.validation.modelica_sim import compile_model

RIGS = Path(__file__).parent / "models"
UA_W_PER_K = 3.0
CP_AIR = 1005.0
T_ROOM = 298.15


def _coil(m_flow: float, t_in: float) -> tuple[float, float]:
    model = compile_model(
        "PSATest.AftercoolerRig", ["T_out", "Q_rejected"], {"m_flow": m_flow, "T_in": t_in}, extra_dirs=[RIGS]
    )
    t_out, q = model.outputs(0.0, model.x0, np.zeros(len(model.input_names))).full().ravel()
    return float(t_out), float(q)


@pytest.mark.parametrize("m_flow", [0.5e-3, 1.3e-3, 2.0e-3])
def test_coil_outlet_temperature_is_the_ntu_result(m_flow):
    t_in = 363.15  # 90 degC from the compressor
    t_out, q = _coil(m_flow, t_in)
    effectiveness = 1.0 - math.exp(-UA_W_PER_K / (m_flow * CP_AIR))
    assert t_out == pytest.approx(t_in - effectiveness * (t_in - T_ROOM), abs=0.01)
    assert q == pytest.approx(m_flow * CP_AIR * (t_in - t_out), rel=1e-3)  # energy balance of the air side
    assert T_ROOM < t_out < t_in


def test_coil_at_rated_feed_leaves_the_air_near_the_room():
    """1.3 g/s at 90 degC into a 25 degC room: out at about 31 degC (10 % of the inlet excess)."""
    t_out, _ = _coil(1.3e-3, 363.15)
    assert t_out - T_ROOM == pytest.approx(65.0 * math.exp(-UA_W_PER_K / (1.3e-3 * CP_AIR)), abs=0.05)
    assert t_out - 273.15 < 32.0
