"""Controller comparison (`o2twin compare`): controller sets applied to scenarios, run on the many-runs engine.

``load_controller_set``/``apply_controller_set`` read a controller-set TOML and put it into a scenario;
``run_comparison`` runs sets x scenarios x seeds through orchestrator.sweep and writes the table, plots and report;
``compare_runs`` does the same for finished run folders. See docs/compare.md.
"""

from orchestrator.compare.controller_set import (
    ControllerSet,
    apply_controller_set,
    known_controller_sets,
    load_controller_set,
)
from orchestrator.compare.study import Comparison, compare_runs, run_comparison

__all__ = [
    "Comparison",
    "ControllerSet",
    "apply_controller_set",
    "compare_runs",
    "known_controller_sets",
    "load_controller_set",
    "run_comparison",
]
