#!/usr/bin/env python3
"""Benchmark of the built-in exporter: cold export time, CPU time and peak memory against model size.

Each cold export runs in its own process (into a fresh folder), so its peak memory (the exporter's or a compiler's,
whichever is larger) and its CPU time (the exporter plus every compiler it started) are measured by the OS. Cases:
  - O2Twin.CoSim.PSAUnit as shipped (10 cells per bed) and as variants with 20 and 40 cells (--param nCells=N);
  - a 5,000-state array model (a diffusion chain, `Real x[5000]`);
  - a synthetic two-bed PSA-like model (38 cells per bed, about 300 states and 800 algebraic variables);
  - a cached re-export (manifest hit), and how fast a model above the size limit (`Real x[100000]`) is refused.
Targets: PSAUnit at 40 cells and the 5,000-state model each under 60 s cold; the figures go to
docs/exporter-benchmark.md (and stdout).

    .venv/bin/python scripts/bench_export.py [--cases psa10,psa40,array5000,...] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestrator.paths import MODELS_DIR, PROJECT_ROOT

MODEL_NAME = "BenchPSA.TwoBeds"
TARGET_S = 60.0


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


def array_model(n: int) -> str:
    """Modelica source of an n-state diffusion chain (one array, a for-loop)."""
    return f"""model Chain "diffusion along a chain of {n} cells"
  parameter Integer n = {n};
  parameter Real k = 1.0;
  Real x[n](each start = 1.0, each fixed = true);
equation
  der(x[1]) = k * (x[2] - x[1]) + 1;
  for i in 2:n - 1 loop
    der(x[i]) = k * (x[i - 1] - 2 * x[i] + x[i + 1]);
  end for;
  der(x[n]) = k * (x[n - 1] - x[n]);
end Chain;
"""


EXPORT_CHILD = """
import json, sys, time
from pathlib import Path
from orchestrator.export import export_model
from orchestrator.export.manifest import read_manifest
model, models_dir, out_dir = sys.argv[1:4]
started = time.perf_counter()
fmu = export_model(model, models_dir=Path(models_dir), out_dir=Path(out_dir), backend="builtin", force=True)
wall = time.perf_counter() - started
entry = next(e for e in read_manifest(Path(out_dir)).values() if e["fmu"] == fmu.name)
print(json.dumps({"wall_s": wall, "nx": entry["nx"], "nv": entry["nv"], "fmu_mb": fmu.stat().st_size / 1e6}))
"""


def cold_export(model: str, models_dir: Path, out_dir: Path) -> dict:
    """Export in a child process; wall time inside it, CPU time and peak memory of it and its compilers."""
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORT_CHILD, model, str(models_dir), str(out_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if status != 0:
        return {"error": (stderr.strip().splitlines() or ["failed"])[-1]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["peak_mb"] = usage.ru_maxrss / 1024
    return out


def refusal_time(work: Path) -> tuple[float, str]:
    """Seconds until a model above the size limit is refused, and the message."""
    from orchestrator.errors import ModelError
    from orchestrator.export.frontend import flatten_model

    folder = work / "huge"
    folder.mkdir()
    (folder / "Chain.mo").write_text(array_model(100000))
    started = time.perf_counter()
    try:
        flatten_model(folder, "Chain")
    except ModelError as err:
        return time.perf_counter() - started, str(err).split(": ", 1)[-1]
    return time.perf_counter() - started, "(not refused)"


def cases(work: Path) -> dict[str, tuple[str, Path]]:
    """Case name -> (model or variant, models folder)."""
    synthetic = work / "synthetic"
    synthetic.mkdir()
    (synthetic / "BenchPSA.mo").write_text(psa_like_model(38))
    chain = work / "chain"
    chain.mkdir()
    (chain / "Chain.mo").write_text(array_model(5000))
    return {
        "psa10": ("O2Twin.CoSim.PSAUnit", MODELS_DIR),
        "psa20": ("O2Twin.CoSim.PSAUnit(nCells=20)", MODELS_DIR),
        "psa40": ("O2Twin.CoSim.PSAUnit(nCells=40)", MODELS_DIR),
        "array5000": ("Chain", chain),
        "synthetic38": (MODEL_NAME, synthetic),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="psa10,psa20,psa40,array5000,synthetic38", help="comma-separated")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/exporter-benchmark.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from orchestrator.export.api import export_model

    work = Path(tempfile.mkdtemp(prefix="o2twin-bench-export-"))
    rows: list[str] = []
    results: dict[str, dict] = {}
    try:
        available = cases(work)
        for name in args.cases.split(","):
            model, models_dir = available[name]
            result = cold_export(model, models_dir, work / f"out-{name}")
            results[name] = result
            print(name, json.dumps(result), flush=True)
            if "error" in result:
                rows.append(f"| {model} | - | - | failed: {result['error']} | | | |")
                continue
            verdict = "under" if result["wall_s"] < TARGET_S else "OVER"
            rows.append(
                f"| {model} | {result['nx']} | {result['nv']} | {result['wall_s']:.1f} s ({verdict} {TARGET_S:.0f} s)"
                f" | {result['cpu_s']:.1f} s | {result['peak_mb']:.0f} MB | {result['fmu_mb']:.1f} MB |"
            )
        cached = None
        if "psa10" in results and "error" not in results["psa10"]:  # a re-export of what psa10 just built
            started = time.perf_counter()
            export_model("O2Twin.CoSim.PSAUnit", out_dir=work / "out-psa10", backend="builtin")
            cached = time.perf_counter() - started
        refused_s, message = refusal_time(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPU cores"
        f" ({platform.python_implementation()} {platform.python_version()}), load average"
        f" {os.getloadavg()[0]:.1f} at the end, by `scripts/bench_export.py --cases {args.cases}`.",
        "",
        "| model | states | FMU variables | cold export (wall) | CPU (exporter + compilers) | peak memory | FMU |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "- cached re-export of O2Twin.CoSim.PSAUnit (manifest hit, no rebuild): "
        + (f"{cached:.3f} s (target < 1 s)" if cached is not None else "not measured (needs psa10 in --cases)"),
        f"- `Real x[100000]` refused after {refused_s:.2f} s: {message}",
    ]
    if "psa10" in results and "psa40" in results and "error" not in results["psa10"] | results["psa40"]:
        a, b = results["psa10"], results["psa40"]
        lines.append(
            f"- CPU time per FMU variable: {1000 * a['cpu_s'] / a['nv']:.1f} ms at 10 cells,"
            f" {1000 * b['cpu_s'] / b['nv']:.1f} ms at 40 cells (linear cost: about equal)"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_docs:
        target = PROJECT_ROOT / "docs" / "exporter-benchmark.md"
        target.write_text("# Exporter benchmark (generated)\n\n" + text)
        print(f"written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
