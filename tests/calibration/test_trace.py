"""Measured traces: units from the header, a units line or the calibration file, converted to SI."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.calibration import CalibrationError
from orchestrator.calibration.trace import read_trace


def test_units_in_the_header_are_converted_to_si(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time [s],p [bar(g)],o2 [%],q [L/min],T [degC]\n10,1.5,93,2,25\n10.5,0,21,0,0\n")
    trace = read_trace(path, "time", {})
    assert np.allclose(trace.times, [0.0, 0.5])  # the first time becomes 0
    assert trace.columns["p"][0] == pytest.approx(1.5e5 + 101325.0)
    assert trace.columns["o2"][0] == pytest.approx(0.93)
    assert trace.columns["q"][0] == pytest.approx(2 / 60_000)
    assert trace.columns["T"][1] == pytest.approx(273.15)


def test_a_units_line_and_the_mapping_which_wins(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# logger export\ntime,p,w\ns,kPa,W\n0,100,5\n1,200,6\n")
    trace = read_trace(path, "time", {"p": "psi"}, ambient_pa=90_000.0)
    assert trace.columns["p"][1] == pytest.approx(200 * 6894.757293)
    assert trace.columns["w"].tolist() == [5.0, 6.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,p [furlong]\n0,1\n", "unknown unit 'furlong'"),
        ("t,p\n0,1\n", "no time column 'time'"),
        ("time,p\n0,1\n0,2\n", "must increase strictly"),
        ("time,p\n0,1\n1,x\n", "data row 2, column 'p'"),
        ("time,p\n0,1,2\n", "3 values for 2 columns"),
        ("time,p,p\n0,1,2\n", "a name of its own"),
    ],
)
def test_bad_traces_name_the_line_and_column(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        read_trace(path, "time", {})
