#!/usr/bin/env python3
"""Purity-vs-product-flow curve of the PSA reference design at cyclic steady state (0.5 to 1.5x rated flow).

Runs the PSAUnit FMU (exported on demand) with the validation cycle timing and the rated feed, each flow to
cyclic steady state starting from the rated CSS, and writes docs/figures/psa_purity_curve.csv and .png.

    .venv/bin/python scripts/psa_purity_curve.py [--points 9] [--out-dir docs/figures]
"""

from __future__ import annotations

import argparse
import csv
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
    psa_fmu,
    purity_curve,
)

LOG = logging.getLogger("psa_purity_curve")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=9, help="number of flows from 0.5 to 1.5x rated")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    model = psa_fmu()
    rated = PSARun(model)
    LOG.info("%s", rated.run_to_css(OperatingPoint(RATED_FEED_KG_S, RATED_FLOW_SLPM), 5e-5, 500).report())
    flows = [float(f) for f in np.round(np.linspace(0.5, 1.5, args.points) * RATED_FLOW_SLPM, 3)]
    rows = purity_curve(model, flows, start=rated.snapshot(), tolerance=5e-5, max_cycles=500)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.out_dir / "psa_purity_curve.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = [r["flow_slpm"] for r in rows]
    ax.plot(x, [100 * r["purity_O2"] for r in rows], "o-", label="product O2 (CSS)")
    ax.plot(x, [100 * r["recovery_O2"] for r in rows], "s--", label="O2 recovery")
    ax.axhline(100 * ARGON_LIMIT, color="grey", ls=":", label="argon limit 95.7 %")
    ax.axhline(90, color="red", ls=":", label="90 % (medical minimum)")
    ax.axvline(RATED_FLOW_SLPM, color="k", lw=0.8, ls="--", label=f"rated {RATED_FLOW_SLPM:g} L/min")
    ax.set_xlabel("product flow, standard L/min")
    ax.set_ylabel("%")
    ax.set_title(f"PSA reference design at CSS, feed {RATED_FEED_KG_S * 1e3:.2f} g/s air")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()
    png_path = args.out_dir / "psa_purity_curve.png"
    fig.savefig(png_path, dpi=110)
    for row in rows:
        LOG.info(
            "%5.2f L/min: %.2f %% O2, recovery %.1f %%, %.2f kWh/m3 (adiabatic)",
            row["flow_slpm"],
            100 * row["purity_O2"],
            100 * row["recovery_O2"],
            row["specific_energy_adiabatic_kwh_m3"],
        )
    LOG.info("wrote %s and %s", csv_path, png_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
