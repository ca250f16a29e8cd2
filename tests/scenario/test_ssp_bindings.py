"""SSP 1.0 parameter bindings on every level: system .ssv bindings, hierarchical names, prefixes, precedence,
parameter mappings (.ssm) with linear, Boolean, Integer and enumeration transformations, unit conversion, and a
warning for what cannot be applied. The archives are built here (tests/support/ssp_cases.py)."""

from __future__ import annotations

import logging

import pytest

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.ssp.read import read_ssp
from tests.support.ssp_cases import (
    bindings,
    component,
    connection,
    connector,
    describe_only_fmu,
    inline,
    param,
    real,
    ssd,
    ssm,
    ssv,
    system,
    write_ssp,
)

FMU = "resources/D.fmu"


def _read(tmp_path, system_xml: str, files: dict | None = None, units: str = "") -> dict:
    archive = write_ssp(
        tmp_path / "case.ssp", ssd(system_xml, units=units), {FMU: describe_only_fmu(), **(files or {})}
    )
    return read_ssp(archive, tmp_path / "fmus")


def _params(raw: dict, slave: str) -> dict:
    return raw["slaves"][slave].get("parameters", {})


def test_toplevel_parameter_connector_bound_by_a_system_ssv(tmp_path):
    """The issue's case: a root connector k1 of kind parameter, bound to -200 by the system's .ssv and connected
    to a component parameter, reaches it (it was dropped without a word)."""
    sys_xml = system(
        "root",
        component("a", FMU, connectors=connector("k", "parameter")),
        connection(".k1", "a.k"),
        connectors=connector("k1", "parameter"),
        inner=bindings('<ssd:ParameterBinding source="resources/top.ssv"/>'),
    )
    raw = _read(tmp_path, sys_xml, {"resources/top.ssv": ssv(real("k1", -200.0))})
    assert _params(raw, "a") == {"k": -200.0}
    assert raw["connections"] == []  # a parameter value, not a signal


def test_system_binding_with_hierarchical_names_prefix_and_precedence(tmp_path):
    """Names relative to the system ("a.T"), a prefix for bare names, later bindings over earlier ones, and a
    system's binding over the component's own."""
    sys_xml = system(
        "root",
        component("a", FMU, bindings(inline(real("T", 2.0) + real("k", 3.0))))
        + component("b", FMU, bindings(inline(real("x0", 1.0)))),
        inner=bindings(
            inline(real("a.T", 0.5) + real("b.x0", 7.0)),
            inline(real("x0", 8.0) + real("k", 4.0), prefix="b."),  # later on the same level: wins
        ),
    )
    raw = _read(tmp_path, sys_xml)
    assert _params(raw, "a") == {"T": 0.5, "k": 3.0}
    assert _params(raw, "b") == {"x0": 8.0, "k": 4.0}


def test_parameter_mapping_file_with_linear_transformation_and_units(tmp_path):
    """An .ssm renames and transforms (target = factor * converted source + offset); a value in ms reaches T in s
    converted; suppressUnitConversion leaves it as written; unmapped names pass unchanged."""
    mapping = ssm(
        '<ssm:MappingEntry source="gain" target="k"><ssc:LinearTransformation factor="2" offset="1"/></ssm:MappingEntry>'
        '<ssm:MappingEntry source="tau" target="T"/>'
        '<ssm:MappingEntry source="raw_tau" target="x0" suppressUnitConversion="true"/>'
    )
    binding = (
        '<ssd:ParameterBinding source="resources/p.ssv"><ssd:ParameterMapping source="resources/p.ssm"/>'
        "</ssd:ParameterBinding>"
    )
    values = ssv(real("gain", 1.5) + real("tau", 250.0, "ms") + real("raw_tau", 5.0, "ms") + real("sub.gain", 9.0))
    raw = _read(tmp_path, system("root", component("a", FMU, bindings(binding))),
                {"resources/p.ssv": values, "resources/p.ssm": mapping})  # fmt: skip
    assert _params(raw, "a") == {"k": 4.0, "T": pytest.approx(0.25), "x0": 5.0, "sub.gain": 9.0}


def test_enumeration_boolean_and_integer_values_and_mappings(tmp_path):
    mapping = (
        '<ssm:MappingEntry source="speed" target="mode"><ssc:EnumerationMappingTransformation>'
        '<ssc:MapEntry source="low" target="slow"/><ssc:MapEntry source="high" target="fast"/>'
        "</ssc:EnumerationMappingTransformation></ssm:MappingEntry>"
        '<ssm:MappingEntry source="enabled" target="on"><ssc:BooleanMappingTransformation>'
        '<ssc:MapEntry source="true" target="false"/><ssc:MapEntry source="false" target="true"/>'
        "</ssc:BooleanMappingTransformation></ssm:MappingEntry>"
        '<ssm:MappingEntry source="count" target="n"><ssc:IntegerMappingTransformation>'
        '<ssc:MapEntry source="1" target="10"/></ssc:IntegerMappingTransformation></ssm:MappingEntry>'
    )
    values = (
        param("speed", "Enumeration", "high") + param("enabled", "Boolean", "true") + param("count", "Integer", "1")
        + param("label", "String", "hello")
    )  # fmt: skip
    raw = _read(tmp_path, system("root", component("a", FMU, bindings(inline(values, mapping=mapping)))))
    assert _params(raw, "a") == {"mode": 3, "on": False, "n": 10, "label": "hello"}
    plain = _read(tmp_path, system("root", component("a", FMU, bindings(inline(param("mode", "Enumeration", "slow"))))))
    assert _params(plain, "a") == {"mode": 2}


def test_an_enumeration_item_the_variable_lacks_is_an_error(tmp_path):
    with pytest.raises(SystemDefinitionError, match=r"'medium' is not an item of the enumeration.*off, slow, fast"):
        _read(tmp_path, system("root", component("a", FMU, bindings(inline(param("mode", "Enumeration", "medium"))))))


def test_what_cannot_be_applied_is_warned_about(tmp_path, caplog):
    """SSP ignores names that match nothing; O2 Twin says so, and the same for values it cannot set."""
    values = real("nope", 1.0) + real("z", 2.0) + real("k", 5.0)
    binary = '<ssv:Parameter name="blob"><ssv:Binary value="00ff"/></ssv:Parameter>'
    sys_xml = system(
        "root",
        component(
            "a", FMU, bindings(inline(values + binary), '<ssd:ParameterBinding type="text/csv" source="x.csv"/>')
        ),
        inner=bindings(inline(real("ghost.k", 1.0))),
    )
    with caplog.at_level(logging.WARNING):
        raw = _read(tmp_path, sys_xml)
    assert _params(raw, "a") == {"k": 5.0}
    text = caplog.text
    assert "no variable or connector named a.nope" in text and "ghost.k" in text
    assert "a.z (causality output) cannot be set before initialisation" in text
    assert "parameter 'blob' of type Binary is not supported" in text
    assert "parameter binding of type 'text/csv' is not supported" in text


def test_bound_system_input_connector_feeds_a_component_input_as_its_start(tmp_path):
    """All kinds of system connectors can be parameterised: a bound root input that nothing drives gives the
    connected input its value, converted by the connection (degC on the connector, K on the input)."""
    sys_xml = system(
        "root",
        component("a", FMU),
        connection(".T_amb", "a.u"),
        connectors=connector("T_amb", "input", "degC"),
        inner=bindings(inline(real("T_amb", 20.0))),
    )
    raw = _read(tmp_path, sys_xml)
    assert _params(raw, "a") == {"u": pytest.approx(293.15)}


def test_parameter_sources_outside_the_archive_are_refused_or_skipped(tmp_path, caplog):
    with pytest.raises(SystemDefinitionError, match=r"'../etc/x.ssv' is not in the archive"):
        _read(tmp_path, system("root", component("a", FMU, bindings('<ssd:ParameterBinding source="../etc/x.ssv"/>'))))
    with caplog.at_level(logging.WARNING):
        raw = _read(tmp_path, system("root", component("a", FMU, bindings(
            '<ssd:ParameterBinding source="https://example.org/p.ssv"/>'))))  # fmt: skip
    assert "is not a file in the archive; it is not applied" in caplog.text and _params(raw, "a") == {}


def test_parameter_source_inside_the_component(tmp_path):
    """sourceBase="component": the .ssv is read from inside the component's FMU."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        with zipfile.ZipFile(io.BytesIO(describe_only_fmu())) as src:
            z.writestr("modelDescription.xml", src.read("modelDescription.xml"))
        z.writestr("resources/defaults.ssv", ssv(real("k", 0.75)))
    archive = write_ssp(tmp_path / "c.ssp", ssd(system("root", component("a", FMU, bindings(
        '<ssd:ParameterBinding source="resources/defaults.ssv" sourceBase="component"/>')))),
        {FMU: buffer.getvalue()})  # fmt: skip
    assert _params(read_ssp(archive, tmp_path / "f"), "a") == {"k": 0.75}


def test_a_parameter_source_in_the_component_that_unpacks_beyond_the_limit_is_refused(tmp_path):
    """A parameter file is read into memory: a deflated member of zeros (1000:1) inside a component's FMU was read
    whole, beyond the archive's limits (the members of an FMU inside the archive are not counted there)."""
    import io
    import zipfile

    unpacked_mib = 65  # about 65 KiB deflated in the FMU; above the 64 MiB a parameter file may hold
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        with zipfile.ZipFile(io.BytesIO(describe_only_fmu())) as src:
            z.writestr("modelDescription.xml", src.read("modelDescription.xml"))
        with z.open("resources/defaults.ssv", "w") as member:
            for _ in range(unpacked_mib):
                member.write(bytes(1 << 20))
    assert len(bomb.getvalue()) < (unpacked_mib << 20) // 500
    archive = write_ssp(tmp_path / "c.ssp", ssd(system("root", component("a", FMU, bindings(
        '<ssd:ParameterBinding source="resources/defaults.ssv" sourceBase="component"/>')))),
        {FMU: bomb.getvalue()})  # fmt: skip
    with pytest.raises(
        SystemDefinitionError, match=r"defaults.ssv' unpacks to 65 MiB, more than a parameter file may hold \(64 MiB\)"
    ):
        read_ssp(archive, tmp_path / "f")


def test_an_fmu_in_the_archive_is_held_to_the_archive_limits(tmp_path):
    """The FMUs inside an SSP archive are archives too: their members were not counted before fmpy read them."""
    import io
    import zipfile

    from orchestrator.cosim.slaves.archive import MAX_ARCHIVE_FILES

    fmu = io.BytesIO()
    with zipfile.ZipFile(fmu, "w") as z:
        with zipfile.ZipFile(io.BytesIO(describe_only_fmu())) as src:
            z.writestr("modelDescription.xml", src.read("modelDescription.xml"))
        for i in range(MAX_ARCHIVE_FILES):
            z.writestr(f"resources/{i}", b"")
    archive = write_ssp(tmp_path / "c.ssp", ssd(system("root", component("a", FMU))), {FMU: fmu.getvalue()})
    with pytest.raises(SystemDefinitionError, match=r"FMU 'D.fmu': 10001 files .* more than an archive may hold"):
        read_ssp(archive, tmp_path / "f")
