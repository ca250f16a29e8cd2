"""The unit meets its rating closed loop, with the shipped controllers (scenarios/rated_flow.toml).

Rating (docs/controllers.md): >= 90 % O2 at the rated 5 L/min and >= 93 % at 2 L/min or less, at cyclic steady
state, across the 10-35 degC ambient range. The scenario is the default plant and pressure/cycle control (PID with the
flow-scheduled setpoint, sequencer, watchdog) with the flow dialled in instead of titrated. Purity is the delivered
product's O2 fraction averaged over the last minute; cyclic steady state is checked as a change of less than
0.1 percentage point between the last two minutes. From a cold start the unit settles within about 7 minutes at
5 L/min and 12 minutes at 2 L/min (the product tank's purity follows more slowly at low flow; 30 minutes at
0.5 L/min), so the default suite runs the two rated points at 25 degC for those times; the slow suite runs at 10,
25 and 35 degC and at 0.5 L/min as well.
"""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.results.run import run
from orchestrator.units import degc_to_k

RATING = {5.0: 0.90, 2.0: 0.93, 0.5: 0.93}  # flow (L/min) -> minimum O2 fraction
#: Cold start to cyclic steady state (s): the product tank's purity settles more slowly the lower the flow.
SETTLE_S = {5.0: 420.0, 2.0: 720.0, 0.5: 1800.0}


def _rated_run(tmp_path, flow_slpm: float, ambient_degc: float, stop_s: float) -> dict[str, float]:
    t_amb = degc_to_k(ambient_degc)
    result = run(
        "rated_flow",
        out=tmp_path / f"q{flow_slpm}_t{ambient_degc}",
        stop_time=stop_s,
        overrides={"manual.flow_slpm": flow_slpm, "compressor.T_ambient": t_amb, "psa.T_ambient": t_amb},
        plots=False,
    )
    assert result.ok, result.error
    s = result.signals
    t = s.index.to_numpy()
    purity = s["psa.y_O2_product"].to_numpy()
    last = t >= t[-1] - 60.0
    before = (t >= t[-1] - 120.0) & ~last
    return {
        "purity": float(purity[last].mean()),
        "purity_change": float(abs(purity[last].mean() - purity[before].mean())),
        "flow_slpm": float(s["psa.Q_product"].to_numpy()[last].mean() * 60_000.0),
        "relief_max_slpm": float(s["psa.Q_relief"].max() * 60_000.0),
        "feed_above_room_k": float(s["psa.T_manifold"].to_numpy()[last].mean() - t_amb),
        "p_feed_max_barg": float((s["psa.p_feed"].max() - 101325.0) / 1e5),
    }


def _check(point: dict[str, float], flow_slpm: float) -> None:
    print(f"{flow_slpm} L/min: {point}")
    assert point["flow_slpm"] == pytest.approx(flow_slpm, rel=0.02)  # the unit really delivers the flow
    assert point["purity_change"] < 1e-3, "not at cyclic steady state"
    assert point["purity"] >= RATING[flow_slpm]
    assert point["purity"] < 0.957  # never above the argon limit
    assert point["relief_max_slpm"] < 1e-6  # the relief valve stays shut in normal operation
    assert point["p_feed_max_barg"] < 2.41
    assert point["feed_above_room_k"] < 10.0  # the cooling coil brings the feed close to the room


@pytest.mark.parametrize("flow_slpm", [5.0, 2.0])
def test_rated_points_closed_loop(tmp_path, flow_slpm):
    _check(_rated_run(tmp_path, flow_slpm, 25.0, SETTLE_S[flow_slpm]), flow_slpm)


@pytest.mark.slow
@pytest.mark.parametrize("ambient_degc", [10.0, 25.0, 35.0])
@pytest.mark.parametrize("flow_slpm", [5.0, 2.0, 0.5])
def test_rating_across_the_ambient_range(tmp_path, flow_slpm, ambient_degc):
    _check(_rated_run(tmp_path, flow_slpm, ambient_degc, max(900.0, SETTLE_S[flow_slpm])), flow_slpm)


def test_without_feed_cooling_the_rated_point_falls_short(tmp_path):
    """The cooling coil matters: with it removed (UA 0) the same loop at 5 L/min delivers clearly less."""
    cooled = _rated_run(tmp_path, 5.0, 25.0, 420.0)
    result = run(
        "rated_flow", out=tmp_path / "uncooled", stop_time=420.0, overrides={"psa.UA_aftercooler": 0.0}, plots=False
    )
    s = result.signals
    t = s.index.to_numpy()
    uncooled = float(np.mean(s["psa.y_O2_product"].to_numpy()[t >= t[-1] - 60.0]))
    print(f"5 L/min, 25 degC: cooled {cooled['purity']:.4f}, uncooled {uncooled:.4f}")
    assert uncooled < cooled["purity"] - 0.005
