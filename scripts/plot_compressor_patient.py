#!/usr/bin/env python3
"""Validation plots of the compressor and patient models (docs/physics-compressor-patient.md).

Simulates the Modelica models with the project's reference simulator (pymoca + CasADi IDAS,
orchestrator/export/reference.py: the same equations the FMUs are built from, without the generated C) and writes
three PNGs to docs/figures/:
- compressor_curve.png: delivered flow vs discharge pressure, at fixed speed and at full duty, against the
  published curve shape Q = (n - 300)/7500 (75 + 65 (1 - dp/7 bar)).
- compressor_heating.png: head temperature under full duty at 20/25/40 degC ambient, with the 85 degC trip.
- patient_spo2.png: SpO2 vs PaO2 of the model on the Severinghaus curve with its check points; steady SpO2 vs
  cannula flow for the healthy and the COPD preset with the target ranges; a 0 -> 2 L/min step (COPD).
Usage: scripts/plot_compressor_patient.py [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from orchestrator.export.frontend import flatten_model
from orchestrator.export.reference import simulate_reference
from orchestrator.paths import PROJECT_ROOT
from orchestrator.units import P_ATM_PA, degc_to_k, k_to_degc, slpm_to_m3s

log = logging.getLogger("plot_compressor_patient")

MODELS = PROJECT_ROOT / "models"
MMHG = 133.322387415
RHO_STD_AIR = 1.2929  # kg/m3, 0 degC and 101325 Pa
TRIP_C = 85.0


def final(flat, stop_s: float, inputs: dict[str, float], params: dict[str, float] | None = None) -> dict[str, float]:
    """Values after stop_s of constant inputs (the settled state when stop_s spans many time constants)."""
    res = simulate_reference(
        flat=flat, times=np.array([0.0, stop_s]), inputs=lambda _t: inputs, parameters=params or {}, rtol=1e-8
    )
    return {name: values[-1] for name, values in res.values.items()}


def compressor_curve(flat, out: Path) -> None:
    dp_bar = np.linspace(0.0, 7.0, 15)
    fixed_speed, full_duty = [], []
    for dp in dp_bar:
        s = final(flat, 5.0, {"duty": 1.0, "p_discharge": P_ATM_PA + dp * 1e5})
        fixed_speed.append(s["m_flow"] / s["speed"])
        full_duty.append(s["m_flow"] / RHO_STD_AIR * 60_000.0)
    fixed_speed = np.array(fixed_speed) / fixed_speed[0]
    full_duty = np.array(full_duty)
    published = (75.0 + 65.0 * (1.0 - dp_bar / 7.0)) / 140.0
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(dp_bar, published, "k--", label="published shape (open model), fixed speed")
    ax.plot(dp_bar, fixed_speed, "C0-", label="model, fixed speed")
    ax.plot(dp_bar, full_duty / full_duty[0], "C1-", label=f"model, full duty (Q0 = {full_duty[0]:.0f} SLPM)")
    ax.set_xlabel("discharge pressure, bar(g)")
    ax.set_ylabel("Q / Q(0 bar(g))")
    ax.set_title("Compressor flow vs discharge pressure")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "compressor_curve.png", dpi=120)
    plt.close(fig)
    log.info("fixed-speed Q(7)/Q(0) = %.3f, full duty %.3f", fixed_speed[-1], full_duty[-1] / full_duty[0])


def compressor_heating(flat, out: Path) -> None:
    times = np.linspace(0.0, 7200.0, 241)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for ambient_c, p_abs in ((20.0, 2.5e5), (25.0, 2.5e5), (40.0, 2.5e5), (40.0, 3.5e5)):
        res = simulate_reference(
            flat=flat,
            times=times,
            inputs=lambda _t, p=p_abs: {"duty": 1.0, "p_discharge": p},
            parameters={"T_ambient": degc_to_k(ambient_c)},
            rtol=1e-8,
        )
        ax.plot(
            times / 60.0, k_to_degc(res["T_head"]), label=f"{ambient_c:.0f} degC ambient, {p_abs / 1e5:.1f} bar abs"
        )
    ax.axhline(TRIP_C, color="r", ls=":", label="watchdog trip 85 degC")
    ax.set_xlabel("time, min")
    ax.set_ylabel("head temperature, degC")
    ax.set_title("Compressor head temperature at full duty")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "compressor_heating.png", dpi=120)
    plt.close(fig)


def patient_spo2(flat, out: Path) -> None:
    flows = np.linspace(0.0, 6.0, 13)
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 4.2))
    po2 = np.linspace(1.0, 150.0, 300)
    axes[0].plot(po2, 100.0 / (23400.0 / (po2**3 + 150.0 * po2) + 1.0), "k-", lw=1, label="Severinghaus (1979)")
    axes[0].plot([40, 60, 80, 100], [75.0, 90.6, 95.7, 97.7], "ks", mfc="none", ms=9, label="check points")
    for preset, colour, band, label in ((0.0, "C0", (94, 98), "healthy"), (1.0, "C3", (88, 92), "COPD")):
        spo2, pao2 = [], []
        for q in flows:
            s = final(flat, 1200.0, {"Q_O2": slpm_to_m3s(q), "y_O2_supply": 0.93}, {"copd": preset})
            spo2.append(100.0 * s["SpO2"])
            pao2.append(s["PaO2"] / MMHG)
        axes[0].plot(pao2, spo2, "o", color=colour, ms=4, label=f"model, {label}")
        axes[1].plot(flows, spo2, "o-", color=colour, label=label)
        axes[1].axhspan(*band, color=colour, alpha=0.12)
    axes[0].set_xlabel("PaO2, mmHg")
    axes[0].set_ylabel("SpO2, %")
    axes[0].set_xlim(0, 150)
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("cannula flow of 93 % O2, L/min")
    axes[1].set_ylabel("steady SpO2, %")
    axes[1].set_title("SpO2 vs flow (bands: BTS 2017 targets)")
    axes[1].legend(fontsize=8)
    times = np.linspace(0.0, 600.0, 301)
    res = simulate_reference(
        flat=flat,
        times=times,
        inputs=lambda t: {"Q_O2": slpm_to_m3s(2.0) if t >= 60.0 else 0.0, "y_O2_supply": 0.93},
        parameters={"copd": 1.0},
        rtol=1e-8,
    )
    axes[2].plot(times, 100.0 * res["SpO2"], label="SpO2 (arterial)")
    axes[2].plot(times, 100.0 * res["sensor_SpO2"], label="pulse oximeter")
    axes[2].set_xlabel("time, s")
    axes[2].set_ylabel("SpO2, %")
    axes[2].set_title("COPD: 0 -> 2 L/min at 60 s")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "patient_spo2.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "figures", help="output folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("pymoca", "orchestrator.export"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    compressor = flatten_model(MODELS, "O2Twin.CoSim.Compressor")
    compressor_curve(compressor, args.out)
    compressor_heating(compressor, args.out)
    patient_spo2(flatten_model(MODELS, "O2Twin.CoSim.Patient"), args.out)
    for name in ("compressor_curve.png", "compressor_heating.png", "patient_spo2.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
