"""Validation of the PSA unit against /work/shared/reference/physics.md (issue 3, PSA half).

The exported FMU fmus/O2Twin_CoSim_PSAUnit.fmu (built-in exporter, run with fmpy in Co-Simulation) is validated;
one test cross-checks it against the same Modelica model simulated directly (pymoca + CasADi + CVODES,
orchestrator/validation/modelica_sim.py). The reference design is run once to cyclic steady state at its rated point and
shared by the fast checks; the slow tests run the full versions (purity curve, argon at CSS).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from orchestrator.validation.psa_validation import (
    ARGON_LIMIT,
    RATED_FEED_KG_S,
    RATED_FLOW_SLPM,
    CycleTiming,
    OperatingPoint,
    PSARun,
    cold_start_times,
    compile_psa,
    compressor_model_power_w,
    cycle_change,
    psa_fmu,
    purity_curve,
    specific_energy_kwh_per_m3,
    total_balance_error,
)

LOG = logging.getLogger(__name__)
RATED = OperatingPoint(RATED_FEED_KG_S, RATED_FLOW_SLPM)


@pytest.fixture(scope="module")
def reference_model():
    return psa_fmu()


@pytest.fixture(scope="module")
def rated_css(reference_model):
    """The reference design run from a cold start to cyclic steady state at its rated point."""
    run = PSARun(reference_model)
    result = run.run_to_css(RATED, tolerance=5e-5, max_cycles=500)
    print(result.report())
    return run, result


def test_psa_mass_conservation_ten_cycles(rated_css):
    """N2, O2, Ar: in - out = accumulation within 0.1 % over 10 full cycles (cumulative counters vs inventory)."""
    run, _ = rated_css
    records = run.run_cycles(RATED, 10)
    error = total_balance_error(records)
    print("balance error per species (N2, O2, Ar):", error)
    assert np.all(np.abs(error) < 1e-3), error
    # and the counters are not trivially zero: gas really flowed through the unit
    assert all(r.n_feed.sum() > 0.1 for r in records)
    assert all(r.n_vent.sum() > 0.05 for r in records)


def test_psa_css_detected_and_reported(rated_css):
    """CSS is reached and reported; the detector measures a real change (a fresh start is far from CSS)."""
    _, result = rated_css
    assert result.converged, result.report()
    assert "cyclic steady state reached" in result.report()
    assert result.last_change < result.tolerance
    first, second = result.records[0], result.records[1]
    assert cycle_change(first, second) > 10 * result.tolerance


def test_psa_rated_purity_at_least_90_percent(rated_css):
    _, result = rated_css
    last = result.records[-1]
    print(
        f"rated {RATED_FLOW_SLPM} L/min: {100 * last.purity_O2:.2f} % O2, p_bed {last.p_bed_min_pa / 1e5:.2f}-"
        f"{last.p_bed_max_pa / 1e5:.2f} bar abs, p_tank {last.p_tank_mean_pa / 1e5:.2f} bar abs"
    )
    assert last.purity_O2 >= 0.90
    assert last.purity_O2 <= ARGON_LIMIT
    # operating pressures of a real small unit (feed side ~2.1-3.4 bar abs, physics.md)
    assert 1.9e5 < last.p_feed_max_pa < 3.4e5


def test_psa_recovery_and_specific_energy_in_published_ranges(rated_css):
    """O2 recovery 30-40 % and ~1 kWh/m3, with the power of the compressor model delivering the rated feed."""
    run, result = rated_css
    last = result.records[-1]
    compressor = compressor_model_power_w(RATED.m_flow_feed_kg_s, last.p_feed_mean_pa)
    energy = specific_energy_kwh_per_m3(last, RATED, run.timing.period_s, compressor["power"])
    energy_adiabatic = specific_energy_kwh_per_m3(last, RATED, run.timing.period_s)
    print(
        f"O2 recovery {100 * last.recovery_O2:.1f} %; compressor model: duty {compressor['duty']:.3f}, "
        f"{compressor['power']:.0f} W -> {energy:.2f} kWh/m3 (adiabatic, 50 %: {energy_adiabatic:.2f} kWh/m3)"
    )
    assert 0.30 <= last.recovery_O2 <= 0.40
    assert 0.7 <= energy <= 1.3  # ~1 kWh/m3 typical of small units
    assert compressor["duty"] <= 1.0


def test_psa_purity_falls_beyond_rated_flow(rated_css):
    """Fast check: from the rated CSS, 1.5x rated flow gives lower purity than rated (full curve: slow test)."""
    run, result = rated_css
    rated_purity = result.records[-1].purity_O2
    high = PSARun(run.model, run.timing)
    high.restore(run.snapshot())
    records = high.run_cycles(OperatingPoint(RATED_FEED_KG_S, 1.5 * RATED_FLOW_SLPM), 12)
    print(f"purity at rated {rated_purity:.4f}, after 12 cycles at 1.5x rated {records[-1].purity_O2:.4f}")
    assert records[-1].purity_O2 < rated_purity - 0.02


def test_psa_fmu_matches_direct_simulation(reference_model):
    """The FMU and the same Modelica model integrated directly (CVODES) agree over three cycles from a cold start."""
    fmu_run = PSARun(reference_model)
    direct_run = PSARun(compile_psa(10))
    a = fmu_run.run_cycles(RATED, 3)[-1]
    b = direct_run.run_cycles(RATED, 3)[-1]
    print(f"purity FMU {a.purity_O2:.5f} direct {b.purity_O2:.5f}; p_bed_max {a.p_bed_max_pa:.0f} {b.p_bed_max_pa:.0f}")
    assert abs(a.purity_O2 - b.purity_O2) < 2e-3
    assert abs(a.p_bed_max_pa - b.p_bed_max_pa) / b.p_bed_max_pa < 2e-3
    assert np.allclose(a.n_feed, b.n_feed, rtol=1e-6)


def _peak_purity(model, op: OperatingPoint, cycles: int) -> float:
    run = PSARun(model)
    run.run_cycles(op, cycles)
    return max(run.output(y, "y_O2_product") for _, y in run.samples)


def test_psa_argon_limit(reference_model):
    """With argon in the feed the product never exceeds the argon limit 95.7 % O2; without argon it does."""
    op = OperatingPoint(RATED_FEED_KG_S, 2.0)
    with_argon = _peak_purity(reference_model, op, 40)
    without_argon = _peak_purity(psa_fmu(y_feed_Ar=0.0), op, 40)
    print(f"peak product O2 at 2 L/min: with argon {100 * with_argon:.2f} %, without {100 * without_argon:.2f} %")
    assert with_argon <= ARGON_LIMIT + 1e-4
    assert with_argon > 0.93  # the separation itself works: the limit is approached, not avoided
    assert without_argon > ARGON_LIMIT + 0.01


def test_psa_cold_start_times(reference_model):
    """Cold start from air-saturated beds: time to 85 % and 90 % O2 is minutes, as in a real unit."""
    run = PSARun(reference_model, CycleTiming())
    times = cold_start_times(run, RATED, thresholds=(0.85, 0.90), max_time_s=900)
    print("cold start:", {f"{100 * k:.0f} %": f"{v:.0f} s" for k, v in times.items()})
    assert 0.85 in times and 0.90 in times
    assert 30 <= times[0.85] <= times[0.90] <= 600


@pytest.mark.slow
def test_psa_argon_limit_at_css(reference_model):
    """Full version: at CSS at 1 L/min (highest purity), with and without argon."""
    op = OperatingPoint(RATED_FEED_KG_S, 1.0)
    peaks = {}
    for y_ar, model in ((0.00934, reference_model), (0.0, psa_fmu(y_feed_Ar=0.0))):
        run = PSARun(model)
        result = run.run_to_css(op, tolerance=5e-5, max_cycles=500)
        print(y_ar, result.report())
        peaks[y_ar] = max(run.output(y, "y_O2_product") for _, y in run.samples)
    print("peak product O2 with / without argon (1 L/min, CSS):", peaks)
    assert peaks[0.00934] <= ARGON_LIMIT + 1e-4
    assert peaks[0.0] > 0.97


@pytest.mark.slow
def test_psa_purity_curve_full(rated_css):
    """Purity vs product flow 0.5..1.5x rated at CSS: >= 90 % up to rated, then falling with flow."""
    run, _ = rated_css
    flows = [f * RATED_FLOW_SLPM for f in (0.5, 0.75, 1.0, 1.25, 1.5)]
    rows = purity_curve(run.model, flows, start=run.snapshot())
    for row in rows:
        print(row)
    purities = [row["purity_O2"] for row in rows]
    assert all(row["converged"] for row in rows)
    assert purities[2] >= 0.90
    assert purities[2] > purities[3] > purities[4]
    assert max(purities) <= ARGON_LIMIT
