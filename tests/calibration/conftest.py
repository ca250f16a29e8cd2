"""The calibration tests' synthetic truth: the bench rating check (rated_flow) run with known parameter values,
its sensor readings carrying the twin's own white noise, written as a data logger would (display units)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.calibration.synthetic import EIGHT_PARAMETERS, synthetic_trace, truth_overrides
from orchestrator.paths import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "calibration"

#: The brief case's truth (the default suite) and its fitted parameters' start values, 30 % away.
BRIEF_TRUTH = {"compressor.eta_v0": 0.85, "psa.d_vent_valve": 4.4e-3}
BRIEF_TRACE_S = 50.0


def parameter_tables(start: dict[str, float], bounds: dict[str, tuple[float, float]]) -> str:
    """[[parameters]] tables: name -> start value, with bounds."""
    return "".join(
        f'\n[[parameters]]\nname = "{name}"\nstart = {value!r}\nbounds = [{bounds[name][0]!r}, {bounds[name][1]!r}]\n'
        for name, value in start.items()
    )


@pytest.fixture(scope="session")
def brief_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 s of the bench rating check with BRIEF_TRUTH."""
    return synthetic_trace(tmp_path_factory.mktemp("truth") / "trace.csv", BRIEF_TRUTH, stop_time=BRIEF_TRACE_S)


@pytest.fixture(scope="session")
def eight_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 s of the bench rating check from a cold start with the truth of EIGHT_PARAMETERS (slow tests)."""
    return synthetic_trace(
        tmp_path_factory.mktemp("truth8") / "trace.csv", truth_overrides(EIGHT_PARAMETERS), stop_time=120.0
    )
