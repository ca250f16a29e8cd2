"""The model-compiler half of the built-in exporter: pymoca front end, causalisation, modelDescription.xml.

No C here: the causalised model's own CasADi functions are integrated and compared with the independent reference
(IDAS on pymoca's implicit DAE), so a wrong BLT order, symbolic solve or initialisation system fails these tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fmpy.validation import validate_fmu

from orchestrator.export.causalise import causalise
from orchestrator.export.frontend import flatten_model
from orchestrator.export.model_description import model_description_xml
from orchestrator.export.reference import simulate_reference
from tests.support.export_cases import CASE_IDS, CASES, TEST_MODELS_DIR, assert_matches_reference, simulate_causal


@pytest.fixture(scope="module")
def compiled():
    """Every test model flattened and causalised once."""
    out = {}
    for case in CASES:
        flat = flatten_model(TEST_MODELS_DIR, case.name)
        out[case.name] = (flat, causalise(flat))
    return out


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_causalised_model_matches_reference(case, compiled):
    flat, model = compiled[case.name]
    times = np.linspace(0.0, case.stop_time, 26)
    ours = simulate_causal(model, times, case.inputs)
    ref = simulate_reference(flat=flat, times=times, inputs=lambda _t, c=case: c.inputs)
    assert assert_matches_reference(ours, ref) >= model.nx
    # the trajectory really moves (a constant trajectory would match trivially)
    states = [v.name for v in model.variables if v.kind == "state"]
    assert any(np.ptp(ref[s]) > 1e-6 * (np.max(np.abs(ref[s])) + 1e-12) for s in states)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_model_description_passes_fmpy_validation(case, compiled, tmp_path):
    _, model = compiled[case.name]
    xml = model_description_xml(model, "{00000000-0000-0000-0000-000000000001}", ["model.c", "o2_model.c"])
    (tmp_path / "modelDescription.xml").write_text(xml)
    assert validate_fmu(str(tmp_path)) == []
    root = ET.fromstring(xml)
    assert root.find("ModelExchange").get("modelIdentifier") == model.identifier
    assert root.find("CoSimulation").get("modelIdentifier") == model.identifier
    for element in ("ModelExchange", "CoSimulation"):
        caps = root.find(element).attrib
        assert caps["canGetAndSetFMUstate"] == caps["canSerializeFMUstate"] == "true"
        assert caps["providesDirectionalDerivative"] == "true"
    names = [sv.get("name") for sv in root.iter("ScalarVariable")]
    assert names == [v.name for v in model.variables]


def _structure(xml: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Outputs and InitialUnknowns as name -> dependency names."""
    root = ET.fromstring(xml)
    names = [sv.get("name") for sv in root.iter("ScalarVariable")]

    def read(section: str) -> dict[str, set[str]]:
        out = {}
        el = root.find(f"ModelStructure/{section}")
        for unknown in [] if el is None else el:
            deps = unknown.get("dependencies", "").split()
            out[names[int(unknown.get("index")) - 1]] = {names[int(d) - 1] for d in deps}
        return out

    return read("Outputs"), read("InitialUnknowns")


def test_direct_feedthrough_is_declared(compiled):
    """Mass2's force output depends directly on its inputs; Mass1's outputs do not (the master relies on this)."""
    _, mass1 = compiled["CoupledOscillators.Mass1"]
    _, mass2 = compiled["CoupledOscillators.Mass2"]
    out1, _ = _structure(model_description_xml(mass1, "{x}", ["model.c"]))
    out2, _ = _structure(model_description_xml(mass2, "{x}", ["model.c"]))
    assert out1 == {"x1": {"x1"}, "v1": {"v1"}}
    assert out2["F"] == {"x1", "v1", "x2", "v2"}
    assert out2["x2"] == {"x2"}


def test_dependencies_through_algebraic_loop(compiled):
    """`out` depends on x and u only through the nonlinear loop variables z: the structure must still say so."""
    _, model = compiled["AlgebraicLoop"]
    assert model.nz == 1  # torn: w is solved from the first loop equation, y is the iteration variable
    outputs, initial = _structure(model_description_xml(model, "{x}", ["model.c"]))
    assert outputs["out"] == {"x", "u"}
    # at initialisation x is fixed (a known), so out depends on x, u (and no parameter: k appears only in der(x))
    assert initial["out"] == {"x", "u"}
    assert initial["der(x)"] == {"x", "u", "k"}


def test_initial_unknowns_follow_initial_equations(compiled):
    """Volumes start from initial equations (port.p = p0): those states are initial unknowns depending on p0."""
    _, model = compiled["Hydraulics.Circuit"]
    _, initial = _structure(model_description_xml(model, "{x}", ["model.c"]))
    assert initial["v1.port.p"] == {"v1.p0"}
    assert initial["p_mid"] == {"v2.p0"}  # an output: initial unknown, through the state it equals
    assert "r1.a.q" not in initial  # a local calculated variable is no initial unknown
    by_name = {v.name: v for v in model.variables}
    assert by_name["v1.port.p"].initial == "approx"
    assert by_name["p_mid"].causality == "output"


def test_linear_blocks_are_solved_symbolically(compiled):
    """Only real nonlinear loops become Newton iteration variables; connection equations are solved in closed form."""
    expected = {c.name: (1 if c.name == "AlgebraicLoop" else 0) for c in CASES}
    assert {name: m.nz for name, (_, m) in compiled.items()} == expected


def test_tearing_reduces_a_cyclic_loop_to_one_iteration_variable(tmp_path):
    """z1 = f(z0), z2 = f(z1), ..., z0 = z5 in scrambled order: one tear variable, the rest solved explicitly."""
    chain = [
        "y1 = 0.5 * (y0 + sqrt(1 + y0 ^ 2));",
        "y2 = 1 + sin(y1) * 0.3;",
        "y3 = k * y2 ^ 1.5;",
        "y4 = y3 / 2 + x;",
        "y5 = y4 - 0.1 * exp(-y4);",
        "y0 = y5;",
    ]
    order = [3, 0, 5, 2, 4, 1]
    declarations = "".join(f"  Real y{i};\n" for i in range(6))
    equations = "".join(f"  {chain[i]}\n" for i in order)
    text = (
        "model Chain\n  parameter Real k = 0.8;\n  Real x(start = 0.5, fixed = true);\n"
        f"{declarations}equation\n  der(x) = -y0;\n{equations}end Chain;\n"
    )
    (tmp_path / "Chain.mo").write_text(text)
    flat = flatten_model(tmp_path, "Chain")
    model = causalise(flat)
    assert model.nz == 1
    times = np.linspace(0, 1, 11)
    ours = simulate_causal(model, times, {})
    ref = simulate_reference(flat=flat, times=times)
    assert_matches_reference(ours, ref, rtol=1e-6)


def test_variables_carry_units_descriptions_and_kinds(compiled):
    _, tank = compiled["Tank"]
    by_name = {v.name: v for v in tank.variables}
    assert by_name["h"].kind == "state" and by_name["h"].unit == "m" and by_name["h"].description == "level"
    assert by_name["h"].start == pytest.approx(0.1) and by_name["h"].min == 0
    assert by_name["q_in"].kind == "input" and by_name["q_in"].start == pytest.approx(0.02)
    assert by_name["A"].kind == "parameter" and by_name["A"].start == pytest.approx(0.5)
    assert by_name["der(h)"].kind == "derivative" and by_name["der(h)"].derivative_of == tank.variables.index(
        by_name["h"]
    )
    assert by_name["q_out"].causality == "output"
    assert tank.default_stop_time == 20 and tank.default_tolerance == 1e-8
    _, rod = compiled["Rod"]
    rod_vars = {v.name: v for v in rod.variables}
    assert rod_vars["n"].variability == "fixed"  # Integer parameter: structural
    assert rod_vars["dx"].kind == "calculated"  # dependent parameter computed from L and n
    assert [f"T[{i}]" for i in range(1, 9)] == [v.name for v in rod.variables if v.kind == "state"]


def test_dependent_parameter_follows_its_definition(compiled):
    """dx = L / n is recomputed from the parameter vector, so changing L changes the dynamics."""
    _, rod = compiled["Rod"]
    p = [v.start for v in rod.variables if v.kind == "parameter"]
    names = [v.name for v in rod.variables if v.kind == "parameter"]
    x = [300.0] * rod.nx
    base = np.array(rod.vars(0, x, [], [400.0], p)).ravel()
    p[names.index("L")] = 2.0
    longer = np.array(rod.vars(0, x, [], [400.0], p)).ravel()
    dx_vr = [v.name for v in rod.variables].index("dx")
    assert base[dx_vr] == pytest.approx(1 / 8) and longer[dx_vr] == pytest.approx(2 / 8)


def test_multi_file_package_with_constants(tmp_path):
    """A library split over folders (package.mo + one file per class, `within`), with package constants used by
    full name and by relative name: the layout of models/O2Twin."""
    lib = tmp_path / "Lib"
    (lib / "Sub").mkdir(parents=True)
    (lib / "Sub" / "M.mo").write_text(
        "within Lib.Sub;\nmodel M\n  Real x(start = 1, fixed = true);\n  output Real y;\nequation\n"
        "  der(x) = -Lib.k * x + kk;\n  y = Lib.v[2] * x;\nend M;\n"
    )
    (lib / "Sub" / "package.mo").write_text("within Lib;\npackage Sub\n  constant Real kk = 0.25;\nend Sub;\n")
    (lib / "package.mo").write_text("package Lib\n  constant Real k = 2;\n  constant Real v[2] = {1, -k};\nend Lib;\n")
    model = causalise(flatten_model(tmp_path, "Lib.Sub.M"))
    xdot, _ = model.dae(0, [3.0], [], [], [])
    assert float(xdot) == pytest.approx(-2 * 3 + 0.25)
    v = np.array(model.vars(0, [3.0], [], [], [])).ravel()
    assert v[[var.name for var in model.variables].index("y")] == pytest.approx(-2 * 3)
