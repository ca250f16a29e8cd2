"""Manifest and dependency bookkeeping of export_model (no C compile): what counts as a change, atomic and
concurrent manifest writes."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from orchestrator.export import manifest
from orchestrator.export.dependencies import code_only, model_source_files
from orchestrator.export.frontend import modelica_files
from tests.support.export_cases import TEST_MODELS_DIR

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def _library(root: Path) -> Path:
    """A small multi-file library: two models sharing a connector and a package constant, one unrelated model."""
    lib = root / "Lib"
    for sub in ("Parts", "Units"):
        (lib / sub).mkdir(parents=True)
    (lib / "package.mo").write_text(
        'package Lib "mentions Unrelated in a string only"\n  constant Real g = 9.81;\nend Lib;\n'
    )
    (lib / "Parts" / "package.mo").write_text("within Lib;\npackage Parts\nend Parts;\n")
    (lib / "Parts" / "Port.mo").write_text("within Lib.Parts;\nconnector Port\n  Real p;\n  flow Real q;\nend Port;\n")
    (lib / "Parts" / "Unrelated.mo").write_text("within Lib.Parts;\nmodel Unrelated\n  Real z = 1;\nend Unrelated;\n")
    (lib / "Units" / "package.mo").write_text("within Lib;\npackage Units\nend Units;\n")
    (lib / "Units" / "A.mo").write_text(
        "within Lib.Units;\nmodel A // Unrelated in a comment\n  Lib.Parts.Port port;\n  Real x(start = 1, fixed = true);\n"
        "equation\n  der(x) = -Lib.g * x;\n  port.p = x;\nend A;\n"
    )
    return root


def test_dependencies_follow_references_not_comments(tmp_path):
    models = _library(tmp_path)
    files = modelica_files(models)
    used = {str(f.relative_to(models)) for f in model_source_files(files, models, "Lib.Units.A")}
    assert used == {
        "Lib/package.mo",
        "Lib/Parts/package.mo",
        "Lib/Parts/Port.mo",
        "Lib/Units/package.mo",
        "Lib/Units/A.mo",
    }
    assert "Lib/Parts/Unrelated.mo" not in used


def test_unknown_model_depends_on_every_file(tmp_path):
    models = _library(tmp_path)
    files = modelica_files(models)
    assert model_source_files(files, models, "Lib.Nope") == files


def test_repository_units_do_not_depend_on_each_other():
    files = modelica_files(REPO_MODELS)
    patient = {f.name for f in model_source_files(files, REPO_MODELS, "O2Twin.CoSim.Patient")}
    assert "SieveBed.mo" not in patient and "PSAUnit.mo" not in patient
    psa = {str(f.relative_to(REPO_MODELS)) for f in model_source_files(files, REPO_MODELS, "O2Twin.CoSim.PSAUnit")}
    assert "O2Twin/Media/package.mo" in psa  # package constants (O2Twin.Media.R, ...)


def test_code_only_drops_strings_and_comments():
    assert code_only('a "b // c" d // e\nf /* g\nh */ i').split() == ["a", '""', "d", "f", "i"]


def test_hash_and_mtime_see_edits_and_touches(tmp_path):
    models = _library(tmp_path)
    files = modelica_files(models)
    h0, m0 = manifest.sources_hash(files, models), manifest.newest_mtime_ns(files)
    assert manifest.sources_hash(list(reversed(files)), models) == h0  # order independent
    port = models / "Lib" / "Parts" / "Port.mo"
    os.utime(port, ns=(m0 + 10**9, m0 + 10**9))
    assert manifest.sources_hash(files, models) == h0 and manifest.newest_mtime_ns(files) > m0
    port.write_text(port.read_text().replace("Real p;", 'Real p(unit = "Pa");'))
    assert manifest.sources_hash(files, models) != h0


def test_up_to_date_needs_same_backend_sources_and_fmu(tmp_path):
    fmu = tmp_path / "M.fmu"
    fmu.write_bytes(b"not really an fmu, but a file with a hash")
    entry = manifest.make_entry("M", fmu, "builtin", "abc", 100, TEST_MODELS_DIR)
    assert manifest.is_up_to_date(entry, fmu, "builtin", "abc", 100)
    assert not manifest.is_up_to_date(entry, fmu, "openmodelica", "abc", 100)
    assert not manifest.is_up_to_date(entry, fmu, "builtin", "abd", 100)
    assert not manifest.is_up_to_date(entry, fmu, "builtin", "abc", 101)
    assert not manifest.is_up_to_date(None, fmu, "builtin", "abc", 100)
    fmu.write_bytes(b"replaced by hand")
    assert not manifest.is_up_to_date(entry, fmu, "builtin", "abc", 100)
    fmu.unlink()
    assert not manifest.is_up_to_date(entry, fmu, "builtin", "abc", 100)


def _write_entries(args: tuple[str, int]) -> None:
    out, worker = args
    for k in range(20):
        manifest.write_entry(Path(out), f"Model{worker}_{k}", {"model": f"Model{worker}_{k}", "n": k})


def test_concurrent_manifest_writers_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        pool.map(_write_entries, [(str(tmp_path), w) for w in range(4)])
    entries = manifest.read_manifest(tmp_path)
    assert len(entries) == 80 and entries["Model3_19"]["n"] == 19
    assert not list(tmp_path.glob(".manifest-*"))


def test_unreadable_manifest_counts_as_empty(tmp_path):
    (tmp_path / manifest.MANIFEST_NAME).write_text("{not json")
    assert manifest.read_manifest(tmp_path) == {}
    manifest.write_entry(tmp_path, "M", {"model": "M"})
    assert manifest.read_manifest(tmp_path) == {"M": {"model": "M"}}
