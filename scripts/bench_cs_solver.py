"""Benchmark: the built-in Co-Simulation solver vs fmpy's CVode (Model Exchange) on the same stiff FMU.

The test model is a PSA-like adsorber bed (not the O2 Twin physics, just its numerical character): N cells, each
with N2 and O2 partial pressures and adsorbed loadings (4 states per cell), pressure-driven flow between cells
(fast pressure equalisation: stiff), Langmuir adsorption with linear-driving-force kinetics, and feed / vent valves
that switch every 4 s (an 8 s cycle), i.e. input discontinuities at communication points.

Both runs use fmpy.simulate_fmu with the same relative tolerance, output interval and input signal; the wall times
and their ratio are printed and (with --write-docs) written into docs/fmu-runtime.md between the BENCH markers.

    .venv/bin/python scripts/bench_cs_solver.py [--cells 60] [--stop-time 80] [--rtol 1e-6] [--write-docs]
"""

from __future__ import annotations

import argparse
import logging
import platform
import re
import tempfile
import time
import uuid
from pathlib import Path

import casadi as ca
import numpy as np
from fmpy import simulate_fmu

from orchestrator.export.build import build_fmu
from orchestrator.export.causal_model import CausalModel, ModelVariable

log = logging.getLogger("bench_cs_solver")
DOC = Path(__file__).resolve().parent.parent / "docs" / "fmu-runtime.md"


def psa_like_bed(cells: int) -> CausalModel:
    """The stiff benchmark model: 4 * cells states, inputs feed_valve and vent_valve (0..1), output product_o2."""
    pa, pb = ca.SX.sym("pa", cells), ca.SX.sym("pb", cells)  # partial pressures N2, O2 [bar]
    qa, qb = ca.SX.sym("qa", cells), ca.SX.sym("qb", cells)  # adsorbed loadings [mol/kg]
    t = ca.SX.sym("t")
    x = ca.vertcat(pa, pb, qa, qb)
    u = ca.SX.sym("u", 2)
    names = ["g_cell", "k_ldf_a", "k_ldf_b", "qm", "b_a", "b_b", "rho", "p_feed", "p_atm", "p_prod", "cv"]
    values = [200.0, 2.0, 10.0, 3.0, 0.6, 0.2, 1.5, 3.0, 1.0, 1.2, 20.0]
    p = ca.SX.sym("p", len(names))
    g, kla, klb, qm, ba, bb, rho, p_feed, p_atm, p_prod, cv = (p[i] for i in range(len(names)))
    total = pa + pb
    ya, yb = pa / total, pb / total

    def smooth_pos(v: ca.SX) -> ca.SX:  # weight of the upstream side, smooth at zero flow
        return 0.5 * (1 + ca.tanh(v / 1e-3))

    # flows between cells (positive towards the product end), feed/vent at cell 0, product at the last cell
    fa_in, fb_in = [], []
    for i in range(cells + 1):
        if i == 0:
            feed = u[0] * cv * ca.fmax(p_feed - total[0], 0) ** 0.5 * 0.1
            vent = u[1] * cv * (total[0] - p_atm) * 0.1
            fa_in.append(feed * 0.79 - vent * ya[0])
            fb_in.append(feed * 0.21 - vent * yb[0])
        elif i == cells:
            prod = cv * 0.02 * ca.fmax(total[-1] - p_prod, 0)
            fa_in.append(prod * ya[-1])
            fb_in.append(prod * yb[-1])
        else:
            flow = g * (total[i - 1] - total[i])
            w = smooth_pos(flow)
            fa_in.append(flow * (w * ya[i - 1] + (1 - w) * ya[i]))
            fb_in.append(flow * (w * yb[i - 1] + (1 - w) * yb[i]))
    denom = 1 + ba * pa + bb * pb
    dqa = kla * (qm * ba * pa / denom - qa)
    dqb = klb * (qm * bb * pb / denom - qb)
    dpa = ca.vertcat(*[fa_in[i] - fa_in[i + 1] for i in range(cells)]) - rho * dqa
    dpb = ca.vertcat(*[fb_in[i] - fb_in[i + 1] for i in range(cells)]) - rho * dqb
    f = ca.vertcat(dpa, dpb, dqa, dqb)
    product_o2 = yb[-1]

    x_start = np.concatenate(
        [
            np.full(cells, 0.79),
            np.full(cells, 0.21),
            np.full(cells, 3 * 0.6 * 0.79 / 1.5214),
            np.full(cells, 3 * 0.2 * 0.21 / 1.5214),
        ]
    )
    variables = [
        ModelVariable(n, "parameter", i, "parameter", "tunable", start=v)
        for i, (n, v) in enumerate(zip(names, values, strict=True))
    ]
    variables += [
        ModelVariable("feed_valve", "input", 0, "input", "continuous", start=1.0),
        ModelVariable("vent_valve", "input", 1, "input", "continuous", start=0.0),
    ]
    labels = [f"{s}[{i + 1}]" for s in ("pa", "pb", "qa", "qb") for i in range(cells)]
    state_vr = []
    for i, name in enumerate(labels):
        state_vr.append(len(variables))
        variables.append(
            ModelVariable(name, "state", i, "local", "continuous", start=float(x_start[i]), initial="exact")
        )
    for i, name in enumerate(labels):
        variables.append(
            ModelVariable(f"der({name})", "derivative", i, "local", "continuous", derivative_of=state_vr[i])
        )
    variables.append(ModelVariable("product_o2", "calculated", -1, "output", "continuous"))
    z = ca.SX(0, 1)
    ins = [t, x, z, u, p]
    v = ca.vertcat(p, u, x, f, product_o2)
    return CausalModel(
        name="Bench.PSALikeBed",
        description="stiff PSA-like adsorber bed for solver benchmarks",
        dae=ca.Function("dae", ins, [f, ca.SX(0, 1)]),
        vars=ca.Function("vars", ins, [v]),
        init_guess=ca.Function("init_guess", [t, u, p], [ca.DM(x_start), ca.SX(0, 1)]),
        init_res=ca.Function("init_res", ins, [x - ca.DM(x_start)]),
        variables=variables,
    )


def valve_signal(stop_time: float, half_cycle_s: float = 4.0) -> np.ndarray:
    """Feed open / vent closed for half a cycle, then the reverse; steps at multiples of half_cycle_s."""
    rows = []
    t = 0.0
    phase = 0
    while t < stop_time:
        feed, vent = (1.0, 0.0) if phase == 0 else (0.0, 1.0)
        rows += [(t, feed, vent), (min(t + half_cycle_s, stop_time), feed, vent)]
        t += half_cycle_s
        phase = 1 - phase
    return np.array(rows, dtype=[("time", float), ("feed_valve", float), ("vent_valve", float)])


def raw_do_steps(fmu: Path, stop_time: float, step: float, rtol: float) -> None:
    """The FMU's own cost: fmi2DoStep with the valve inputs set at every communication point, nothing recorded."""
    from fmpy import extract, read_model_description
    from fmpy.fmi2 import FMU2Slave

    md = read_model_description(str(fmu))
    vr = {v.name: v.valueReference for v in md.modelVariables}
    slave = FMU2Slave(
        guid=md.guid,
        unzipDirectory=extract(str(fmu)),
        modelIdentifier=md.coSimulation.modelIdentifier,
        instanceName="raw",
    )
    slave.instantiate()
    slave.setupExperiment(tolerance=rtol, startTime=0.0)
    slave.enterInitializationMode()
    slave.exitInitializationMode()
    valves = [vr["feed_valve"], vr["vent_valve"]]
    for k in range(round(stop_time / step)):
        t = k * step
        feed = 1.0 if int(t / 4.0 + 1e-9) % 2 == 0 else 0.0
        slave.setReal(valves, [feed, 1.0 - feed])
        slave.doStep(currentCommunicationPoint=t, communicationStepSize=step)
    slave.terminate()
    slave.freeInstance()


def timed(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=60)
    parser.add_argument("--stop-time", type=float, default=80.0)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--output-interval", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/fmu-runtime.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    model = psa_like_bed(args.cells)
    with tempfile.TemporaryDirectory() as tmp:
        guid = "{" + str(uuid.uuid4()) + "}"
        start = time.perf_counter()
        fmu = build_fmu(model, guid, Path(tmp) / "bench.fmu")
        build_s = time.perf_counter() - start
        signal = valve_signal(args.stop_time)
        common = dict(
            stop_time=args.stop_time,
            relative_tolerance=args.rtol,
            output_interval=args.output_interval,
            input=signal,
            output=["product_o2", "pa[1]"],
        )
        cs_s, cs = timed(lambda: simulate_fmu(str(fmu), fmi_type="CoSimulation", **common), args.repeats)
        me_s, me = timed(
            lambda: simulate_fmu(str(fmu), fmi_type="ModelExchange", solver="CVode", **common), args.repeats
        )
        raw_s, _ = timed(lambda: raw_do_steps(fmu, args.stop_time, args.output_interval, args.rtol), args.repeats)
    # compare on the common grid (ME records event instants twice: keep the last value per time)
    _, last = np.unique(me["time"][::-1], return_index=True)
    me_unique = me[::-1][last]
    common_t = np.intersect1d(cs["time"], me_unique["time"])
    diff = np.max(
        np.abs(
            np.interp(common_t, cs["time"], cs["product_o2"])
            - np.interp(common_t, me_unique["time"], me_unique["product_o2"])
        )
    )
    nx = model.nx
    lines = [
        f"model: PSA-like bed, {args.cells} cells, {nx} states, valves switching every 4 s; "
        f"{args.stop_time:g} s simulated, rtol {args.rtol:g}, output interval {args.output_interval:g} s",
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}",
        f"build_fmu (codegen + compile): {build_s:.1f} s",
        f"built-in CS solver (fmpy.simulate_fmu CoSimulation): {cs_s:.3f} s  -> {args.stop_time / cs_s:.0f}x real time",
        f"fmpy CVode on the same FMU (ModelExchange):          {me_s:.3f} s  -> {args.stop_time / me_s:.0f}x real time",
        f"ratio CVode time / built-in CS time: {me_s / cs_s:.2f} (target: >= 1)",
        f"fmi2DoStep alone (no fmpy recording loop), same steps and valve switching: {raw_s:.3f} s  -> "
        f"{args.stop_time / raw_s:.0f}x real time",
        f"max |product_o2(CS) - product_o2(ME)| on the output grid: {diff:.2e}",
    ]
    for line in lines:
        log.info(line)
    if args.write_docs:
        text = DOC.read_text()
        block = "<!-- BENCH:START -->\n```\n" + "\n".join(lines) + "\n```\n<!-- BENCH:END -->"
        text = re.sub(r"<!-- BENCH:START -->.*?<!-- BENCH:END -->", block, text, flags=re.S)
        DOC.write_text(text)
        log.info("wrote %s", DOC)


if __name__ == "__main__":
    main()
