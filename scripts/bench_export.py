#!/usr/bin/env python3
"""Benchmark of the built-in exporter on a PSA-sized model (~300 states, ~1000+ algebraic variables).

Writes a synthetic two-bed adsorption column model (N cells per bed; per cell: pressure, two loadings; flows,
mole fractions, equilibrium loadings, rates and densities as algebraic variables; nonlinear Langmuir isotherms,
square-root valve laws) to a temporary model folder, then times:
  - the model compiler alone (pymoca flattening + causalisation),
  - a cold export (model compiler + C code generation + compile + packaging),
  - a cached re-export (manifest check, no rebuild).
The figures go to docs/exporter-benchmark.md (and stdout). Usage: scripts/bench_export.py [--cells N] [--no-docs]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from orchestrator.paths import PROJECT_ROOT

MODEL_NAME = "BenchPSA.TwoBeds"


def psa_like_model(cells: int) -> str:
    """Modelica source of a two-bed, `cells`-cell adsorption model with connectors between beds and valves."""
    return f"""package BenchPSA "synthetic PSA-sized benchmark model"
  connector GasPort
    Real p(unit = "Pa");
    flow Real n(unit = "mol/s");
  end GasPort;

  model Bed "discretised adsorption column: pressure, O2 gas inventory and two loadings per cell"
    parameter Integer N = {cells};
    parameter Real V(unit = "m3") = 1e-3 / N;
    parameter Real T(unit = "K") = 300;
    parameter Real R = 8.314;
    parameter Real y_feed = 0.21 "O2 mole fraction of the feed";
    parameter Real kf(unit = "mol/(s.Pa)") = 2e-8 "cell-to-cell conductance";
    parameter Real kN2(unit = "1/s") = 0.6;
    parameter Real kO2(unit = "1/s") = 1.2;
    parameter Real qsN2(unit = "mol") = 0.3 / N;
    parameter Real qsO2(unit = "mol") = 0.3 / N;
    parameter Real bN2(unit = "1/Pa") = 4e-6;
    parameter Real bO2(unit = "1/Pa") = 1.5e-6;
    GasPort feed;
    GasPort product;
    Real p[N](each unit = "Pa", each start = 1.5e5, each fixed = true) "cell pressure";
    Real qN2[N](each start = 0.1 / N, each fixed = true) "N2 loading";
    Real qO2[N](each start = 0.03 / N, each fixed = true) "O2 loading";
    Real nO2[N](each start = 0.21 * 1.5e5 * 1e-3 / N / (8.314 * 300), each fixed = true) "O2 moles in the gas";
    Real y[N](each start = 0.21) "O2 mole fraction";
    Real pO2[N](each unit = "Pa") "O2 partial pressure";
    Real pN2[N](each unit = "Pa") "N2 partial pressure";
    Real n[N + 1](each unit = "mol/s") "molar flow between cells";
    Real yf[N + 1] "upwind O2 fraction of each flow";
    Real qeN2[N] "N2 equilibrium loading";
    Real qeO2[N] "O2 equilibrium loading";
    Real rN2[N] "N2 uptake rate";
    Real rO2[N] "O2 uptake rate";
    Real rho[N] "gas molar density";
  equation
    n[1] = feed.n;
    feed.p = p[1];
    yf[1] = if noEvent(n[1] > 0) then y_feed else y[1];
    for i in 2:N loop
      n[i] = kf * (p[i - 1] - p[i]);
      yf[i] = smooth(0, if noEvent(n[i] > 0) then y[i - 1] else y[i]);
    end for;
    n[N + 1] = -product.n;
    product.p = p[N];
    yf[N + 1] = y[N];
    for i in 1:N loop
      rho[i] = p[i] / (R * T);
      pO2[i] = p[i] * y[i];
      pN2[i] = p[i] - pO2[i];
      qeN2[i] = qsN2 * bN2 * pN2[i] / (1 + bN2 * pN2[i] + bO2 * pO2[i]);
      qeO2[i] = qsO2 * bO2 * pO2[i] / (1 + bN2 * pN2[i] + bO2 * pO2[i]);
      rN2[i] = kN2 * (qeN2[i] - qN2[i]);
      rO2[i] = kO2 * (qeO2[i] - qO2[i]);
      der(qN2[i]) = rN2[i];
      der(qO2[i]) = rO2[i];
      V / (R * T) * der(p[i]) = n[i] - n[i + 1] - rN2[i] - rO2[i];
      nO2[i] = rho[i] * V * y[i];
      der(nO2[i]) = yf[i] * n[i] - yf[i + 1] * n[i + 1] - rO2[i];
    end for;
  end Bed;

  model Valve "square-root-like valve law, smooth through zero"
    parameter Real Cv(unit = "mol/(s.Pa)") = 1e-7;
    input Real opening(start = 1);
    GasPort a;
    GasPort b;
  equation
    a.n + b.n = 0;
    a.n = opening * Cv * (a.p - b.p) / sqrt((a.p - b.p) ^ 2 / 1e8 + 1);
  end Valve;

  model Source "fixed pressure"
    parameter Real p0(unit = "Pa") = 2.5e5;
    GasPort port;
  equation
    port.p = p0;
  end Source;

  model Tank "product tank with a leak to ambient"
    parameter Real Vtank(unit = "m3") = 2e-3;
    parameter Real kl(unit = "mol/(s.Pa)") = 1e-9;
    parameter Real RT = 8.314 * 300;
    GasPort port;
    Real p(unit = "Pa", start = 1.2e5, fixed = true);
  equation
    port.p = p;
    Vtank / RT * der(p) = port.n - kl * (p - 1e5);
  end Tank;

  model TwoBeds "two beds fed through valves, products joined in a tank"
    input Real openA(start = 1);
    input Real openB(start = 0.2);
    Source src;
    Valve feedA(Cv = 2e-7);
    Valve feedB(Cv = 2e-7);
    Bed bedA;
    Bed bedB;
    Valve outA;
    Valve outB;
    Tank tank;
    output Real p_product(unit = "Pa");
    output Real y_product;
  equation
    feedA.opening = openA;
    feedB.opening = openB;
    outA.opening = 1;
    outB.opening = 1;
    connect(src.port, feedA.a);
    connect(src.port, feedB.a);
    connect(feedA.b, bedA.feed);
    connect(feedB.b, bedB.feed);
    connect(bedA.product, outA.a);
    connect(bedB.product, outB.a);
    connect(outA.b, tank.port);
    connect(outB.b, tank.port);
    p_product = tank.p;
    y_product = (bedA.y[bedA.N] + bedB.y[bedB.N]) / 2;
  end TwoBeds;
end BenchPSA;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cells", type=int, default=38, help="cells per bed (4 states each, 2 beds + tank; default 38 -> 305 states)"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/exporter-benchmark.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from orchestrator.export.api import export_model
    from orchestrator.export.causalise import causalise
    from orchestrator.export.frontend import flatten_model

    work = Path(tempfile.mkdtemp(prefix="o2twin-bench-export-"))
    lines: list[str] = []
    try:
        models = work / "models"
        models.mkdir()
        (models / "BenchPSA.mo").write_text(psa_like_model(args.cells))
        t0 = time.perf_counter()
        flat = flatten_model(models, MODEL_NAME)
        t1 = time.perf_counter()
        model = causalise(flat)
        t2 = time.perf_counter()
        n_alg = sum(1 for v in model.variables if v.kind == "calculated")
        size = f"{model.nx} states, {n_alg} algebraic/calculated variables, nz = {model.nz}, {len(model.variables)} FMU variables"
        lines += [
            f"- model: synthetic two-bed PSA model, {args.cells} cells per bed: {size}",
            f"- pymoca parse + flatten: {t1 - t0:.2f} s; causalisation (BLT, symbolic solves): {t2 - t1:.2f} s",
        ]
        try:
            out = work / "fmus"
            t3 = time.perf_counter()
            fmu = export_model(MODEL_NAME, models_dir=models, out_dir=out, backend="builtin")
            t4 = time.perf_counter()
            export_model(MODEL_NAME, models_dir=models, out_dir=out, backend="builtin")
            t5 = time.perf_counter()
            lines += [
                f"- cold export (compile model + generate C + gcc + package): {t4 - t3:.1f} s (target < 60 s);"
                f" FMU {fmu.stat().st_size / 1e6:.1f} MB",
                f"- cached re-export (manifest hit, no rebuild): {t5 - t4:.3f} s (target < 1 s)",
            ]
        except Exception as err:  # the C back end may be unavailable; the compiler figures still stand
            lines.append(f"- full export not measured: {err}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPU cores"
        f" ({platform.python_implementation()} {platform.python_version()}) by scripts/bench_export.py --cells {args.cells}"
    )
    text = "\n".join([header, "", *lines]) + "\n"
    print(text)
    if not args.no_docs:
        target = PROJECT_ROOT / "docs" / "exporter-benchmark.md"
        target.write_text("# Exporter benchmark (generated)\n\n" + text)
        print(f"written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
