#!/usr/bin/env python3
"""Fit and validate O2Twin.Control.LumpedConcentrator against the full PSA unit (the MPC's prediction model).

1. Runs the full plant (compressor and PSA unit FMUs, pressure PID, sequencer, watchdog: scenarios/rated_flow.toml
   without its pressure schedule) through ``orchestrator.run`` on random steps of the feed-pressure setpoint
   (0.5-1.3 bar(g)) and the flow request (0.5-5 L/min), held 120-300 s each, after a 600 s warm-up at
   0.8 bar(g) / 2 L/min: one sequence to fit (``--fit-s``, seed 1), another to validate (``--validate-s``, seed 2);
   then two more with the PSA cycle-time scale (``sequencer.cycle_time_scale``) drawn as well (0.7-1.3, the MPC's
   range): one to fit its effect (``--cycle-fit-s``, seed 3), one to validate it (``--cycle-validate-s``, seed 4).
2. Cycle means (7.5 s moving averages) of the feed pressure, the delivered purity and the compressor power are what
   the lumped model predicts.
3. Fits the compressor power map by linear least squares on the measured cycle-mean pressure and flow, and the
   purity map, the purity time constants and the pressure loop's time constant by simulation-error least squares
   (the lumped model, exported from Modelica as CasADi functions, simulated over the whole sequence from the
   recorded commands; Gauss-Newton on CasADi's exact Jacobian through scipy's least_squares). The cycle-time
   terms (``CYCLE``: knee flow, low-flow purity and power per unit of scale) are fitted the same way on the
   cycle sequence with every other parameter held, so at scale 1 the model is the one fitted in 3.
4. Simulates the validation sequences with the fitted values and reports the errors (RMSE, largest, and the
   steady-state purity error at the end of each hold) as a Markdown table.

Usage: scripts/mpc_identify.py [--part all|base|cycle] [--fit-s 5400] [--validate-s 3600] [--cycle-fit-s 3600]
       [--cycle-validate-s 2400] [--no-fit] [--out DIR] [--reuse] [--json FILE]
``--part cycle`` fits only the cycle-time terms (the base parameters as they are in the .mo file) and validates both.
The fitted values are printed as Modelica modifiers; put them into models/O2Twin/Control/LumpedConcentrator.mo.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import casadi as ca
import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from controllers.prediction_model import PredictionModel
from orchestrator import run
from orchestrator.compare.controller_set import apply_to_table, parse_controller_set
from orchestrator.export.functions import export_functions
from orchestrator.results.run import RunResult
from orchestrator.scenario.load import read_scenario_table, resolve_scenario_path
from orchestrator.scenario.parse import parse_scenario

log = logging.getLogger("mpc_identify")
MODEL = "O2Twin.Control.LumpedConcentrator"
P_AMBIENT = 100006.87  # rated_flow.toml's
CYCLE_S = 7.5
DT_S = 1.0
WARMUP_S = 600.0
#: The fitted parameters and their bounds (physically sensible ranges: a knee of at least 0.1 L/min, a slope the
#: unit's purity curves show; unbounded fits of short sequences extrapolate wildly between the holds).
BOUNDS = {
    "tau_p": (1.0, 30.0),
    "y_max_0": (0.85, 0.96),
    "y_max_per_bar": (0.0, 0.1),
    "q_knee_0": (-3.0, 3.0),
    "q_knee_per_bar": (0.0, 15.0),
    "q_knee_per_bar2": (-8.0, 2.0),
    "slope_0": (0.01, 3.0),
    "slope_decay": (0.0, 5.0),
    "knee_width": (0.1, 2.0),
    "tau_y_ref": (20.0, 400.0),
    "tau_y_exponent": (0.0, 1.0),
}
FITTED = tuple(BOUNDS)
POWER = ("power_0", "power_per_bar", "power_per_bar2", "power_per_lpm", "power_per_lpm_bar")
#: The cycle-time terms, fitted on the cycle sequences with everything else held (bounds: a knee that moves by at
#: most 10 L/min and a purity by at most 0.2 per unit of scale; the power term is linear least squares).
CYCLE_BOUNDS = {"q_knee_per_scale": (-10.0, 10.0), "y_max_per_scale": (-0.2, 0.2)}
CYCLE_POWER = "power_per_scale"
#: The cycle-time scales the cycle sequences draw from (the MPC's command range, controllers/mpc.py).
SCALE_RANGE = (0.7, 1.3)

#: One command hold: (time_s, p_set_barg, q_slpm, cycle_time_scale).
Step = tuple[float, float, float, float]


def command_sequence(duration_s: float, seed: int, scales: tuple[float, float] | None = None) -> list[Step]:
    """Command steps: warm-up at 0.8 bar(g) / 2 L/min / scale 1, then random holds of 120-300 s; the cycle-time
    scale is drawn from ``scales`` (else 1; the draws of pressure and flow are the same either way)."""
    rng = np.random.default_rng(seed)
    scale_rng = np.random.default_rng(seed + 1000)
    steps, t = [(0.0, 0.8, 2.0, 1.0)], WARMUP_S
    while t < duration_s:
        p, q = float(rng.uniform(0.5, 1.3)), float(rng.uniform(0.5, 5.0))
        steps.append((t, p, q, float(scale_rng.uniform(*scales)) if scales else 1.0))
        t += float(rng.uniform(120.0, 300.0))
    return steps


def plant_run(steps: list[Step], duration_s: float, out: Path, reuse: bool) -> pd.DataFrame:
    """The full plant under the command steps; signals on the recording grid (0.1 s). With ``reuse``, the signals
    of an earlier run in ``out`` (same sequence: the seeds and lengths fix it)."""
    if reuse and (out / "signals.csv").is_file():
        return RunResult("ok", 0, out, {}).signals
    cset = parse_controller_set({"controller_set": {"name": "identify", "remove": ["schedule"]}}, "identify")
    path = resolve_scenario_path("rated_flow")
    table = apply_to_table(read_scenario_table(path), cset)
    table["scenario"]["stop_time"] = duration_s
    table["slaves"]["pid"]["parameters"]["p_setpoint"] = P_AMBIENT + steps[0][1] * 1e5
    table["slaves"]["manual"]["parameters"]["flow_slpm"] = steps[0][2]
    table["events"] = [
        {
            "time": t,
            "set": {"pid.p_setpoint": P_AMBIENT + p * 1e5, "manual.flow_slpm": q, "sequencer.cycle_time_scale": s},
        }
        for t, p, q, s in steps[1:]
    ]
    table["outputs"] = {"record": ["compressor.power", "psa.p_feed", "psa.y_O2_product", "psa.Q_product"],
                        "interval": 0.1}  # fmt: skip
    table.pop("plots", None)
    spec = parse_scenario(table, source=str(path), default_name="mpc_identify")
    started = time.perf_counter()
    result = run(spec, out=out, plots=False)
    log.info("plant run of %.0f s: %s in %.0f s wall", duration_s, result.status, time.perf_counter() - started)
    if not result.ok:
        raise SystemExit(f"plant run failed: {result.error}")
    return result.signals


def cycle_means(signals: pd.DataFrame, steps: list[Step]) -> pd.DataFrame:
    """Cycle means on a 1 s grid with the commands in force: t, p_set_barg, q_slpm, scale, p_feed_barg, purity,
    power_w (a trailing 7.5 s mean: one nominal cycle)."""
    t = np.asarray(signals.index, dtype=float)
    n = round(CYCLE_S / float(np.median(np.diff(t))))
    grid = np.arange(CYCLE_S, t[-1], DT_S)
    frame = {"t": grid}
    for name, column, scale, offset in (
        ("p_feed_barg", "psa.p_feed", 1e-5, -P_AMBIENT * 1e-5),
        ("purity", "psa.y_O2_product", 1.0, 0.0),
        ("power_w", "compressor.power", 1.0, 0.0),
    ):
        mean = pd.Series(signals[column].to_numpy()).rolling(n).mean().to_numpy()  # trailing: ends at t
        frame[name] = np.interp(grid, t, mean) * scale + offset
    times = np.array([s[0] for s in steps])
    index = np.searchsorted(times, grid, side="right") - 1
    frame["p_set_barg"] = np.array([steps[i][1] for i in index])
    frame["q_slpm"] = np.array([steps[i][2] for i in index])
    frame["scale"] = np.array([steps[i][3] for i in index])
    means = pd.DataFrame(frame)
    return means[means["t"] >= WARMUP_S].reset_index(drop=True)  # the beds are warm from here on


class LumpedSimulator:
    """The lumped model simulated over a whole sequence as one CasADi function of the parameters ``names``."""

    def __init__(self, model: PredictionModel, n: int, names: tuple[str, ...] = FITTED) -> None:
        self.model, self.names = model, names
        theta = ca.SX.sym("theta", len(names))
        x, u = ca.SX.sym("x", model.nx), ca.SX.sym("u", model.nu)
        p = ca.SX(ca.DM(model.p))
        for k, name in enumerate(names):
            p[model.parameter(name)] = theta[k]
        f = model.function
        k1 = f(x, u, p)[0]
        k2 = f(x + DT_S / 2 * k1, u, p)[0]
        k3 = f(x + DT_S / 2 * k2, u, p)[0]
        k4 = f(x + DT_S * k3, u, p)[0]
        step = ca.Function("step", [x, u, theta], [x + DT_S / 6 * (k1 + 2 * k2 + 2 * k3 + k4)])
        out = ca.Function("out", [x, u, theta], [f(x, u, p)[1]])
        x0, us = ca.MX.sym("x0", model.nx), ca.MX.sym("U", model.nu, n)
        th = ca.MX.sym("th", len(names))
        xs = step.mapaccum(n)(x0, us, ca.repmat(th, 1, n))
        states = ca.horzcat(x0, xs[:, :-1])
        ys = out.map(n)(states, us, ca.repmat(th, 1, n))
        self.simulate = ca.Function("simulate", [x0, us, th], [ys])
        self.jacobian = ca.Function("simulate_jacobian", [x0, us, th], [ca.jacobian(ca.vec(ys), th)])

    def inputs(self, means: pd.DataFrame) -> np.ndarray:
        m = self.model
        u = np.zeros((m.nu, len(means)))
        u[m.input("p_set")] = P_AMBIENT + means["p_set_barg"].to_numpy() * 1e5
        u[m.input("Q_set")] = means["q_slpm"].to_numpy() / 60000.0
        u[m.input("cycle_scale")] = means["scale"].to_numpy()
        return u

    def theta(self) -> np.ndarray:
        """The model's present values of the parameters ``names``."""
        return np.array([self.model.p[self.model.parameter(n)] for n in self.names])

    def initial_state(self, means: pd.DataFrame) -> np.ndarray:
        x0 = np.zeros(self.model.nx)
        x0[self.model.state("p_feed")] = P_AMBIENT + means["p_feed_barg"].iloc[0] * 1e5
        x0[self.model.state("y_O2")] = means["purity"].iloc[0]
        x0[self.model.state("sensor_O2")] = means["purity"].iloc[0]
        return x0


def _outputs(model: PredictionModel, y: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "p_feed_barg": (y[model.output("p_feed")] - P_AMBIENT) * 1e-5,
        "purity": y[model.output("y_O2")],
        "power_w": y[model.output("power")],
    }


def fit(model: PredictionModel, means: pd.DataFrame) -> PredictionModel:
    """Power map by linear least squares, then the dynamic parameters by simulation-error least squares."""
    g, q = means["p_feed_barg"].to_numpy(), means["q_slpm"].to_numpy()
    basis = np.column_stack([np.ones_like(g), g, g**2, q, q * g])
    coef = np.linalg.lstsq(basis, means["power_w"].to_numpy(), rcond=None)[0]
    model = model.with_parameters(dict(zip(POWER, map(float, coef), strict=True)))
    sim = LumpedSimulator(model, len(means))
    u, x0 = sim.inputs(means), sim.initial_state(means)
    ny = len(model.outputs)
    i_tau = FITTED.index("tau_p")

    def simulated(theta: np.ndarray) -> dict[str, np.ndarray]:
        return _outputs(model, np.array(sim.simulate(x0, u, theta)))

    # stage 1: the pressure loop's time constant from the pressure alone (a 1-D search)
    theta = np.clip([model.p[model.parameter(n)] for n in FITTED], *zip(*BOUNDS.values(), strict=True))
    best = min(
        np.arange(1.0, 30.01, 0.5),
        key=lambda tau: float(np.sum((simulated(np.r_[theta[:i_tau], tau, theta[i_tau + 1 :]])["p_feed_barg"]
                                      - means["p_feed_barg"].to_numpy()) ** 2)),
    )  # fmt: skip
    theta[i_tau] = best
    # stage 2: the purity map and dynamics from the purity, the pressure loop fixed
    free = [k for k in range(len(FITTED)) if k != i_tau]
    row = model.output("y_O2")
    measured = means["purity"].to_numpy()

    def full(free_values: np.ndarray) -> np.ndarray:
        values = theta.copy()
        values[free] = free_values
        return values

    def residual(free_values: np.ndarray) -> np.ndarray:
        return simulated(full(free_values))["purity"] - measured

    def jacobian(free_values: np.ndarray) -> np.ndarray:
        j = np.array(sim.jacobian(x0, u, full(free_values)))  # (ny * n) x ntheta, column-major over time
        return j[row::ny][:, free]

    low, high = (np.array([BOUNDS[FITTED[k]][i] for k in free]) for i in (0, 1))
    started = time.perf_counter()
    solution = least_squares(residual, theta[free], jac=jacobian, bounds=(low, high), method="trf", max_nfev=100)
    log.info("fit: tau_p %.1f s; purity cost %.3g -> %.3g in %.1f s (%s)", best, 0.5 * np.sum(residual(theta[free]) ** 2),
             solution.cost, time.perf_counter() - started, solution.message)  # fmt: skip
    theta[free] = solution.x
    return model.with_parameters(dict(zip(FITTED, map(float, theta), strict=True)))


def fit_cycle(model: PredictionModel, means: pd.DataFrame) -> PredictionModel:
    """The cycle-time terms with every other parameter held: the power term by linear least squares on what the
    power map leaves, the knee and low-flow purity terms by simulation-error least squares on the purity."""
    s1 = means["scale"].to_numpy() - 1.0
    base = dict(zip(CYCLE_BOUNDS, (0.0, 0.0), strict=True)) | {CYCLE_POWER: 0.0}
    model = model.with_parameters(base)
    sim = LumpedSimulator(model, len(means), (*CYCLE_BOUNDS, CYCLE_POWER))
    u, x0 = sim.inputs(means), sim.initial_state(means)
    power_left = means["power_w"].to_numpy() - _outputs(model, np.array(sim.simulate(x0, u, sim.theta())))["power_w"]
    power_per_scale = float(np.dot(s1, power_left) / max(float(np.dot(s1, s1)), 1e-12))
    ny, row = len(model.outputs), model.output("y_O2")
    measured = means["purity"].to_numpy()

    def full(values: np.ndarray) -> np.ndarray:
        return np.r_[values, power_per_scale]

    def residual(values: np.ndarray) -> np.ndarray:
        return _outputs(model, np.array(sim.simulate(x0, u, full(values))))["purity"] - measured

    def jacobian(values: np.ndarray) -> np.ndarray:
        return np.array(sim.jacobian(x0, u, full(values)))[row::ny][:, : len(CYCLE_BOUNDS)]

    low, high = (np.array([b[i] for b in CYCLE_BOUNDS.values()]) for i in (0, 1))
    solution = least_squares(residual, np.zeros(len(CYCLE_BOUNDS)), jac=jacobian, bounds=(low, high), method="trf")
    log.info("cycle fit: power %.1f W per unit scale; purity cost %.3g -> %.3g (%s)", power_per_scale,
             0.5 * np.sum(residual(np.zeros(len(CYCLE_BOUNDS))) ** 2), solution.cost, solution.message)  # fmt: skip
    return model.with_parameters(dict(zip((*CYCLE_BOUNDS, CYCLE_POWER), map(float, full(solution.x)), strict=True)))


def errors(model: PredictionModel, means: pd.DataFrame, steps: list[Step]) -> dict[str, dict]:
    """RMSE and largest error of each output over the sequence after warm-up; purity error at the end of each hold."""
    sim = LumpedSimulator(model, len(means))
    y = _outputs(model, np.array(sim.simulate(sim.initial_state(means), sim.inputs(means), sim.theta())))
    after = np.ones(len(means), dtype=bool)
    table: dict[str, dict] = {}
    for k in ("p_feed_barg", "purity", "power_w"):
        e = y[k][after] - means[k].to_numpy()[after]
        table[k] = {"rmse": float(np.sqrt(np.mean(e**2))), "max_abs": float(np.max(np.abs(e)))}
    ends = [s[0] - DT_S for s in steps[2:]] + [float(means["t"].iloc[-1])]
    idx = [int(np.argmin(np.abs(means["t"].to_numpy() - t))) for t in ends]
    e_end = y["purity"][idx] - means["purity"].to_numpy()[idx]
    table["purity_end_of_hold"] = {"rmse": float(np.sqrt(np.mean(e_end**2))), "max_abs": float(np.max(np.abs(e_end)))}
    table["_trace"] = {"t": means["t"].to_numpy()[after].tolist()[::10], "model": y["purity"][after].tolist()[::10],
                       "plant": means["purity"].to_numpy()[after].tolist()[::10]}  # fmt: skip
    return table


def markdown(fit_errors: dict, validation: dict, title: str = "output (cycle mean)") -> str:
    lines = [
        f"| {title} | fit RMSE | fit max | validation RMSE | validation max |",
        "| --- | --- | --- | --- | --- |",
    ]
    labels = {"p_feed_barg": ("feed pressure, bar", 1.0, 3), "purity": ("delivered purity, % O2", 100.0, 2),
              "power_w": ("compressor power, W", 1.0, 1),
              "purity_end_of_hold": ("purity at the end of each hold, % O2", 100.0, 2)}  # fmt: skip
    for key, (label, scale, d) in labels.items():
        f, v = fit_errors[key], validation[key]
        lines.append(f"| {label} | {f['rmse'] * scale:.{d}f} | {f['max_abs'] * scale:.{d}f} | "
                     f"{v['rmse'] * scale:.{d}f} | {v['max_abs'] * scale:.{d}f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "base", "cycle"), default="all",
                        help="base: the sequences at scale 1; cycle: the cycle-time sequences (fit only its terms)")  # fmt: skip
    parser.add_argument("--fit-s", type=float, default=5400.0, help="simulated length of the fitting sequence, s")
    parser.add_argument("--validate-s", type=float, default=3600.0, help="length of the validation sequence, s")
    parser.add_argument("--cycle-fit-s", type=float, default=3600.0, help="length of the cycle fitting sequence, s")
    parser.add_argument("--cycle-validate-s", type=float, default=2400.0, help="length of the cycle validation, s")
    parser.add_argument("--no-fit", action="store_true", help="only validate the model's present parameters")
    parser.add_argument("--out", type=Path, default=None, help="keep the plant runs here (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="use the plant runs already in --out")
    parser.add_argument("--json", type=Path, default=None, help="write the parameters and errors as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    export_functions(MODEL)
    model = PredictionModel.load(MODEL)
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        parts = {"base": ("fit", args.fit_s, 1, "validate", args.validate_s, 2, None),
                 "cycle": ("cycle_fit", args.cycle_fit_s, 3, "cycle_validate", args.cycle_validate_s, 4, SCALE_RANGE)}  # fmt: skip
        for part, (fit_name, fit_s, fit_seed, val_name, val_s, val_seed, scales) in parts.items():
            if args.part not in ("all", part):
                continue
            fit_steps = command_sequence(fit_s, fit_seed, scales)
            fit_means = cycle_means(plant_run(fit_steps, fit_s, root / fit_name, args.reuse), fit_steps)
            val_steps = command_sequence(val_s, val_seed, scales)
            val_means = cycle_means(plant_run(val_steps, val_s, root / val_name, args.reuse), val_steps)
            if not args.no_fit:
                model = fit(model, fit_means) if part == "base" else fit_cycle(model, fit_means)
            report[part] = {"fit": (fit_means, fit_steps), "validation": (val_means, val_steps)}
    names = (*FITTED, *POWER, *CYCLE_BOUNDS, CYCLE_POWER)
    fitted = {n: float(model.p[model.parameter(n)]) for n in names}
    print("parameters:", ", ".join(f"{k}={v:.4g}" for k, v in fitted.items()))
    out: dict[str, object] = {"parameters": fitted}
    for part, data in report.items():
        fit_errors, validation = (errors(model, *data[k]) for k in ("fit", "validation"))
        title = "output (cycle mean)" if part == "base" else "output (cycle mean), scale 0.7-1.3"
        print(markdown(fit_errors, validation, title))
        out[part] = {"fit": fit_errors, "validation": validation}
    if args.json:
        args.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
