"""SSP 1.0: fmpy reads and runs our export, import(export(x)) == x, bad archives give clear errors."""

from __future__ import annotations

import dataclasses
import math
import tomllib
import zipfile

import numpy as np
import pytest
from fmpy.ssp.simulation import simulate_ssp
from fmpy.ssp.ssd import Parameter, ParameterSet, read_ssd, read_ssv

from orchestrator.cli.main import main
from orchestrator.cosim.master.recorder import MemoryRecorder
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.build import build_simulation
from orchestrator.scenario.exchange import export_ssp, import_ssp
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.parse import parse_scenario
from tests.support.blocks import ALLOW


def _fmu_only(lag_fmu, step=0.1, stop=2.0):
    return f"""
[scenario]
name = "ring"
description = "two lags in a ring"
stop_time = {stop}
[master]
algorithm = "jacobi"
step = {step}
[slaves.a]
fmu = "{lag_fmu}"
[slaves.a.parameters]
x0 = 1.0
T = 0.5
[slaves.b]
fmu = "{lag_fmu}"
[slaves.b.parameters]
k = 0.8
[[connections]]
from = "a.y"
to = "b.u"
[[connections]]
from = "b.y"
to = "a.u"
"""


def _mixed(lag_fmu):
    """FMUs a, b and a Python block: src -> a (gain/offset) -> b (gain), events, outputs, plots, metrics."""
    return f"""
[scenario]
name = "mixed"
stop_time = 2.0
[master]
algorithm = "jacobi"
step = 0.1
[slaves.a]
fmu = "{lag_fmu}"
[slaves.a.parameters]
x0 = 1.0
T = 0.5
[slaves.src]
block = "tests.support.blocks:Source"
sample_time = 0.2
[slaves.src.parameters]
level = 3.0
[slaves.b]
fmu = "{lag_fmu}"
[slaves.b.parameters]
k = 0.8
[[connections]]
from = "src.value"
to = "a.u"
gain = 0.5
offset = 1.0
[[connections]]
from = "a.y"
to = "b.u"
gain = 2.0
[[events]]
time = 1.0
override = {{ "b.u" = 0.0 }}
[[events]]
time = 1.5
release = ["b.u"]
[outputs]
record = ["b.y"]
interval = 0.2
[[plots]]
title = "ring"
signals = ["a.y", "b.y"]
[metrics]
summary = "tests.support.blocks:final_values"
"""


def _spec(text, tmp_path, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return load_scenario(path)


def test_fmpy_reads_our_export(lag_fmu, tmp_path):
    spec = _spec(_mixed(lag_fmu), tmp_path)
    ssp = export_ssp(spec, tmp_path / "mixed.ssp")
    ssd = read_ssd(str(ssp))  # validates SystemStructure.ssd against the SSP 1.0 schema
    comps = {c.name: c for c in ssd.system.elements}
    assert set(comps) == {"a", "b"}  # the Python block is not an SSP component
    assert comps["a"].source == "resources/Lag.fmu" == comps["b"].source
    assert {(c.name, c.kind) for c in comps["b"].connectors} == {("u", "input"), ("y", "output")}
    assert {(c.name, c.kind) for c in comps["a"].connectors} == {("y", "output")}  # a.u is driven by the block
    [conn] = ssd.system.connections
    assert (conn.startElement, conn.startConnector, conn.endElement, conn.endConnector) == ("a", "y", "b", "u")
    assert [u.name for u in ssd.units] == ["K"] and ssd.units[0].K == 1
    [binding] = comps["a"].parameterBindings
    values = {p.name: (p.type, float(p.value)) for p in binding.parameterValues[0].parameters}
    assert values == {"x0": ("Real", 1.0), "T": ("Real", 0.5)}
    assert read_ssv(str(ssp), resource="resources/b.ssv").parameters[0].name == "k"
    with zipfile.ZipFile(ssp) as z:
        ssd_text = z.read("SystemStructure.ssd").decode()
    assert 'factor="2.0"' in ssd_text and "<ssc:LinearTransformation" in ssd_text
    assert 'unit="K"' in ssd_text and "org.o2twin.scenario" in ssd_text


def test_fmpy_simulates_an_fmu_only_export_like_our_master(lag_fmu, tmp_path):
    spec = _spec(_fmu_only(lag_fmu), tmp_path)
    ssp = export_ssp(spec, tmp_path / "ring.ssp")
    # fmpy's runner ignores component parameter bindings; hand it our bound values as a global parameter set
    params = ParameterSet(
        parameters=[
            Parameter(name=f"{s}.{k}", type="Real", value=v)
            for s, body in spec.slaves.items()
            for k, v in body.parameters.items()
        ]
    )
    fmpy_result = simulate_ssp(str(ssp), stop_time=2.0, step_size=0.1, parameter_set=params)
    # fmpy: Jacobi, all connector values start at 0, each step: step everyone, then copy outputs to inputs
    h, a_y, b_y, a_u, b_u = 0.1, 1.0, 0.0, 0.0, 0.0
    expected = []
    for _ in range(20):
        a_y, b_y = a_u + (a_y - a_u) * math.exp(-h / 0.5), 0.8 * b_u + (b_y - 0.8 * b_u) * math.exp(-h / 1.0)
        a_u, b_u = b_y, a_y
        expected.append((a_y, b_y))
    np.testing.assert_allclose(fmpy_result["a.y"], [e[0] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(fmpy_result["b.y"], [e[1] for e in expected], rtol=1e-12)
    # our master on the imported system: the same Jacobi scheme, but from consistent initial inputs
    # (b.u = a.y(0) = 1) where fmpy starts every connector at 0
    a_y, b_y, a_u, b_u = 1.0, 0.0, 0.0, 1.0
    ours_expected = [(a_y, b_y)]
    for _ in range(20):
        a_y, b_y = a_u + (a_y - a_u) * math.exp(-h / 0.5), 0.8 * b_u + (b_y - 0.8 * b_u) * math.exp(-h / 1.0)
        a_u, b_u = b_y, a_y
        ours_expected.append((a_y, b_y))
    rec = MemoryRecorder()
    sim = build_simulation(import_ssp(ssp, fmu_dir=tmp_path / "fmus"), [rec])
    sim.run()
    np.testing.assert_allclose(rec.column("a.y"), [e[0] for e in ours_expected], rtol=1e-12)
    np.testing.assert_allclose(rec.column("b.y"), [e[1] for e in ours_expected], rtol=1e-12)


def test_round_trip_import_export(lag_fmu, tmp_path):
    spec = _spec(_mixed(lag_fmu), tmp_path)
    back = import_ssp(export_ssp(spec, tmp_path / "m.ssp"), fmu_dir=tmp_path / "x")
    assert back.source.endswith("m.ssp")
    assert dataclasses.replace(back, source=spec.source) == spec
    assert list(back.slaves) == list(spec.slaves)


def test_round_trip_keeps_modelica_class_references(lag_fmu, tmp_path):
    spec = _spec(_fmu_only(lag_fmu), tmp_path)
    spec.slaves["a"].fmu = "O2Twin.Test.Lag"  # exported on demand in a run; the archive carries the FMU
    ssp = export_ssp(spec, tmp_path / "c.ssp", fmu_paths={"a": lag_fmu})
    back = import_ssp(ssp, fmu_dir=tmp_path / "y")
    assert back.slaves["a"].fmu == "O2Twin.Test.Lag" and back.slaves["b"].fmu == str(lag_fmu)


def test_foreign_ssp_without_annotation_imports_fmus(lag_fmu, tmp_path):
    """An SSP from another tool: no o2twin annotation, extracted FMUs, direction from causality not order."""
    spec = _spec(_fmu_only(lag_fmu), tmp_path)
    ssp = export_ssp(spec, tmp_path / "r.ssp")
    foreign = tmp_path / "foreign.ssp"
    with zipfile.ZipFile(ssp) as src, zipfile.ZipFile(foreign, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "SystemStructure.ssd":
                text = data.decode()
                start = text.index("<ssd:Annotations>")
                text = text[:start] + text[text.index("</ssd:Annotations>") + len("</ssd:Annotations>") :]
                # written end -> start: SSP does not tie direction to attribute order
                text = text.replace('startElement="b" startConnector="y" endElement="a" endConnector="u"',
                                    'startElement="a" startConnector="u" endElement="b" endConnector="y"')  # fmt: skip
                data = text.encode()
            dst.writestr(item, data)
    back = import_ssp(foreign)
    assert back.name == "ring" and back.stop_time == 2.0 and back.master.step == 0.1  # step: the default
    assert {c.source + ">" + c.target for c in back.connections} == {"a.y>b.u", "b.y>a.u"}
    assert back.slaves["a"].parameters == {"x0": 1.0, "T": 0.5}
    extracted = tmp_path / "foreign_fmus" / "Lag.fmu"
    assert back.slaves["a"].fmu == str(extracted.resolve()) and extracted.is_file()


def test_cli_export_import_run(lag_fmu, tmp_path, capsys):
    scenario = tmp_path / "mixed.toml"
    scenario.write_text(_mixed(lag_fmu))
    ssp, toml_out = tmp_path / "out" / "m.ssp", tmp_path / "out" / "m.toml"
    assert main(["ssp", "export", str(scenario), str(ssp)]) == 0
    assert main(["ssp", "export", str(scenario), str(ssp)]) == 2
    assert "m.ssp exists; choose another name or add --force" in capsys.readouterr().err
    assert main(["ssp", "import", str(ssp), str(toml_out)]) == 0
    raw = tomllib.loads(toml_out.read_text())
    assert raw["slaves"]["src"]["block"] == "tests.support.blocks:Source"
    spec = parse_scenario(raw, str(toml_out))
    assert spec.events[0].action == "override"
    assert main(["-q", "run", *ALLOW, str(toml_out), "--out", str(tmp_path / "res"), "--no-plots"]) == 0
    assert (
        main(["-q", "run", *ALLOW, str(ssp), "--out", str(tmp_path / "res_ssp"), "--no-plots"]) == 0
    )  # an .ssp runs as is
    assert "ERROR" not in capsys.readouterr().err
    a = (tmp_path / "res" / "signals.csv").read_bytes()
    assert a == (tmp_path / "res_ssp" / "signals.csv").read_bytes()


def test_export_refuses_block_only_systems(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[scenario]\nstop_time = 1.0\n[slaves.src]\nblock = "tests.support.blocks:Source"\n')
    with pytest.raises(SystemDefinitionError, match="needs at least one FMU slave"):
        export_ssp(load_scenario(path), tmp_path / "b.ssp")


def _ssp_with(tmp_path, ssd: str, extra: dict[str, bytes] | None = None):
    path = tmp_path / "bad.ssp"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("SystemStructure.ssd", ssd)
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return path


_HEAD = (
    '<ssd:SystemStructureDescription xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
    'xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" version="1.0" name="x">'
)


@pytest.mark.parametrize(
    ("ssd", "message"),
    [
        ("not xml <", "SystemStructure.ssd is not XML"),
        (_HEAD + "<ssd:Nonsense/></ssd:SystemStructureDescription>", "not valid SSP 1.0"),
        (
            _HEAD + '<ssd:System name="s"><ssd:Elements><ssd:SignalDictionaryReference name="d" dictionary="x"/>'
            "</ssd:Elements></ssd:System></ssd:SystemStructureDescription>",
            "signal dictionaries are not supported",
        ),
        (
            _HEAD + '<ssd:System name="s"><ssd:Elements><ssd:Component name="a" source="resources/none.fmu"/>'
            "</ssd:Elements></ssd:System></ssd:SystemStructureDescription>",
            "component 'a': source 'resources/none.fmu' is not an .fmu file in the archive",
        ),
        (  # issue 10: a source of "." was a traceback
            _HEAD + '<ssd:System name="s"><ssd:Elements><ssd:Component name="a" source="."/>'
            "</ssd:Elements></ssd:System></ssd:SystemStructureDescription>",
            "component 'a': source '.' is not an .fmu file in the archive",
        ),
        (
            _HEAD + '<ssd:System name="s"><ssd:Elements><ssd:Component name="a-1" source="r.fmu"/>'
            "</ssd:Elements></ssd:System></ssd:SystemStructureDescription>",
            "component 'a-1': the name must be",
        ),
        (
            _HEAD + '<ssd:System name="s"><ssd:Elements><ssd:Component name="a" type="application/x-ssp-package" '
            'source="r.ssp"/></ssd:Elements></ssd:System></ssd:SystemStructureDescription>',
            "type 'application/x-ssp-package' is not supported",
        ),
    ],
)
def test_bad_archives_give_clear_errors(tmp_path, ssd, message):
    with pytest.raises(SystemDefinitionError, match=message.replace("(", r"\(")):
        import_ssp(_ssp_with(tmp_path, ssd))


def test_not_a_zip_and_an_unbound_system_input(tmp_path, lag_fmu):
    junk = tmp_path / "junk.ssp"
    junk.write_text("hello")
    with pytest.raises(SystemDefinitionError, match="not an SSP archive"):
        import_ssp(junk)
    assert main(["run", str(junk)]) == 2
    ssd = (
        _HEAD + '<ssd:System name="s"><ssd:Connectors><ssd:Connector name="in" kind="input"/></ssd:Connectors>'
        '<ssd:Elements><ssd:Component name="a" source="resources/Lag.fmu"/></ssd:Elements>'
        '<ssd:Connections><ssd:Connection startConnector="in" endElement="a" endConnector="u"/></ssd:Connections>'
        '</ssd:System><ssd:DefaultExperiment stopTime="1"/></ssd:SystemStructureDescription>'
    )
    path = _ssp_with(tmp_path, ssd, {"resources/Lag.fmu": lag_fmu.read_bytes()})
    spec = import_ssp(path, check_step=False)  # an unbound system input: a.u keeps its start value
    assert spec.connections == [] and spec.slaves["a"].parameters == {}
