"""FuzzyTitrator: the rule base, limits, signal loss, and a closed loop on a simple SpO2 response."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.fuzzy import ERROR_SETS, OUTPUT_SETS, RULES, TREND_SETS, FuzzyTitrator, infer_flow_change
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import m3s_to_slpm

TS = 1.0


def make(**params) -> FuzzyTitrator:
    block = FuzzyTitrator("titrator", TS)
    block.setup(0.0, params)
    return block


def test_rule_table_is_complete_and_uses_declared_sets():
    assert set(RULES) == set(ERROR_SETS)
    for row in RULES.values():
        assert set(row) == set(TREND_SETS)
        assert set(row.values()) <= set(OUTPUT_SETS)


@pytest.mark.parametrize(
    "error, trend, sign",
    [(-3.0, 0.0, +1), (-1.5, 0.0, +1), (0.0, 0.0, 0), (1.5, 0.0, -1), (3.0, 0.0, -1), (0.0, -4.0, +1),
     (0.0, 4.0, -1), (-1.2, 2.0, 0)],
)  # fmt: skip
def test_rule_base_direction(error, trend, sign):
    change = infer_flow_change(error, trend)
    if sign == 0:
        assert abs(change) < 0.05
    else:
        assert change * sign > 0.2


def test_inference_is_monotone_in_error_and_antisymmetric():
    values = [infer_flow_change(e / 10.0, 0.0) for e in range(-30, 31)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values))
    for e in (0.3, 1.0, 2.2):
        for d in (-3.0, 0.0, 1.5):
            assert infer_flow_change(e, d) == pytest.approx(-infer_flow_change(-e, -d), abs=1e-9)


def test_low_spo2_raises_flow_to_the_limit_at_the_rate_limit():
    block = make(q_initial_slpm=2.0, q_max_slpm=5.0, max_change_slpm_per_min=60.0, rate_max_slpm_per_s=0.1)
    flows = []
    for k in range(120):
        block.set_inputs({"spo2": 0.80})
        block.step(k * TS, TS)
        flows.append(m3s_to_slpm(block.get_outputs()["Q_set"]))
    assert max(abs(b - a) for a, b in itertools.pairwise(flows)) <= 0.1 + 1e-9
    assert flows[-1] == pytest.approx(5.0)


def test_high_spo2_lowers_flow_to_minimum():
    block = make(q_initial_slpm=3.0, q_min_slpm=0.5)
    for k in range(900):
        block.set_inputs({"spo2": 0.99})
        block.step(k * TS, TS)
    assert m3s_to_slpm(block.get_outputs()["Q_set"]) == pytest.approx(0.5)


def test_in_range_and_steady_holds_flow():
    block = make(q_initial_slpm=2.0)
    for k in range(60):
        block.set_inputs({"spo2": 0.90})
        block.step(k * TS, TS)
    assert m3s_to_slpm(block.get_outputs()["Q_set"]) == pytest.approx(2.0, abs=1e-6)


def test_lost_signal_holds_the_flow_then_never_less_than_the_fallback():
    """No usable reading (NaN, out of range, low quality): hold; after hold_max_s raise to the fallback if lower."""
    block = make(q_initial_slpm=4.0, q_fallback_slpm=2.0, hold_max_s=60.0)
    for k, value in enumerate([math.nan] * 30 + [0.1] * 5 + [1.2] * 5 + [math.nan] * 60):
        block.set_inputs({"spo2": value})
        block.step(k * TS, TS)
        assert block.get_outputs()["spo2_valid"] == 0.0
    assert m3s_to_slpm(block.get_outputs()["Q_set"]) == pytest.approx(4.0)  # never less oxygen without a reading
    low = make(q_initial_slpm=1.0, q_fallback_slpm=2.0, hold_max_s=60.0, rate_max_slpm_per_s=0.1)
    flows = []
    for k in range(90):
        low.set_inputs({"spo2": math.nan})
        low.step(k * TS, TS)
        flows.append(m3s_to_slpm(low.get_outputs()["Q_set"]))
    assert flows[58] == pytest.approx(1.0) and flows[-1] == pytest.approx(2.0)  # held 60 s, then up to the fallback


def test_low_quality_readings_are_not_chased():
    """An artefact the oximeter flags (quality below quality_min) reading 75 % does not raise the flow."""
    block = make(q_initial_slpm=2.0)
    for k in range(60):
        block.set_inputs({"spo2": 0.90, "signal_quality": 1.0})
        block.step(k * TS, TS)
    for k in range(60, 75):
        block.set_inputs({"spo2": 0.75, "signal_quality": 0.2})
        block.step(k * TS, TS)
        assert block.get_outputs()["spo2_valid"] == 0.0
    assert m3s_to_slpm(block.get_outputs()["Q_set"]) == pytest.approx(2.0, abs=1e-9)


def test_noisy_whole_percent_readings_on_a_first_order_patient_stay_in_range():
    """The oximeter's display (1 % steps, 0.6 % noise, seeded) on the closed loop's first-order patient: the true
    SpO2 stays in 88-92 % and the flow does not jump; the noise moves it by a few tenths of a L/min at most."""
    import numpy as np

    rng = np.random.default_rng(0)
    block = make()
    spo2, flows, in_range = 0.86, [], 0
    for k in range(1800):
        block.set_inputs({"spo2": round(spo2 + rng.normal(0, 0.006), 2)})
        block.step(k * TS, TS)
        q = m3s_to_slpm(block.get_outputs()["Q_set"])
        spo2 += (min(0.99, 0.82 + 0.04 * q) - spo2) * (1.0 - math.exp(-TS / 40.0))
        if k >= 600:
            flows.append(q)
            in_range += 0.88 <= spo2 <= 0.92
    assert in_range >= 0.95 * 1200
    assert np.std(flows) < 0.3
    assert max(abs(b - a) for a, b in itertools.pairwise(flows)) < 0.1


def test_target_range_parameter_moves_the_operating_point():
    """Normal (non-COPD) targets 94-98 %: SpO2 90 % is low there and raises the flow."""
    block = make(spo2_target_low=0.94, spo2_target_high=0.98, q_initial_slpm=2.0)
    for k in range(30):
        block.set_inputs({"spo2": 0.90})
        block.step(k * TS, TS)
    assert m3s_to_slpm(block.get_outputs()["Q_set"]) > 2.3


def test_closed_loop_on_first_order_patient_settles_in_range():
    """SpO2 follows 82 % + 4 points per L/min (saturating) with a 40 s lag: the titrator ends in 88-92 %."""
    block = make()
    spo2 = 0.82
    in_range = 0
    for k in range(1200):
        block.set_inputs({"spo2": spo2})
        block.step(k * TS, TS)
        q = m3s_to_slpm(block.get_outputs()["Q_set"])
        target = min(0.99, 0.82 + 0.04 * q)
        spo2 += (target - spo2) * (1.0 - math.exp(-TS / 40.0))
        if k >= 600 and 0.88 <= spo2 <= 0.92:
            in_range += 1
    assert in_range >= 0.9 * 600
    assert 0.88 <= spo2 <= 0.92


@pytest.mark.parametrize(
    "params, word",
    [({"spo2_target_low": 0.95, "spo2_target_high": 0.9}, "spo2_target_low"), ({"q_max_slpm": 12.0}, "q_max_slpm"),
     ({"q_initial_slpm": 9.0}, "q_initial_slpm"), ({"trend_window_s": 1.0}, "trend_window_s"),
     ({"quality_min": 1.5}, "quality_min")],
)  # fmt: skip
def test_validation(params, word):
    with pytest.raises(SystemDefinitionError, match=word):
        make(**params)


def _skfuzzy_inference(e: float, d: float) -> float:
    """The inference as scikit-fuzzy computes it end to end (its interp_membership and centroid defuzz)."""
    import numpy as np
    import skfuzzy

    from controllers.fuzzy import ERROR_UNIVERSE, OUTPUT_UNIVERSE, TREND_UNIVERSE

    e = min(max(e, ERROR_UNIVERSE[0]), ERROR_UNIVERSE[-1])
    d = min(max(d, TREND_UNIVERSE[0]), TREND_UNIVERSE[-1])
    mu_e = {k: float(skfuzzy.interp_membership(ERROR_UNIVERSE, mf, e)) for k, mf in ERROR_SETS.items()}
    mu_d = {k: float(skfuzzy.interp_membership(TREND_UNIVERSE, mf, d)) for k, mf in TREND_SETS.items()}
    strength = dict.fromkeys(OUTPUT_SETS, 0.0)
    for e_set, row in RULES.items():
        for d_set, out_set in row.items():
            strength[out_set] = max(strength[out_set], min(mu_e[e_set], mu_d[d_set]))
    aggregated = np.zeros_like(OUTPUT_UNIVERSE)
    for out_set, w in strength.items():
        if w > 0.0:
            np.maximum(aggregated, np.fmin(w, OUTPUT_SETS[out_set]), out=aggregated)
    return float(skfuzzy.defuzz(OUTPUT_UNIVERSE, aggregated, "centroid")) if aggregated.any() else 0.0


@settings(max_examples=300, deadline=None)
@given(
    e=st.one_of(st.floats(-4.0, 4.0), st.sampled_from([-3.0, -2.5, -1.2, -1.0, -0.0, 0.0, 1.0, 1.2, 2.5, 3.0])),
    d=st.one_of(st.floats(-8.0, 8.0), st.sampled_from([-6.0, -2.0, -1.0, -0.0, 0.0, 1.0, 2.0, 6.0])),
)
def test_inference_is_scikit_fuzzy_to_the_bit(e, d):
    """The centroid summed on Python floats (the titrator's fast path) gives scikit-fuzzy's result exactly."""
    assert infer_flow_change(e, d).hex() == _skfuzzy_inference(e, d).hex()  # every bit, the sign of zero included
