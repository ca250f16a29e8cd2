"""Synthetic truth: a trace recorded from the closed-loop twin with known parameters, to check a calibration.

``synthetic_trace`` runs a scenario (default: the bench rating check, rated_flow, whose sensor readings already carry
the SensorNoise block's white noise) with the given "true" parameter values, and writes what a data logger on the
real unit would give: the actuator commands (replayed by the calibration), the sensor readings in display units
(bar(g), %, L/min) and the bed pressure and compressor power with added white noise.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from orchestrator.paths import PROJECT_ROOT
from orchestrator.results.run import run
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.spec import EventSpec
from orchestrator.units import P_ATM_PA

#: The open-loop plant a synthetic trace is fitted with.
PLANT_SCENARIO = PROJECT_ROOT / "docs" / "examples" / "calibration" / "plant.toml"

#: trace column -> (twin signal, unit written, white noise added (SI s.d.; 0 where the twin's sensor has its own))
COLUMNS: dict[str, tuple[str, str, float]] = {
    "cmd_feed_A": ("watchdog.cmd_feed_A", "1", 0.0),
    "cmd_feed_B": ("watchdog.cmd_feed_B", "1", 0.0),
    "cmd_vent_A": ("watchdog.cmd_vent_A", "1", 0.0),
    "cmd_vent_B": ("watchdog.cmd_vent_B", "1", 0.0),
    "cmd_equalize": ("watchdog.cmd_equalize", "1", 0.0),
    "duty": ("watchdog.duty", "1", 0.0),
    "Q_set": ("watchdog.Q_set", "L/min", 0.0),
    "p_feed": ("psa.sensor_p_feed", "bar(g)", 0.0),
    "p_tank": ("psa.sensor_p_tank", "bar(g)", 0.0),
    "o2": ("psa.sensor_O2", "%", 0.0),
    "flow": ("psa.sensor_Q", "L/min", 0.0),
    "p_bed_A": ("psa.p_bed_A", "bar(g)", 300.0),
    "power": ("compressor.power", "W", 1.0),
}
_TO_UNIT = {
    "1": lambda x: x,
    "W": lambda x: x,
    "bar(g)": lambda x: (x - P_ATM_PA) / 1e5,
    "%": lambda x: x * 100.0,
    "L/min": lambda x: x * 60_000.0,
}


def synthetic_trace(path: str | Path, overrides: Mapping[str, float], *, scenario: str | Path = "rated_flow",
                    stop_time: float = 120.0, interval_s: float = 0.05, seed: int = 0,
                    operating_points: Sequence[tuple[float, Mapping[str, float]]] = ()) -> Path:  # fmt: skip
    """Run ``scenario`` with ``overrides`` (the truth) and write the trace CSV (units in the header) to ``path``.
    ``operating_points``: (time s, {"slave.variable": value}) set events that move the unit to other operating
    points during the trace (another product flow, cycle time), as a calibration experiment would."""
    spec = load_scenario(scenario)
    record = list(dict.fromkeys([*spec.outputs.record, *(c[0] for c in COLUMNS.values())]))
    events = [
        EventSpec(time=t, action="set", slave=target.split(".", 1)[0], variable=target.split(".", 1)[1], value=v,
                  description=f"operating point: {target} = {v:g}")
        for t, values in operating_points
        for target, v in values.items()
    ]  # fmt: skip
    spec = dataclasses.replace(spec, outputs=dataclasses.replace(spec.outputs, record=record, interval=interval_s),
                               plots=[], seed=seed, events=sorted([*spec.events, *events], key=lambda e: e.time))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="o2twin-synthetic-") as tmp:
        result = run(spec, out=tmp, stop_time=stop_time, overrides=dict(overrides), plots=False)
        if result.status != "ok":
            raise RuntimeError(f"the synthetic truth run failed: {result.error}")
        frame = result.signals
    rng = np.random.default_rng(seed + 1)
    times = frame.index.to_numpy(dtype=float)
    columns = {}
    for name, (signal, unit, noise_sd) in COLUMNS.items():
        values = frame[signal].to_numpy(dtype=float)
        if noise_sd > 0:
            values = values + rng.normal(0.0, noise_sd, values.size)
        columns[f"{name} [{unit}]"] = _TO_UNIT[unit](values)
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["time [s]", *columns])
        for i, t in enumerate(times):
            writer.writerow([f"{t:.6g}", *(f"{v[i]:.8g}" for v in columns.values())])
    return path


#: The synthetic-truth check of issue 15: eight values (isotherm, LDF, valve, tank and compressor constants) off
#: the model's defaults, fitted from starts 30 % away (alternately below and above). name -> (targets, truth, start,
#: bounds). The isotherm's N2 Henry pre-factor is one value for both beds.
EIGHT_PARAMETERS: dict[str, tuple[tuple[str, ...], float, float, tuple[float, float]]] = {
    "isotherm_k1_N2": (("psa.bedA.k1[1]", "psa.bedB.k1[1]"), 1.05e-8, 0.7 * 1.05e-8, (3e-9, 3e-8)),
    "psa.k_LDF_N2": (("psa.k_LDF_N2",), 14.0, 1.3 * 14.0, (3.0, 60.0)),
    "psa.d_feed_valve": (("psa.d_feed_valve",), 3.2e-3, 0.7 * 3.2e-3, (1e-3, 1e-2)),
    "psa.d_vent_valve": (("psa.d_vent_valve",), 4.4e-3, 1.3 * 4.4e-3, (1.5e-3, 1.2e-2)),
    "psa.d_purge": (("psa.d_purge",), 0.75e-3, 0.7 * 0.75e-3, (2e-4, 2e-3)),
    "psa.V_tank": (("psa.V_tank",), 1.1e-3, 1.3 * 1.1e-3, (3e-4, 3e-3)),
    "compressor.eta_v0": (("compressor.eta_v0",), 0.85, 0.7 * 0.85, (0.3, 0.99)),
    "compressor.eta_is": (("compressor.eta_is",), 0.5, 1.3 * 0.5, (0.2, 0.9)),
}


def truth_overrides(
    parameters: Mapping[str, tuple[tuple[str, ...], float, float, tuple[float, float]]],
) -> dict[str, float]:
    """{"slave.parameter": truth} of every target."""
    return {t: truth for targets, truth, _, _ in parameters.values() for t in targets}


def parameter_tables(parameters: Mapping[str, tuple[tuple[str, ...], float, float, tuple[float, float]]]) -> str:
    """The [[parameters]] tables of a calibration file for these (name, targets, start, bounds)."""
    out = []
    for name, (targets, _, start, (low, high)) in parameters.items():
        listed = ", ".join(f'"{t}"' for t in targets)
        out.append(
            f'\n[[parameters]]\nname = "{name}"\ntargets = [{listed}]\nstart = {start!r}\nbounds = [{low!r}, {high!r}]\n'
        )
    return "".join(out)


#: The [inputs] and [signals] of a calibration on a synthetic_trace (its column names).
INPUTS = """
[inputs]
cmd_feed_A = "psa.cmd_feed_A"
cmd_feed_B = "psa.cmd_feed_B"
cmd_vent_A = "psa.cmd_vent_A"
cmd_vent_B = "psa.cmd_vent_B"
cmd_equalize = "psa.cmd_equalize"
duty = "compressor.duty"
Q_set = "psa.Q_set"
"""

SIGNALS = """
[signals.p_feed]
twin = "psa.sensor_p_feed"
[signals.p_tank]
twin = "psa.sensor_p_tank"
[signals.o2]
twin = "psa.sensor_O2"
[signals.p_bed_A]
twin = "psa.p_bed_A"
[signals.power]
twin = "compressor.power"
weight = 0.0

[cycles]
column = "cmd_feed_A"

[[features]]
kind = "cycle_max"
signal = "p_feed"
[[features]]
kind = "cycle_min"
signal = "p_bed_A"
[[features]]
kind = "cycle_mean"
signal = "power"
"""


#: The 8-parameter experiment (docs/calibration.md): a cold start at the rated 5 L/min, then 2 L/min from 70 s and
#: a 1.4 x longer cycle from 105 s, 140 s in all, fitted from 0 s (no snapshot).
EIGHT_OPERATING_POINTS: tuple[tuple[float, dict[str, float]], ...] = (
    (70.0, {"manual.flow_slpm": 2.0}),
    (105.0, {"sequencer.cycle_time_scale": 1.4}),
)
EIGHT_TRACE_S = 140.0
EIGHT_HEAD = """window = [0.0, 140.0]
max_evaluations = 40
"""

#: Its signals: the waveforms of the pressures and the O2 reading (each residual in units of the signal's noise
#: level) and the compressor's mean power per cycle (eta_is). The O2 reading, the only signal the LDF rate shows in
#: directly (the purity's rise after the cold start), weighs twice. No cycle minimum or maximum: on a noisy reading
#: they are biased by the noise's extremes, which the twin's noise-free signal does not have.
EIGHT_SIGNALS = """
[signals.p_feed]
twin = "psa.sensor_p_feed"
[signals.p_tank]
twin = "psa.sensor_p_tank"
[signals.o2]
twin = "psa.sensor_O2"
weight = 2.0
[signals.p_bed_A]
twin = "psa.p_bed_A"
[signals.power]
twin = "compressor.power"
weight = 0.0

[cycles]
column = "cmd_feed_A"

[[features]]
kind = "cycle_mean"
signal = "power"
"""


def write_calibration(folder: Path, trace: Path, head: str, parameters: str, extra: str = "",
                      signals: str = SIGNALS) -> Path:  # fmt: skip
    """calibration.toml for a trace of synthetic_trace, with the open-loop plant (docs/examples/calibration/plant.toml)
    and the trace copied beside it in folder; ``head`` holds the [calibration] keys after scenario and trace,
    ``signals`` the [signals], [cycles] and [[features]] (default SIGNALS)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PLANT_SCENARIO, folder / "plant.toml")
    if trace.parent != folder:
        shutil.copy(trace, folder / "trace.csv")
    text = (
        f'[calibration]\nscenario = "plant.toml"\ntrace = "{trace.name if trace.parent == folder else "trace.csv"}"\n'
    )
    path = folder / "calibration.toml"
    path.write_text(text + head + INPUTS + signals + extra + parameters, encoding="utf-8")
    return path
