"""The calibration tests' synthetic truth: the bench rating check (rated_flow) run with known parameter values,
its sensor readings carrying the twin's own white noise, written as a data logger would (display units)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.calibration.synthetic import synthetic_trace
from orchestrator.paths import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "calibration"

#: The brief case's truth (the default suite) and its fitted parameters' start values, 30 % away.
BRIEF_TRUTH = {"compressor.eta_v0": 0.85, "psa.d_vent_valve": 4.4e-3}
BRIEF_TRACE_S = 50.0

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


def parameter_tables(start: dict[str, float], bounds: dict[str, tuple[float, float]]) -> str:
    return "".join(
        f'\n[[parameters]]\nname = "{name}"\nstart = {value!r}\nbounds = [{bounds[name][0]!r}, {bounds[name][1]!r}]\n'
        for name, value in start.items()
    )


def write_calibration(folder: Path, trace: Path, head: str, parameters: str, extra: str = "") -> Path:
    """calibration.toml with plant.toml and the trace beside it, in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "plant.toml", folder / "plant.toml")
    if trace.parent != folder:
        shutil.copy(trace, folder / "trace.csv")
    text = (
        f'[calibration]\nscenario = "plant.toml"\ntrace = "{trace.name if trace.parent == folder else "trace.csv"}"\n'
    )
    path = folder / "calibration.toml"
    path.write_text(text + head + INPUTS + SIGNALS + extra + parameters, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def brief_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 s of the bench rating check with BRIEF_TRUTH."""
    return synthetic_trace(tmp_path_factory.mktemp("truth") / "trace.csv", BRIEF_TRUTH, stop_time=BRIEF_TRACE_S)
