"""Units in SSP: base units derived from Modelica unit strings, suppressUnitConversion on export, conversion on import."""

from __future__ import annotations

import zipfile

import pytest
from fmpy.ssp.ssd import read_ssd

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.exchange import export_ssp, import_ssp
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.ssp.units import conversion, parse_unit


@pytest.mark.parametrize(
    ("text", "exponents", "factor", "offset"),
    [
        ("kg.m/s2", {"kg": 1, "m": 1, "s": -2}, 1.0, 0.0),
        ("N", {"kg": 1, "m": 1, "s": -2}, 1.0, 0.0),
        ("J/(mol.K)", {"kg": 1, "m": 2, "s": -2, "mol": -1, "K": -1}, 1.0, 0.0),
        ("m3/s", {"m": 3, "s": -1}, 1.0, 0.0),
        ("L/min", {"m": 3, "s": -1}, 1e-3 / 60, 0.0),
        ("bar", {"kg": 1, "m": -1, "s": -2}, 1e5, 0.0),
        ("kPa", {"kg": 1, "m": -1, "s": -2}, 1e3, 0.0),
        ("mm", {"m": 1}, 1e-3, 0.0),
        ("degC", {"K": 1}, 1.0, 273.15),
        ("1", {}, 1.0, 0.0),
        ("1/s", {"s": -1}, 1.0, 0.0),
        ("rad/s", {"rad": 1, "s": -1}, 1.0, 0.0),
        ("W", {"kg": 1, "m": 2, "s": -3}, 1.0, 0.0),
    ],
)
def test_parse_unit(text, exponents, factor, offset):
    unit = parse_unit(text)
    assert unit.as_dict() == exponents
    assert unit.factor == pytest.approx(factor) and unit.offset == offset


@pytest.mark.parametrize("text", ["furlong", "kdegC", "degC2", "degC.m", "", None, "m//s"])
def test_unknown_units_are_none(text):
    assert parse_unit(text) is None


def test_conversion():
    assert conversion(parse_unit("bar"), parse_unit("Pa")) == (1e5, 0.0)
    assert conversion(parse_unit("K"), parse_unit("degC")) == (1.0, -273.15)
    gain, offset = conversion(parse_unit("L/min"), parse_unit("m3/s"))
    assert gain == pytest.approx(1 / 60000) and offset == 0.0
    assert conversion(parse_unit("m"), parse_unit("s")) is None


def _scenario(tmp_path, lag_fmu, lag_fmu_degc):
    path = tmp_path / "units.toml"
    path.write_text(f"""
[scenario]
name = "units"
stop_time = 1.0
[slaves.a]
fmu = "{lag_fmu}"
[slaves.c]
fmu = "{lag_fmu_degc}"
[[connections]]
from = "a.y"
to = "c.u"
offset = -273.15
""")
    return load_scenario(path)


def test_export_suppresses_unit_conversion_where_gain_offset_convert(tmp_path, lag_fmu, lag_fmu_degc):
    spec = _scenario(tmp_path, lag_fmu, lag_fmu_degc)
    ssp = export_ssp(spec, tmp_path / "u.ssp")
    with zipfile.ZipFile(ssp) as z:
        ssd = z.read("SystemStructure.ssd").decode()
    assert 'suppressUnitConversion="true"' in ssd
    units = {u.name: u for u in read_ssd(str(ssp)).units}
    assert units["degC"].K == 1 and units["degC"].offset == 273.15
    back = import_ssp(ssp, fmu_dir=tmp_path / "x")
    assert back.connections == spec.connections  # no second conversion on the way back


def _foreign(ssp, out, replace):
    with zipfile.ZipFile(ssp) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "SystemStructure.ssd":
                text = data.decode()
                start = text.index("<ssd:Annotations>")
                text = text[:start] + text[text.index("</ssd:Annotations>") + len("</ssd:Annotations>") :]
                for old, new in replace:
                    text = text.replace(old, new)
                data = text.encode()
            dst.writestr(item, data)
    return out


def test_import_converts_units_as_ssp_requires(tmp_path, lag_fmu, lag_fmu_degc):
    """Another tool's SSP: a K output connected to a degC input without transformation means convert (-273.15)."""
    spec = _scenario(tmp_path, lag_fmu, lag_fmu_degc)
    ssp = export_ssp(spec, tmp_path / "u.ssp")
    converted = _foreign(
        ssp,
        tmp_path / "f1.ssp",
        [(' suppressUnitConversion="true"', ""), ('<ssc:LinearTransformation factor="1.0" offset="-273.15"/>', "")],
    )
    [c] = import_ssp(converted).connections
    assert (c.gain, c.offset) == (1.0, pytest.approx(-273.15))
    # with a transformation on top: target = factor * converted + offset
    scaled = _foreign(
        ssp,
        tmp_path / "f2.ssp",
        [(' suppressUnitConversion="true"', ""), ('factor="1.0" offset="-273.15"', 'factor="2.0" offset="1.0"')],
    )
    [c] = import_ssp(scaled).connections
    assert (c.gain, c.offset) == (2.0, pytest.approx(2 * -273.15 + 1.0))


def test_import_refuses_incompatible_units(tmp_path, lag_fmu, lag_fmu_degc):
    spec = _scenario(tmp_path, lag_fmu, lag_fmu_degc)
    ssp = export_ssp(spec, tmp_path / "u.ssp")
    bad = _foreign(
        ssp,
        tmp_path / "bad.ssp",
        [(' suppressUnitConversion="true"', ""), ('<ssc:Real unit="degC"/>', '<ssc:Real unit="m"/>')],
    )
    with pytest.raises(SystemDefinitionError, match=r"connection #1 a.y -> c.u: cannot convert 'K' to 'm'"):
        import_ssp(bad)
