"""Every user error of the exporter is one ModelError/BuildError naming the file, line and construct and the fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from orchestrator.cli.main import main
from orchestrator.errors import BuildError, ModelError
from orchestrator.export.api import export_model, resolve_backend
from orchestrator.export.causalise import causalise
from orchestrator.export.frontend import flatten_model
from tests.support.export_cases import TEST_MODELS_DIR

GOOD = """model Good
  parameter Real k = 1;
  Real x(start = 1, fixed = true);
equation
  der(x) = -k * x;
end Good;
"""


def _compile(tmp_path: Path, text: str, name: str = "Bad", filename: str = "Bad.mo"):
    (tmp_path / filename).write_text(text)
    return causalise(flatten_model(tmp_path, name))


def _error(tmp_path: Path, text: str, name: str = "Bad", filename: str = "Bad.mo") -> str:
    with pytest.raises(ModelError) as info:
        _compile(tmp_path, text, name, filename)
    return str(info.value)


def test_syntax_error_names_file_line_and_column(tmp_path):
    text = "model Bad\n  Real x(start = 1);\nequation\n  der(x) = -x +;\nend Bad;\n"
    message = _error(tmp_path, text)
    assert re.search(r"Bad\.mo:4:\d+: Modelica syntax error", message), message
    assert "der(x) = -x +;" in message


def test_unknown_model_lists_the_models_found(tmp_path):
    (tmp_path / "Good.mo").write_text(GOOD)
    with pytest.raises(ModelError, match=r"unknown model 'Nope\.Model'.*Models found: Good"):
        flatten_model(tmp_path, "Nope.Model")


def test_package_is_not_a_model():
    with pytest.raises(ModelError, match=r"CoupledOscillators is a package, not a model.*Mass1"):
        flatten_model(TEST_MODELS_DIR, "CoupledOscillators")


def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        flatten_model(tmp_path / "absent", "Good")


@pytest.mark.parametrize(
    ("body", "construct", "line"),
    [
        ("  when x < 0.5 then\n    y = 1;\n  end when;\n  der(x) = -x;", "when-equation", 6),
        ("  y = pre(x);\n  der(x) = -x;", "pre()", 6),
        ("  y = if initial() then 1 else 2;\n  der(x) = -x;", "initial()", 6),
        ("  y = delay(x, 0.1);\n  der(x) = -x;", "delay()", 6),
    ],
)
def test_event_constructs_are_rejected_with_location(tmp_path, body, construct, line):
    text = f"model Bad\n  Real x(start = 1, fixed = true);\n  Real y;\n  // when pre( in a comment must not be reported\nequation\n{body}\nend Bad;\n"
    message = _error(tmp_path, text)
    assert f"Bad.mo:{line}:" in message, message
    assert construct in message and "not supported" in message


def test_algorithm_section_is_rejected(tmp_path):
    text = "model Bad\n  Real x(start = 1, fixed = true);\n  Real y;\nequation\n  der(x) = -x;\nalgorithm\n  y := 2 * x;\nend Bad;\n"
    message = _error(tmp_path, text)
    assert "Bad.mo:6:" in message and "algorithm section" in message and "functions" in message


def test_discrete_and_integer_variables_are_rejected(tmp_path):
    text = "model Bad\n  Real x(start = 1, fixed = true);\n  discrete Real d;\nequation\n  der(x) = -x;\n  d = 1;\nend Bad;\n"
    assert "discrete variable 'd'" in _error(tmp_path, text)
    text = "model Bad\n  Real x(start = 1, fixed = true);\n  Integer i;\nequation\n  der(x) = -x;\n  i = 1;\nend Bad;\n"
    message = _error(tmp_path, text)
    assert "Integer variable 'i'" in message and "Bad.mo:3:" in message


@pytest.mark.parametrize(
    ("extra", "counts"),
    [
        ("  Real y;\n", "1 equations for 2 unknowns (1 states, 1 algebraic variables)"),
        ("", "2 equations for 1 unknowns (1 states, 0 algebraic variables)"),
    ],
)
def test_unbalanced_model_reports_counts(tmp_path, extra, counts):
    eq = "" if extra else "  0 = x - 1;\n"
    text = f"model Bad\n  Real x(start = 1, fixed = true);\n{extra}equation\n  der(x) = -x;\n{eq}end Bad;\n"
    message = _error(tmp_path, text)
    assert "unbalanced" in message and counts in message and "Bad.mo" in message


def test_structurally_singular_model_names_the_variables(tmp_path):
    text = "model Bad\n  Real x(start = 1, fixed = true);\n  Real a;\n  Real b;\nequation\n  der(x) = -x;\n  x = 2 * x + 1;\n  a + b = 1;\nend Bad;\n"
    message = _error(tmp_path, text)
    assert "structurally singular" in message
    assert "1 of the unknowns a, b are not determined" in message
    assert "1 equations determine nothing new" in message


def test_unknown_function_is_named(tmp_path):
    text = "model Bad\n  Real x(start = 1, fixed = true);\nequation\n  der(x) = -myFunc(x);\nend Bad;\n"
    message = _error(tmp_path, text)
    assert "myFunc" in message and "Bad.mo:4:" in message


def test_parameter_without_value(tmp_path):
    text = (
        "model Bad\n  parameter Real k;\n  Real x(start = 1, fixed = true);\nequation\n  der(x) = -k * x;\nend Bad;\n"
    )
    assert "parameter 'k' has no value" in _error(tmp_path, text)


def test_overdetermined_initialisation(tmp_path):
    text = "model Bad\n  Real x(start = 1, fixed = true);\ninitial equation\n  x = 2;\nequation\n  der(x) = -x;\nend Bad;\n"
    message = _error(tmp_path, text)
    assert "over-determined" in message and "1 initial equations" in message


def test_partial_model_is_refused(tmp_path):
    text = "partial model Bad\n  Real x(start = 1, fixed = true);\nequation\n  der(x) = -x;\nend Bad;\n"
    assert "partial" in _error(tmp_path, text)


def test_package_functions_need_the_workaround():
    """Plain pymoca fails on a function declared in a package (CasADi rejects 'Functions.cubeSum'); ours works."""
    from pymoca import parser
    from pymoca.backends.casadi.generator import generate

    tree = parser.parse((TEST_MODELS_DIR / "Functions.mo").read_text())
    with pytest.raises(RuntimeError, match="Function name is not valid"):
        generate(tree, "Functions.Decay")
    model = causalise(flatten_model(TEST_MODELS_DIR, "Functions.Decay"))
    assert model.nx == 1


def test_openmodelica_backend_without_omc_is_a_clear_build_error(monkeypatch):
    if shutil.which("omc"):
        pytest.skip("omc is installed here: the missing-omc error cannot be provoked")
    with pytest.raises(BuildError, match=r"omc.*--backend builtin"):
        resolve_backend("openmodelica")
    assert resolve_backend("auto") == "builtin"
    with pytest.raises(BuildError, match="unknown exporter backend"):
        resolve_backend("dymola")


def test_cli_reports_one_message_and_nonzero_exit(tmp_path, capsys):
    (tmp_path / "Bad.mo").write_text("model Bad\n  Real x\nend Bad;\n")
    code = main(
        ["export", "Bad", "--models-dir", str(tmp_path), "--out-dir", str(tmp_path / "out"), "--backend", "builtin"]
    )
    assert code == ModelError.exit_code != 0
    err = capsys.readouterr().err
    assert "Bad.mo:3:" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.fmu"))


def test_cli_without_models_is_an_error(capsys):
    assert main(["export"]) != 0
    assert "nothing to export" in capsys.readouterr().err


def test_export_of_broken_model_writes_no_fmu(tmp_path):
    (tmp_path / "Bad.mo").write_text(
        "model Bad\n  Real x(start = 1, fixed = true);\nequation\n  der(x) = ;\nend Bad;\n"
    )
    out = tmp_path / "out"
    with pytest.raises(ModelError):
        export_model("Bad", models_dir=tmp_path, out_dir=out, backend="builtin")
    assert not list(out.glob("*.fmu")) and not list(out.glob(".build-*"))


def test_construct_is_located_in_the_file_the_model_uses(tmp_path):
    """A when-equation inherited from a base class in another file is reported there, not in an unrelated file."""
    (tmp_path / "AUnrelated.mo").write_text(
        "model AUnrelated\n  Real x(start = 1, fixed = true);\n  Real y;\nequation\n  der(x) = -x;\n  when x < 0.5 then\n"
        "    y = 1;\n  end when;\nend AUnrelated;\n"
    )
    (tmp_path / "Base.mo").write_text(
        "partial model Base\n  Real x(start = 1, fixed = true);\n  Real y;\nequation\n  der(x) = -x;\n\n\n"
        "  when x < 0.2 then\n    y = 2;\n  end when;\nend Base;\n"
    )
    (tmp_path / "Derived.mo").write_text("model Derived\n  extends Base;\nend Derived;\n")
    with pytest.raises(ModelError, match=r"Base\.mo:8: a when-equation in model Derived"):
        flatten_model(tmp_path, "Derived")
