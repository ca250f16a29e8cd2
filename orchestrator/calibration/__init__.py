"""Calibration: fit the twin's parameters to a measured trace (docs/calibration.md).

``calibrate("my_unit.toml", out="results/calibration/my_unit")`` reads a calibration file (the scenario, the trace,
the mapped signals and features, the fitted parameters with bounds), replays the trace's inputs, fits by
least squares from a snapshot at the window's start with parallel evaluations on the many-runs engine, and writes
the fitted values with confidence intervals, correlations, overlay plots and a scenario with the fitted values.
"""

from orchestrator.calibration.config import CalibrationConfig, CalibrationError, load_calibration
from orchestrator.calibration.fit import CalibrationResult, calibrate, identifiability_at

__all__ = [
    "CalibrationConfig",
    "CalibrationError",
    "CalibrationResult",
    "calibrate",
    "identifiability_at",
    "load_calibration",
]
