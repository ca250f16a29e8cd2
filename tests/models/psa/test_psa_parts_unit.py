"""Optional parts of issue 15 in the whole PSA unit (FMUs): the product regulator in the closed loop, the exhaust
volume variant's mass balance."""

from __future__ import annotations

import numpy as np
import pytest
from fmpy import simulate_fmu

from orchestrator.export import export_model
from orchestrator.results.run import run

P_AMB = 101325.0


def test_regulator_holds_the_tank_below_the_feed_peak(tmp_path):
    """Rated flow loop with a 0.5 bar(g) product regulator: the tank holds its setting, about 1 bar below the feed
    peak, and the unit still delivers its 5 L/min."""
    p_set, band = 0.5e5, 1e4
    result = run(
        "rated_flow",
        out=tmp_path / "reg",
        stop_time=45.0,
        overrides={"psa.p_regulator_set": p_set, "psa.dp_regulator_band": band},
        plots=False,
    )
    assert result.ok, result.error
    s = result.signals
    last = s.index >= 30.0
    tank = s["psa.p_tank"][last].to_numpy()
    feed_peak = s["psa.p_feed"][last].max()
    assert P_AMB + p_set - band <= tank.min() and tank.max() <= P_AMB + p_set
    assert feed_peak - tank.max() > 0.8e5
    assert s["psa.Q_product"][last].mean() * 60000 == pytest.approx(5.0, rel=0.02)


def _cycle_inputs(stop_s: float, dt: float = 0.05) -> np.ndarray:
    t = np.arange(0.0, stop_s + dt, dt)
    phase = t % 7.0
    columns = {
        "m_flow_feed": np.full_like(t, 1.25e-3),
        "T_feed": np.full_like(t, 345.0),
        "cmd_feed_A": ((phase < 3.0) | (phase >= 6.5)).astype(float),
        "cmd_feed_B": (phase >= 3.0).astype(float) * (phase < 6.5),
        "cmd_vent_A": ((phase >= 3.5) & (phase < 6.5)).astype(float),
        "cmd_vent_B": (phase < 3.0).astype(float),
        "cmd_equalize": (((phase >= 3.0) & (phase < 3.5)) | (phase >= 6.5)).astype(float),
        "Q_set": np.full_like(t, 5.0 / 60000),
    }
    table = np.zeros(len(t), dtype=[("time", float)] + [(n, float) for n in columns])
    table["time"] = t
    for name, values in columns.items():
        table[name] = values
    return table


@pytest.mark.slow
def test_exhaust_volume_variant_conserves_mass_and_vents_through_its_check_valve():
    """PSAUnitExhaust over 3 cycles at the rated feed: counters balance with the exhaust volume's inventory, and the
    volume is pressurised by each blowdown but never drops below the room."""
    fmu = export_model("O2Twin.CoSim.PSAUnitExhaust")
    names = [f"{n}[{i}]" for n in ("N_feed", "N_product", "N_vent", "N_inventory") for i in (1, 2, 3)]
    r = simulate_fmu(fmu, stop_time=21.0, input=_cycle_inputs(21.0), output=[*names, "p_exhaust", "y_O2_product"],
                     output_interval=0.05, step_size=0.05)  # fmt: skip
    for i in (1, 2, 3):
        imbalance = (
            r[f"N_feed[{i}]"]
            - r[f"N_product[{i}]"]
            - r[f"N_vent[{i}]"]
            - (r[f"N_inventory[{i}]"] - r[f"N_inventory[{i}]"][0])
        )
        assert np.max(np.abs(imbalance)) < 1e-5 * r[f"N_feed[{i}]"][-1]
    assert r["p_exhaust"].max() > P_AMB + 0.05e5
    assert r["p_exhaust"].min() > P_AMB - 10.0
