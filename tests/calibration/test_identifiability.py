"""Identifiability on the twin itself: a calibration built to be unidentifiable, and the 8-parameter design whose fit
slid away (docs/calibration.md) are flagged, naming the parameters, the reason and what would help; a well-posed
fit is not (test_fit_synthetic.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from orchestrator.calibration import identifiability_at
from orchestrator.calibration.synthetic import EIGHT_PARAMETERS, write_calibration
from orchestrator.calibration.synthetic import parameter_tables as synthetic_tables

BRIEF_HEAD = """name = "unidentifiable"
window = [28.0, 50.0]
settle_s = 7.5
"""

#: The exhaust valves' discharge coefficient enters the flow only as Cd * pi d^2 / 4 with the orifice diameter
#: (Components/SolenoidValve.mo): no signal can tell them apart. The O2 sensor's initial value does nothing after
#: the snapshot's start.
UNIDENTIFIABLE = """
[[parameters]]
name = "compressor.eta_v0"
start = 0.85
bounds = [0.3, 0.99]

[[parameters]]
name = "psa.d_vent_valve"
start = 4.4e-3
bounds = [1.5e-3, 8e-3]

[[parameters]]
name = "vent_Cd"
targets = ["psa.valveVentA.Cd", "psa.valveVentB.Cd"]
start = 0.7
bounds = [0.3, 0.95]

[[parameters]]
name = "psa.sensorO2.y_start"
start = 0.21
bounds = [0.1, 0.5]
"""


def test_a_product_and_an_unseen_parameter_are_named_on_the_twin(tmp_path, brief_trace):
    config = write_calibration(tmp_path / "cal", brief_trace, BRIEF_HEAD, UNIDENTIFIABLE)
    st = identifiability_at(config, workers=2)  # at the truth: the residuals are the sensor noise
    text = "\n".join(st.warnings)
    assert sorted(st.unidentifiable) == ["psa.d_vent_valve", "psa.sensorO2.y_start", "vent_Cd"], text
    # The O2 sensor's initial value reaches the mapped signals only through the solver's step-size choices (a
    # numerical trace, 1e-4 of a noise level per 1 % change, once the integrator keeps its history across macro steps)
    weak = re.search(r"psa\.sensorO2\.y_start: a 1 % change moves the signals by only (\S+) of their scale", text)
    zero = "psa.sensorO2.y_start: the mapped signals do not change with it" in text
    assert zero or (weak and float(weak.group(1)) < 1e-3), text
    assert "psa.d_vent_valve and vent_Cd are correlated" in text
    assert "{psa.d_vent_valve, vent_Cd}: collinearity index" in text
    assert "an orifice shows in the pressure waveform" in text  # what would help (orchestrator.calibration.hints)
    assert st.relative_std[0] < 0.01  # eta_v0 stays well determined beside them


#: The design of the 8-parameter fit that slid along a valley (docs/calibration.md, before the cold start): a snapshot
#: at 60 s, 45 s compared, the pressure, purity and power signals and cycle features.
SNAPSHOT_HEAD = """name = "eight-snapshot"
window = [60.0, 120.0]
settle_s = 15.0
"""
#: Where that fit ended (fitted / truth, EIGHT_PARAMETERS' order): k_LDF_N2 +75 %, the isotherm -14 %, ...
LAST_FIT = np.array([0.86, 1.75, 0.982, 0.975, 1.002, 0.958, 0.95, 0.95])


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="since issue 17's FMU runtime (2026-12-07) k_LDF_N2 sits just inside both limits there (relative standard "
    "error 4.3 % < 5 %, sensitivity 0.0104 > 0.01 of the scale per 1 %; was 7 % and 0.024): the local check no longer "
    "names it where the fit slid 75 % along the valley (docs/calibration.md); strict, so a fix shows",
)
def test_the_ldf_coefficient_is_flagged_where_the_last_eight_parameter_fit_ended(tmp_path, eight_trace):
    config = write_calibration(tmp_path / "cal", eight_trace, SNAPSHOT_HEAD, synthetic_tables(EIGHT_PARAMETERS))
    truth = np.array([v[1] for v in EIGHT_PARAMETERS.values()])
    st = identifiability_at(config, truth * LAST_FIT, workers=2)
    text = "\n".join(st.warnings)
    assert st.unidentifiable == ["psa.k_LDF_N2"], text
    assert "psa.k_LDF_N2: relative standard error" in text and "cold start" in text
