"""Many runs of the twin: sweeps, Monte Carlo over seeds, and the engine behind compare, calibration and training.

``run_cases(cases, out=...)`` runs a list of cases (scenario + overrides + seed, orchestrator.sweep.case.Case) on a
local process pool or a Dask cluster and returns the table (pandas DataFrame, one row per case); ``SweepDesign``
turns grids, samples and seeds into cases; ``load_sweep_file`` reads a sweep file. See docs/sweeps.md.
"""

from orchestrator.sweep.case import Case, RowFunction, summary_row
from orchestrator.sweep.design import Sampling, SweepDefinitionError, SweepDesign
from orchestrator.sweep.engine import run_cases
from orchestrator.sweep.studyfile import load_sweep_file

__all__ = [
    "Case",
    "RowFunction",
    "Sampling",
    "SweepDefinitionError",
    "SweepDesign",
    "load_sweep_file",
    "run_cases",
    "summary_row",
]
