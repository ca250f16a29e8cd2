#!/usr/bin/env python3
"""Virtual patients from the population (controllers/population.py): a scenario table, or a sample as CSV.

    scripts/patient_population.py copd_severe 4            # the TOML tables to paste into a scenario
    scripts/patient_population.py copd_moderate 0 --count 50 --csv patients.csv

The first form prints [slaves.patient.parameters] and the p_ambient lines of the plant slaves for one patient (kind
and seed); the second writes the physiology of `count` patients (seeds seed..seed+count-1) to a CSV file, one row each,
with the resting PaCO2 the sample implies.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from controllers.population import KINDS, VirtualPatient, resting_paco2_mmhg, sample_patient

log = logging.getLogger("patient_population")


def scenario_tables(patient: VirtualPatient) -> str:
    """TOML lines for a scenario: the patient's parameters and the room pressure of the plant's slaves."""
    summary = (
        f"# Virtual patient {patient.kind}, seed {patient.seed} (controllers/population.py): resting PaCO2 "
        f"{resting_paco2_mmhg(patient):.1f} mmHg, VO2 {patient.vo2_ml_min:.0f} mL/min, Hb {patient.hemoglobin_g_dl:.1f} "
        f"g/dL,\n# shunt {patient.shunt_fraction:.2f}, V/Q {patient.vq_mismatch_mmhg:.1f} mmHg, capacity "
        f"{patient.ventilatory_capacity_l_min:.1f} L/min, altitude {patient.altitude_m:.0f} m."
    )
    lines = ["[slaves.patient.parameters]", summary]
    lines += [f"{name.split('.', 1)[1]} = {value!r}" for name, value in patient.patient_parameters().items()]
    lines.append("")
    lines += [f"# [slaves.{name.split('.')[0]}.parameters] p_ambient = {value!r}" for name, value in
              patient.plant_parameters().items()]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS, help="patient class")
    parser.add_argument("seed", type=int, help="seed of the (first) patient")
    parser.add_argument("--count", type=int, default=1, help="number of patients (seeds seed, seed+1, ...)")
    parser.add_argument("--csv", type=Path, help="write the sample to this CSV file instead of printing TOML")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.seed < 0 or args.count < 1:
        parser.error("seed must be >= 0 and count >= 1")
    patients = [sample_patient(args.kind, args.seed + i) for i in range(args.count)]
    if args.csv is None:
        sys.stdout.write("\n\n".join(scenario_tables(p) for p in patients) + "\n")
        return 0
    with args.csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*patients[0].as_dict(), "resting_paco2_mmhg"])
        writer.writeheader()
        for p in patients:
            writer.writerow({**p.as_dict(), "resting_paco2_mmhg": resting_paco2_mmhg(p)})
    log.info("wrote %d %s patients to %s", len(patients), args.kind, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
