"""The calibration file is data: every mistake is one error naming the file and key; paths stay in its folder."""

from __future__ import annotations

import pytest

from orchestrator.calibration import CalibrationError, load_calibration
from tests.calibration.conftest import EXAMPLE

GOOD = """
[calibration]
scenario = "plant.toml"
trace = "trace.csv"
window = [10.0, 20.0]

[inputs]
duty = "compressor.duty"

[signals.p_feed]
twin = "psa.sensor_p_feed"

[[parameters]]
name = "compressor.eta_v0"
start = 0.8
bounds = [0.3, 0.99]
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "plant.toml").write_text((EXAMPLE / "plant.toml").read_text())
    (tmp_path / "trace.csv").write_text("time,duty,p_feed\n0,0.5,1e5\n1,0.5,1e5\n")
    return tmp_path


def write(folder, text):
    path = folder / "cal.toml"
    path.write_text(text)
    return path


def test_a_good_file_is_read(folder):
    config = load_calibration(write(folder, GOOD))
    assert config.name == "cal" and config.window == (10.0, 20.0) and config.rounds == 4
    assert config.parameters[0].targets == ("compressor.eta_v0",)
    assert config.signals[0].column == "p_feed" and config.interpolation == "hold"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('trace = "trace.csv"', 'trace = "../trace.csv"'), "must be a .csv path inside"),
        (('trace = "trace.csv"', 'trace = "/etc/passwd.csv"'), "must be a .csv path inside"),
        (('scenario = "plant.toml"', 'scenario = "../plant.toml"'), "must be a .toml path inside"),
        (('trace = "trace.csv"', 'trace = "missing.csv"'), "does not exist"),
        (("[signals.p_feed]", '[signals."p/../../../x"]\ncolumn = "p_feed"'), "must be a plain name"),
        (("[signals.p_feed]", '[signals."..\\\\x"]\ncolumn = "p_feed"'), "must be a plain name"),
        (("window = [10.0, 20.0]", "window = [20.0, 10.0]"), "must be after the start"),
        (("window = [10.0, 20.0]", "window = [10.0, 20.0]\nbogus = 1"), "unknown key 'bogus'"),
        (("bounds = [0.3, 0.99]", "bounds = [0.9, 0.99]"), "strictly inside bounds"),
        (('duty = "compressor.duty"', 'duty = "duty"'), "must be 'slave.variable'"),
        (('twin = "psa.sensor_p_feed"', 'twn = "psa.sensor_p_feed"'), "unknown key 'twn'"),
        (("[calibration]", '[calibration]\nname = "../x"'), "must be a plain name"),
        (("[[parameters]]", "[[features]]\nkind = 'cycle_max'\nsignal = 'p_feed'\n[[parameters]]"), "[cycles] column"),
        (("[[parameters]]", "[[features]]\nkind = 'peak'\nsignal = 'p_feed'\n[[parameters]]"), "kind must be one of"),
    ],
)
def test_mistakes_are_one_error_naming_the_key(folder, change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(CalibrationError, match=message.replace("[", r"\[").replace("(", r"\(")) as err:
        load_calibration(write(folder, GOOD.replace(old, new, 1)))
    assert str(folder / "cal.toml") in str(err.value) or "does not exist" in str(err.value)


def test_a_link_out_of_the_folder_is_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.csv"
    outside.write_text("time,x\n0,1\n")
    (folder / "link.csv").symlink_to(outside)
    with pytest.raises(CalibrationError, match="leads out of"):
        load_calibration(write(folder, GOOD.replace('trace = "trace.csv"', 'trace = "link.csv"')))


def test_not_toml_is_one_error(folder):
    with pytest.raises(CalibrationError, match="not valid TOML"):
        load_calibration(write(folder, "[calibration\n"))
