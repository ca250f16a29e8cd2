"""Parameters bound at export (structural ones such as array sizes): `o2twin export Rod --param n=3` or
`export_model("Rod(n=3)")` lands in its own FMU, recorded in the manifest with its values; bad names and values are
one clear error; and a model above the documented size is refused before any work is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from fmpy import read_model_description, simulate_fmu

from orchestrator.cli.main import main
from orchestrator.errors import BuildError, ModelError
from orchestrator.export import export_model, fmu_path
from orchestrator.export.frontend import MAX_SCALAR_VARIABLES, flatten_model
from orchestrator.export.manifest import read_manifest
from orchestrator.export.variants import parse_variant
from tests.support.export_cases import TEST_MODELS_DIR


def _states(fmu: Path) -> list[str]:
    return [v.name for v in read_model_description(str(fmu)).modelVariables if v.name.startswith("der(")]


def test_a_structural_parameter_set_at_export_makes_its_own_fmu(tmp_path: Path) -> None:
    default = export_model("Rod", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="builtin")
    three = export_model("Rod", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="builtin", parameters={"n": 3})
    assert default.name == "Rod.fmu" and three.name == "Rod__n_3.fmu" == fmu_path("Rod", tmp_path, {"n": 3}).name
    assert len(_states(default)) == 8 and len(_states(three)) == 3
    md = read_model_description(str(three))
    assert md.coSimulation.modelIdentifier == "Rod__n_3" and "Rod(n=3)" in md.description
    entries = read_manifest(tmp_path)
    assert entries["Rod(n=3)"]["parameters"] == {"n": 3} and entries["Rod(n=3)"]["nx"] == 3
    assert entries["Rod(n=3)"]["model"] == "Rod" and "parameters" not in entries["Rod"]
    # the variant computes with its own value: with 3 cells the right end warms up faster than with 8
    runs = [
        simulate_fmu(str(f), stop_time=5.0, start_values={"T_left": 420.0}, output=["T_right"])
        for f in (three, default)
    ]
    assert runs[0]["T_right"][-1] > runs[1]["T_right"][-1] + 0.3
    # unchanged: the next export of the same variant is a manifest hit, not a rebuild
    before = three.stat().st_mtime_ns
    again = export_model("Rod(n=3)", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="builtin")
    assert again == three and three.stat().st_mtime_ns == before


def test_modifier_syntax_and_real_values(tmp_path: Path) -> None:
    fmu = export_model("Rod(n=4, alpha=0.02)", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="builtin")
    assert fmu.name == "Rod__alpha_0p02__n_4.fmu"
    md = read_model_description(str(fmu))
    alpha = next(v for v in md.modelVariables if v.name == "alpha")
    assert float(alpha.start) == 0.02 and len(_states(fmu)) == 4
    assert read_manifest(tmp_path)["Rod(alpha=0.02, n=4)"]["parameters"] == {"alpha": 0.02, "n": 4}


def test_cli_param_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["export", "Rod", "--models-dir", str(TEST_MODELS_DIR), "--out-dir", str(tmp_path), "--backend", "builtin"]
    assert main([*args, "--param", "n=5"]) == 0
    assert (tmp_path / "Rod__n_5.fmu").is_file() and "Rod__n_5.fmu" in capsys.readouterr().out
    assert main([*args, "--param", "n"]) == 2
    assert "--param 'n': write NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "parameters", "message"),
    [
        (
            "Rod",
            {"cells": 3},
            r"cells is not a parameter of Rod, so it cannot be set at export; its parameters: .*\bn\b",
        ),
        ("Rod", {"n": "three"}, r"export parameter n = 'three': give a number"),
        ("Rod(n=3", None, r"'Rod\(n=3' is not a Modelica class name"),
        ("Rod(n)", None, r"'n' in 'Rod\(n\)' is not NAME=VALUE"),
        ("Rod(n=3)", {"n": 4}, r"export parameter n is given twice"),
        ("Rod", {"n; import os": 3}, r"is not a parameter name"),
    ],
)
def test_bad_export_parameters_are_one_clear_error(tmp_path: Path, name, parameters, message) -> None:
    with pytest.raises(ModelError, match=message):
        export_model(name, models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="builtin", parameters=parameters)
    assert not list(tmp_path.glob("*.fmu"))


def test_variants_need_the_builtin_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import orchestrator.export.api as api

    monkeypatch.setattr(api, "resolve_backend", lambda backend: "openmodelica")
    with pytest.raises(BuildError, match="parameters set at export need the built-in exporter"):
        export_model("Rod", models_dir=TEST_MODELS_DIR, out_dir=tmp_path, backend="openmodelica", parameters={"n": 3})


def test_variant_names_are_canonical() -> None:
    a = parse_variant("Pkg.M(b=true, a=-1.5e-3)")
    assert a == parse_variant("Pkg.M", {"a": -0.0015, "b": True})
    assert a.key == "Pkg.M(a=-0.0015, b=true)" and a.identifier == "Pkg_M__a_m0p0015__b_true"
    assert parse_variant("Pkg.M").identifier == "Pkg_M" and parse_variant("Pkg.M").key == "Pkg.M"


def test_a_model_above_the_size_limit_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.export import frontend

    def expanded(*args: object) -> None:
        raise AssertionError("the model was expanded to equations before being refused")

    monkeypatch.setattr(frontend, "_generate", expanded)
    n = MAX_SCALAR_VARIABLES + 1
    (tmp_path / "Big.mo").write_text(
        f"model Big\n  Real x[{n}](each start = 1, each fixed = true);\nequation\n"
        f"  for i in 1:{n} loop\n    der(x[i]) = -x[i];\n  end for;\nend Big;\n"
    )
    with pytest.raises(ModelError, match=rf"model Big has {n} scalar variables; the built-in exporter takes up to"):
        flatten_model(tmp_path, "Big")
