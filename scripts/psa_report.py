#!/usr/bin/env python3
"""Validation figures of the PSA reference design: cold start, cyclic steady state, balances, argon, energy.

Runs the PSAUnit FMU (exported on demand) and writes docs/figures/psa_validation.json (the numbers quoted in
docs/physics.md), psa_cold_start.png (product O2 and pressures from a cold start) and psa_css_cycle.png (bed, feed
and tank pressures over one cycle at cyclic steady state).

    .venv/bin/python scripts/psa_report.py [--out-dir docs/figures]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from orchestrator.validation.psa_validation import (  # noqa: E402
    ARGON_LIMIT,
    RATED_FEED_KG_S,
    RATED_FLOW_SLPM,
    OperatingPoint,
    PSARun,
    cold_start_times,
    compression_power_w,
    compressor_model_power_w,
    psa_fmu,
    specific_energy_kwh_per_m3,
    total_balance_error,
)

LOG = logging.getLogger("psa_report")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = psa_fmu()
    op = OperatingPoint(RATED_FEED_KG_S, RATED_FLOW_SLPM)

    # cold start: time to 85 / 90 % and the trajectory
    cold = PSARun(model)
    times = cold_start_times(cold, op, thresholds=(0.85, 0.90), max_time_s=900)
    css = cold.run_to_css(op, tolerance=5e-5, max_cycles=500)
    last = css.records[-1]
    balance = total_balance_error(cold.run_cycles(op, 10))
    shown = [s for s in cold.samples if s[0] <= 400.0]  # the start-up; the rest is the slow thermal approach to CSS
    t = np.array([s[0] for s in shown])
    y = np.array([s[1] for s in shown])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    ax1.plot(t, 100 * y[:, cold.index("y_O2_product")], label="product O2")
    ax1.plot(t, 100 * y[:, cold.index("sensor_O2")], label="O2 sensor (lag 2 s)")
    for thr, tt in times.items():
        ax1.axvline(tt, color="grey", ls=":")
        ax1.text(tt, 30 + 40 * (thr - 0.85) / 0.05, f" {100 * thr:.0f} % at {tt:.0f} s", fontsize=8)
    ax1.set_ylabel("% O2")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    for name in ("p_feed", "p_bed_A", "p_tank"):
        ax2.plot(t, y[:, cold.index(name)] / 1e5, label=name, lw=0.6)
    ax2.set_ylabel("bar abs")
    ax2.set_xlabel("time from cold start, s")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out_dir / "psa_cold_start.png", dpi=110)

    # one cycle at CSS, finely sampled
    snap = cold.snapshot()
    one = PSARun(model)
    one.restore(snap)
    start = len(one.samples)
    one.run_cycle(op, sample_dt_s=0.05)
    tc = np.array([s[0] for s in one.samples[start:]]) - snap[0]
    yc = np.array([s[1] for s in one.samples[start:]])
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name in ("p_feed", "p_bed_A", "p_bed_B", "p_tank"):
        ax.plot(tc, yc[:, one.index(name)] / 1e5, label=name)
    ax.set_xlabel("time in cycle, s")
    ax.set_ylabel("bar abs")
    ax.set_title("one cycle at cyclic steady state (rated point)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out_dir / "psa_css_cycle.png", dpi=110)

    # argon: peak purity at 1 L/min with and without argon in the feed
    peaks = {}
    for y_ar, mdl in ((0.00934, model), (0.0, psa_fmu(y_feed_Ar=0.0))):
        run = PSARun(mdl)
        run.run_to_css(OperatingPoint(RATED_FEED_KG_S, 1.0), tolerance=5e-5, max_cycles=500)
        peaks[y_ar] = max(run.output(s[1], "y_O2_product") for s in run.samples)

    power = compression_power_w(op.m_flow_feed_kg_s, last.p_feed_mean_pa, op.t_feed_k)
    compressor = compressor_model_power_w(op.m_flow_feed_kg_s, last.p_feed_mean_pa)
    result = {
        "rated_flow_slpm": RATED_FLOW_SLPM,
        "feed_kg_s": RATED_FEED_KG_S,
        "feed_slpm": RATED_FEED_KG_S / 0.02897 * 22.414 * 60,
        "cycle_s": cold.timing.period_s,
        "css": css.report(),
        "css_cycles": css.cycles,
        "purity_O2": last.purity_O2,
        "recovery_O2": last.recovery_O2,
        "p_feed_max_bar": last.p_feed_max_pa / 1e5,
        "p_bed_min_bar": last.p_bed_min_pa / 1e5,
        "p_bed_max_bar": last.p_bed_max_pa / 1e5,
        "p_tank_mean_bar": last.p_tank_mean_pa / 1e5,
        "t_bed_mean_c": last.t_bed_mean_k - 273.15,
        "p_feed_mean_bar": last.p_feed_mean_pa / 1e5,
        "compressor_model_duty": compressor["duty"],
        "compressor_model_power_w": compressor["power"],
        "specific_energy_kwh_m3": specific_energy_kwh_per_m3(last, op, cold.timing.period_s, compressor["power"]),
        "adiabatic_power_w": power,
        "specific_energy_adiabatic_kwh_m3": specific_energy_kwh_per_m3(last, op, cold.timing.period_s),
        "balance_error_10_cycles": balance.tolist(),
        "cold_start_s": {f"{100 * k:.0f}%": v for k, v in times.items()},
        "peak_O2_1slpm_with_argon": peaks[0.00934],
        "peak_O2_1slpm_without_argon": peaks[0.0],
        "argon_limit": ARGON_LIMIT,
    }
    (args.out_dir / "psa_validation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
