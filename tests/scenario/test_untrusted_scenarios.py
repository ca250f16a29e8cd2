"""A scenario or SSP file is data from anyone (issue 10, section 3): it never imports or runs code by name, never
writes outside the results directory, and its archives unpack within limits. Each attack: one clear error."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from orchestrator.cli.main import main
from orchestrator.cosim.slaves.archive import MAX_ARCHIVE_FILES, extract_archive
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.errors import SystemDefinitionError
from orchestrator.results.metrics import read_metrics
from orchestrator.scenario.exchange import export_ssp, import_ssp
from orchestrator.scenario.load import load_scenario
from orchestrator.scenario.registry import BlockRegistry
from tests.support.blocks import ALLOW

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")
"""

BLOCK_MODULE = """
from pathlib import Path
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock

Path({marker!r}).write_text("imported")


class Constant(PythonBlock):
    OUTPUTS = (Variable("value", "output", unit="K", start=0.0),)

    def reset(self):
        pass

    def update(self, t, inputs):
        return {{"value": 2.5}}
"""


def _scenario(lag_fmu: Path, block: str = "tests.support.blocks:Source", extra: str = "") -> str:
    return f"""
[scenario]
name = "untrusted"
stop_time = 0.3
[master]
step = 0.1
[slaves.src]
block = "{block}"
[slaves.a]
fmu = "{lag_fmu}"
[[connections]]
from = "src.value"
to = "a.u"
{extra}"""


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """A module on the Python path that leaves a marker file when it is imported; yields (name, marker)."""
    name = f"o2evil_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / "site"
    folder.mkdir()
    marker = tmp_path / "imported.txt"
    (folder / f"{name}.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(folder))
    yield name, marker
    sys.modules.pop(name, None)


def _run(path: Path, out: Path, *extra: str) -> int:
    return main(["-q", "run", str(path), "--out", str(out), "--no-plots", *extra])


def test_block_named_by_module_is_never_imported(tmp_path, lag_fmu, evil_module, capsys):
    name, marker = evil_module
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, block=f"{name}:X"))
    assert _run(path, tmp_path / "res") == 2
    err = capsys.readouterr().err
    assert f"block '{name}:X' is not registered" in err and f"--allow-module {name}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and name not in sys.modules
    assert not (tmp_path / "res").exists()


def test_venv_main_is_not_run(tmp_path, lag_fmu, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, block="venv.__main__:X"))
    before = set(tmp_path.iterdir())
    assert _run(path, tmp_path / "res") == 2
    assert "is not registered" in capsys.readouterr().err
    assert set(tmp_path.iterdir()) == before  # no virtual environment (or anything else) was created
    assert "venv.__main__" not in sys.modules


@pytest.mark.parametrize(
    ("allow", "message"),
    [([], "summary 'builtins:print' is not registered"), (["--allow-module", "builtins"], "is not a Python function")],
)
def test_summary_must_be_a_registered_function(tmp_path, lag_fmu, capsys, allow, message):
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, extra='[metrics]\nsummary = "builtins:print"\n'))
    assert _run(path, tmp_path / "res", *ALLOW, *allow) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()  # a definition error: before any result is written


def test_module_beside_the_scenario_runs_only_when_allowed(tmp_path, lag_fmu, capsys):
    name = f"beside_{tmp_path.name.replace('-', '_')}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{name}.py").write_text(BLOCK_MODULE.format(marker=str(marker)))
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, block=f"{name}:Constant"))
    try:
        assert _run(path, tmp_path / "refused") == 2
        assert not marker.exists() and f"--allow-module {name}" in capsys.readouterr().err
        # trusted explicitly: found beside the scenario (issue 11: "a block module next to the scenario is found")
        assert _run(path, tmp_path / "res", "--allow-module", name) == 0
        assert marker.exists() and read_metrics(tmp_path / "res")["status"] == "ok"
    finally:
        sys.modules.pop(name, None)


def test_ssp_annotation_block_is_never_imported(tmp_path, lag_fmu, evil_module, capsys):
    name, marker = evil_module
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, block=f"{name}:X"))
    ssp = export_ssp(load_scenario(path), tmp_path / "s.ssp")
    assert _run(ssp, tmp_path / "res") == 2
    assert f"block '{name}:X' is not registered" in capsys.readouterr().err
    assert not marker.exists() and name not in sys.modules


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("orchestrator.cosim.slaves.python_block:PythonBlock", "is an abstract class (it does not implement reset"),
        ("orchestrator.cosim.slaves.fmu:FmuCoSimSlave", "is an FMU slave class; name the FMU with fmu ="),
        ("orchestrator.errors:O2TwinError", "is not a co-simulation block class"),
    ],
)
def test_blocks_that_cannot_be_blocks_are_one_line(tmp_path, lag_fmu, capsys, block, message):
    module = block.split(":")[0]
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu, block=block))
    assert _run(path, tmp_path / "res", "--allow-module", module) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_registry_resolves_entry_points_by_name_or_value():
    registry = BlockRegistry()
    assert registry.block("PressurePID") is registry.block("controllers.pid:PressurePID")
    assert registry.summary("concentrator_summary").__name__ == "concentrator_summary"
    assert {"PressurePID", "SafetyWatchdog"} <= set(registry.names())
    with pytest.raises(SystemDefinitionError, match="not registered"):
        registry.block("controllers.pid:PIDHelper")  # in a registered module, but not itself registered


def test_samples_path_is_confined_to_the_results(tmp_path, lag_fmu, capsys):
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    for value in (str(victim), "../victim.csv", "sub/x.csv"):
        path = tmp_path / "s.toml"
        path.write_text(_scenario(lag_fmu, extra=f'[plant]\ndevice = "serial:///nowhere"\nsamples_path = "{value}"\n'))
        assert _run(path, tmp_path / "res", *ALLOW) == 2
        err = capsys.readouterr().err
        assert "samples_path" in err and "plain file name" in err and "Traceback" not in err
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("name", ["../../..", "/tmp/o2twin-escape", "..", "a/../../b"])
def test_scenario_name_cannot_leave_results(tmp_path, lag_fmu, monkeypatch, capsys, name):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path = work / "s.toml"
    path.write_text(_scenario(lag_fmu).replace('name = "untrusted"', f'name = "{name}"'))
    assert main(["-q", "run", str(path), *ALLOW, "--no-plots"]) == 2
    assert "names the results folder" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["s.toml"] and sorted(tmp_path.iterdir()) == [tmp_path / "a"]


def test_ssd_name_cannot_leave_results(tmp_path, lag_fmu, capsys):
    path = tmp_path / "s.toml"
    path.write_text(_scenario(lag_fmu))
    ssp = export_ssp(load_scenario(path), tmp_path / "s.ssp")
    evil = tmp_path / "evil.ssp"
    with zipfile.ZipFile(ssp) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "SystemStructure.ssd":
                data = data.replace(b'name = "untrusted"', b'name = "../../evil"')
            dst.writestr(item, data)
    with pytest.raises(SystemDefinitionError, match=r"evil.ssp: \[scenario\]: 'name' = '../../evil' names"):
        import_ssp(evil, fmu_dir=tmp_path / "x")


def test_components_whose_fmus_share_a_base_name_keep_their_own(tmp_path, lag_fmu, lag_fmu_degc):
    """resources/a/Lag.fmu and resources/b/Lag.fmu are different FMUs: each component runs its own."""
    ssd = """<ssd:SystemStructureDescription xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription"
 xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" version="1.0" name="twins">
 <ssd:System name="s"><ssd:Elements>
  <ssd:Component name="a" source="resources/a/Lag.fmu"/><ssd:Component name="b" source="resources/b/Lag.fmu"/>
 </ssd:Elements></ssd:System><ssd:DefaultExperiment stopTime="0.5"/></ssd:SystemStructureDescription>"""
    ssp = tmp_path / "twins.ssp"
    with zipfile.ZipFile(ssp, "w") as z:
        z.writestr("SystemStructure.ssd", ssd)
        z.write(lag_fmu, "resources/a/Lag.fmu")
        z.write(lag_fmu_degc, "resources/b/Lag.fmu")
    spec = import_ssp(ssp, fmu_dir=tmp_path / "fmus")
    a, b = Path(spec.slaves["a"].fmu), Path(spec.slaves["b"].fmu)
    assert a != b
    assert a.read_bytes() == lag_fmu.read_bytes() and b.read_bytes() == lag_fmu_degc.read_bytes()
    assert FmuCoSimSlave("b", b).variables["u"].unit == "degC"
    assert FmuCoSimSlave("a", a).variables["u"].unit == "K"


def _rewrite_fmu(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "modelDescription.xml":
                data = data.replace(old, new)
            zout.writestr(item, data)
    return dst


def test_model_identifier_with_a_path_is_refused(tmp_path, lag_fmu, capsys):
    fmu = _rewrite_fmu(lag_fmu, tmp_path / "Evil.fmu", b'modelIdentifier="Lag"', b'modelIdentifier="../../evil"')
    with pytest.raises(SystemDefinitionError, match=r"modelIdentifier '../../evil' is not a C identifier"):
        FmuCoSimSlave("a", fmu)
    path = tmp_path / "s.toml"
    path.write_text(_scenario(fmu))
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    assert "is not a C identifier" in capsys.readouterr().err and not (tmp_path / "res").exists()


def test_archives_unpack_within_limits(tmp_path, lag_fmu):
    # too many files: refused before anything is unpacked
    many = tmp_path / "many.fmu"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(MAX_ARCHIVE_FILES + 1):
            z.writestr(f"resources/{i}", b"")
    with pytest.raises(SystemDefinitionError, match="more than an archive may hold"):
        FmuCoSimSlave("m", many)
    with pytest.raises(SystemDefinitionError, match="more than an archive may hold"):
        import_ssp(many.rename(tmp_path / "many.ssp"))
    # too large (the limit is a parameter of the extractor; the FMU slave and SSP reader use the 1 GiB default)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("resources/zeros.bin", bytes(3 << 20))
    with pytest.raises(SystemDefinitionError, match="MiB is more than an archive may hold"):
        extract_archive(big, tmp_path / "x", max_bytes=1 << 20)
    # a member that would land outside the folder
    slip = tmp_path / "slip.fmu"
    with zipfile.ZipFile(lag_fmu) as zin, zipfile.ZipFile(slip, "w") as zout:
        for item in zin.namelist():
            zout.writestr(item, zin.read(item))
        zout.writestr("../../escaped.txt", b"x")
    with pytest.raises(SystemDefinitionError, match="would be unpacked outside its folder"):
        FmuCoSimSlave("s", slip)
    assert not (tmp_path.parent / "escaped.txt").exists()


LIBRARY_CONSTRUCTOR = """
#include <stdio.h>
__attribute__((constructor)) static void loaded(void) {{
    FILE *f = fopen("{marker}", "w");
    if (f) {{ fputs("loaded", f); fclose(f); }}
}}
"""


def _casadi_file_that_loads_a_library(folder: Path, stem: str, marker: Path) -> Path:
    """A CasADi function file that, when read, loads a shared library whose constructor writes ``marker`` (a CasADi
    external function), with the .json beside it that the MPC's exporter takes as up to date."""
    import json
    import shutil
    import subprocess

    import casadi as ca

    from orchestrator.export import functions, manifest
    from orchestrator.export.dependencies import model_source_files
    from orchestrator.paths import MODELS_DIR

    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the library the .casadi file names")
    import contextlib

    x = ca.SX.sym("x")
    with contextlib.chdir(folder):  # CasADi writes generated code to the working directory
        ca.Function("g", [x], [2 * x]).generate("g.c")
    (folder / "ctor.c").write_text(LIBRARY_CONSTRUCTOR.format(marker=marker))
    library = folder / "libg.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(folder / "g.c"), str(folder / "ctor.c")],
                   check=True, cwd=folder)  # fmt: skip
    target = folder / f"{stem}.casadi"
    save = f"import casadi; casadi.external('g', {str(library)!r}).save({str(target)!r})"
    subprocess.run([sys.executable, "-c", save], check=True)  # in another process: this one has not loaded it
    marker.unlink()  # written as the other process loaded the library
    name = str(folder / stem)
    used = model_source_files(functions.modelica_files(MODELS_DIR), MODELS_DIR, name)
    meta = {"format": functions.FORMAT, "model": name, "source_hash": manifest.sources_hash(used, MODELS_DIR),
            "exporter_version": functions.functions_version(), "function_sha256": manifest.file_sha256(target)}  # fmt: skip
    target.with_name(target.name + ".json").write_text(json.dumps(meta))
    return target


@pytest.mark.parametrize("as_path", [True, False], ids=["absolute-path", "relative-path"])
def test_mpc_model_is_a_class_name_never_a_path(tmp_path, lag_fmu, monkeypatch, capsys, as_path):
    """The MPC's ``model`` parameter names a class of models/; it was read as a file name, so '/elsewhere/evil' made
    the run read /elsewhere/evil.casadi, and a .casadi file can load a shared library (arbitrary code)."""
    evil = tmp_path / "elsewhere"
    evil.mkdir()
    marker = tmp_path / "library-loaded.txt"
    _casadi_file_that_loads_a_library(evil, "evil", marker)
    monkeypatch.chdir(tmp_path)
    value = str(evil / "evil") if as_path else "elsewhere/evil"
    path = tmp_path / "s.toml"
    mpc = f'[slaves.mpc]\nblock = "controllers.mpc:SupervisoryMPC"\nsample_time = 0.1\n[slaves.mpc.parameters]\nmodel = "{value}"\n'
    path.write_text(_scenario(lag_fmu, extra=mpc))
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    assert not marker.exists()  # the library the .casadi file names was never loaded
    err = capsys.readouterr().err
    assert "[slaves.mpc.parameters]" in err and f"model = '{value}' is not a Modelica class name" in err
    assert str(path) in err and "Traceback" not in err
    from controllers.prediction_model import PredictionModel

    with pytest.raises(SystemDefinitionError, match="not a Modelica class name"):
        PredictionModel.load(value)
    assert not marker.exists()


def _plant_scenario(lag_fmu: Path, plant: str) -> str:
    """A scenario whose compressor and PSA are the device (hardware in the loop) with the [plant] table's lines."""
    return _scenario(
        lag_fmu,
        extra=f"""
[slaves.compressor]
fmu = "O2Twin.CoSim.Compressor"
[slaves.psa]
fmu = "O2Twin.CoSim.PSAUnit"
[plant]
replaces = ["compressor", "psa"]
link_timeout_s = 0.5
{plant}
""",
    )


@pytest.mark.parametrize(
    "url",
    ["spy://loop://?file={victim}", "SPY://loop://?file={victim}", "spy:///dev/null?file={victim}",
     "alt://loop://?class=Serial", "hwgrep://.*"],
)  # fmt: skip
def test_plant_device_is_no_other_pyserial_handler(tmp_path, lag_fmu, capsys, url):
    """pyserial's spy:// handler opened the file its ?file= names for writing: a scenario's [plant] device
    truncated any file the user could write. Only serial, socket, rfc2217 and loop URLs are opened."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    path = tmp_path / "s.toml"
    path.write_text(_plant_scenario(lag_fmu, f'device = "{url.format(victim=victim)}"'))
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    err = capsys.readouterr().err
    scheme = url.split("://")[0].lower()
    assert (
        f"{path}: [plant]: device:" in err and f"scheme '{scheme}' is not one of serial, socket, rfc2217, loop" in err
    )
    assert "Traceback" not in err
    assert victim.read_text() == "precious\n"


def test_plant_device_path_is_a_serial_device(tmp_path, lag_fmu, capsys):
    """A serial path in a scenario is opened read-write: it must be a terminal device, not a file or another device."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "port"
    link.symlink_to("/dev/null")
    for device in (f"serial://{victim}", str(victim), "serial:///dev/null", f"serial://{link}?baud=9600"):
        path = tmp_path / "s.toml"
        path.write_text(_plant_scenario(lag_fmu, f'device = "{device}"'))
        assert _run(path, tmp_path / "res", *ALLOW) == 2
        err = capsys.readouterr().err
        assert f"{path}: [plant]: device:" in err and "is not a serial device" in err and "Traceback" not in err
    assert victim.read_text() == "precious\n"
    from orchestrator.errors import DeviceError
    from orchestrator.hil.link.ports import SerialPort

    with pytest.raises(DeviceError, match="is not a serial device"):  # also where the host opens it (--plant)
        SerialPort(f"serial://{victim}")
    with pytest.raises(DeviceError, match="scheme 'spy'"):
        SerialPort(f"spy://loop://?file={victim}")
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("value", ["{elsewhere}", "../elsewhere.toml", "sub/../../elsewhere.toml", "desc.txt",
                                   "link.toml"])  # fmt: skip
def test_plant_description_is_inside_the_scenario_folder(tmp_path, lag_fmu, capsys, value):
    """[plant] description was read from any path (absolute, or '..' out of the scenario's folder)."""
    from orchestrator.hil.link.description import DEFAULT_DESCRIPTION

    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(DEFAULT_DESCRIPTION.read_text())
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.toml").symlink_to(elsewhere)
    path = folder / "s.toml"
    path.write_text(
        _plant_scenario(lag_fmu, f'device = "serial:///nowhere"\ndescription = "{value.format(elsewhere=elsewhere)}"')
    )
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    err = capsys.readouterr().err
    assert f"{path}: [plant]: description =" in err and "Traceback" not in err
    assert "inside the scenario's folder" in err or "leads out of the scenario's folder" in err


def test_plant_description_beside_the_scenario_is_read(tmp_path, lag_fmu, capsys):
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "mine.toml").write_text("[not_a_device]\n")
    path = tmp_path / "s.toml"
    path.write_text(_plant_scenario(lag_fmu, 'device = "serial:///nowhere"\ndescription = "devices/mine.toml"'))
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "devices" / "mine.toml") in err and "missing [device] table" in err


def test_files_named_by_path_do_not_leave_the_folder_through_a_link(tmp_path, lag_fmu, capsys):
    """extends, [[inputs]] file and a sweep file's scenario are paths inside their file's folder; a symbolic link
    in that folder (a cloned repository can hold one) pointing out of it was followed and the file outside read."""
    from orchestrator.sweep.design import SweepDefinitionError
    from orchestrator.sweep.studyfile import load_sweep_file

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "base.toml").write_text(_scenario(lag_fmu))
    (outside / "table.csv").write_text("time,u\n0,1\n1,2\n")
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "base.toml").symlink_to(outside / "base.toml")
    (folder / "table.csv").symlink_to(outside / "table.csv")
    extending = folder / "child.toml"
    extending.write_text('extends = "base.toml"\n[scenario]\nname = "child"\n')
    with pytest.raises(SystemDefinitionError, match=r"'extends' = 'base.toml' leads out of .* \(a link\)"):
        load_scenario(extending)

    path = folder / "s.toml"
    path.write_text(_scenario(lag_fmu, extra='[[inputs]]\nfile = "table.csv"\nto = { u = "a.u" }\n').replace(
        '[[connections]]\nfrom = "src.value"\nto = "a.u"\n', ""))  # fmt: skip
    assert _run(path, tmp_path / "res", *ALLOW) == 2
    err = capsys.readouterr().err
    assert "'file' = 'table.csv' leads out of the scenario's folder" in err and "Traceback" not in err

    sweep = folder / "study.toml"
    sweep.write_text('[sweep]\nscenario = "base.toml"\n[grid]\n"a.k" = [1.0, 2.0]\n')
    with pytest.raises(SweepDefinitionError, match=r"scenario = 'base.toml' leads out of .* \(a link\)"):
        load_sweep_file(sweep)

    # the same files inside the folder are read
    for name in ("base.toml", "table.csv"):
        (folder / name).unlink()
        (folder / name).write_text((outside / name).read_text())
    assert load_scenario(extending).name == "child"
    assert load_sweep_file(sweep).scenario.name == "untrusted"
    assert _run(path, tmp_path / "res", *ALLOW) == 0
