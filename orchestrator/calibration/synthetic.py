"""Synthetic truth: a trace recorded from the closed-loop twin with known parameters, to check a calibration.

``synthetic_trace`` runs a scenario (default: the bench rating check, rated_flow, whose sensor readings already carry
the SensorNoise block's white noise) with the given "true" parameter values, and writes what a data logger on the
real unit would give: the actuator commands (replayed by the calibration), the sensor readings in display units
(bar(g), %, L/min) and the bed pressure and compressor power with added white noise.
"""

from __future__ import annotations

import csv
import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from orchestrator.results.run import run
from orchestrator.scenario.load import load_scenario
from orchestrator.units import P_ATM_PA

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
                    stop_time: float = 120.0, interval_s: float = 0.05, seed: int = 0) -> Path:  # fmt: skip
    """Run ``scenario`` with ``overrides`` (the truth) and write the trace CSV (units in the header) to ``path``."""
    spec = load_scenario(scenario)
    record = list(dict.fromkeys([*spec.outputs.record, *(c[0] for c in COLUMNS.values())]))
    spec = dataclasses.replace(spec, outputs=dataclasses.replace(spec.outputs, record=record, interval=interval_s),
                               plots=[], seed=seed)  # fmt: skip
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
