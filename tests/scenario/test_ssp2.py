"""SSP 2.0 archives: validated against the SSP 2.0 schemas (from pyssp-standard, the interop extra), FMI 3.0 value
types in connectors and parameter sets (Float64, Int32, ...), array values as elements, and what is still refused
(connections of array elements, Scheduled Execution)."""

from __future__ import annotations

import logging

import pytest

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.exchange import import_ssp
from orchestrator.scenario.ssp.read import read_ssp
from tests.support.ssp_cases import (
    bindings,
    component,
    connection,
    connector,
    describe_only_fmu,
    ssd,
    ssv,
    system,
    write_ssp,
)

pytest.importorskip("pyssp_standard", reason="SSP 2.0 schemas come with pyssp-standard (the interop extra)")

FMU = "resources/D.fmu"


def _v2(text: str) -> str:
    return text.replace('version="1.0" name=', 'version="2.0" name=')


def _archive(tmp_path, system_xml: str, files: dict | None = None, name="v2.ssp"):
    return write_ssp(tmp_path / name, _v2(ssd(system_xml)), {FMU: describe_only_fmu(), **(files or {})})


def test_ssp2_types_and_bindings(tmp_path, caplog):
    values = _v2(ssv(
        '<ssv:Parameter name="k1"><ssv:Float64 value="-200"/></ssv:Parameter>'
        '<ssv:Parameter name="a.n"><ssv:Int32 value="7"/></ssv:Parameter>'
        '<ssv:Parameter name="a.T"><ssv:Float64 value="250" unit="ms"/></ssv:Parameter>'
        '<ssv:Parameter name="a.gains"><ssv:Float64 value="1 2"/></ssv:Parameter>'
    ))  # fmt: skip
    root = system(
        "root",
        component("a", FMU, connectors=connector("k", "parameter", type_="Float64"))
        + component(
            "b", FMU, connectors=connector("u", "input", "K", "Float64") + connector("y", "output", "K", "Float64")
        ),
        connection(".k1", "a.k") + connection("a.y", "b.u"),
        connectors=connector("k1", "parameter", type_="Float64"),
        inner=bindings('<ssd:ParameterBinding source="resources/p.ssv"/>'),
    )
    with caplog.at_level(logging.WARNING):
        raw = read_ssp(_archive(tmp_path, root, {"resources/p.ssv": values}), tmp_path / "f")
    assert raw["slaves"]["a"]["parameters"] == {"k": -200.0, "n": 7, "T": pytest.approx(0.25)}
    assert raw["connections"] == [{"from": "a.y", "to": "b.u"}]
    assert "no variable or connector named a.gains[1], a.gains[2]" in caplog.text  # array elements, by name


def test_ssp2_archive_runs(tmp_path, lag_fmu):
    lag = "resources/Lag.fmu"
    root = system(
        "ring", component("a", lag) + component("b", lag), connection("a.y", "b.u") + connection("b.y", "a.u")
    )
    path = write_ssp(tmp_path / "ring2.ssp", _v2(ssd(root)), {lag: lag_fmu.read_bytes()})
    spec = import_ssp(path, check_step=False)
    assert {(c.source, c.target) for c in spec.connections} == {("a.y", "b.u"), ("b.y", "a.u")}


@pytest.mark.parametrize(
    ("system_xml", "message"),
    [
        (
            system(
                "root",
                component("a", FMU) + component("b", FMU),
                '<ssd:Connection startElement="a" startConnector="y" endElement="b" endConnector="u" '
                'startIndices="1" endIndices="1"/>',
            ),
            "connections of array elements (startIndices/endIndices) are not supported",
        ),
        (
            system("root", '<ssd:Component name="a" source="resources/D.fmu" implementation="ScheduledExecution"/>'),
            "implementation ScheduledExecution is not supported",
        ),
        ("<ssd:System name='root'><ssd:Nonsense/></ssd:System>", "not valid SSP 2.0"),
    ],
)
def test_ssp2_refusals(tmp_path, system_xml, message):
    with pytest.raises(SystemDefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_ssp(_archive(tmp_path, system_xml), tmp_path / "f")
