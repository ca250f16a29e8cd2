"""The master on FMUs exported by the project's own exporter from tests/models/CoupledOscillators.mo: the split
model converges to the monolithic one at the expected order, single-FMU runs equal fmpy's, and copies whose
modelDescription.xml drops Co-Simulation, Model Exchange or rollback still run."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import fmpy
import numpy as np
import pytest

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from orchestrator.cosim.system import System
from orchestrator.errors import O2TwinError
from tests.support.lti_reference import lti_solution

MODELS = Path(__file__).resolve().parents[1] / "export" / "models"
P = {"m1": 1.0, "k1": 10.0, "d1": 0.1, "m2": 1.0, "k2": 20.0, "kc": 100.0, "dc": 1.0}
STOP = 1.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    from orchestrator.export import export_model

    out = tmp_path_factory.mktemp("exported")
    fmus = {}
    for name in ("Mass1", "Mass2", "Monolithic"):
        try:
            fmus[name] = export_model(f"CoupledOscillators.{name}", models_dir=MODELS, out_dir=out)
        except O2TwinError as exc:  # e.g. no C compiler: say why instead of failing obscurely
            pytest.skip(f"cannot export CoupledOscillators.{name}: {exc}")
    return fmus


def reference(times) -> np.ndarray:
    """Exact solution (x1, v1, x2, v2) of the monolithic linear model."""
    m1, k1, d1, m2, k2, kc, dc = (P[k] for k in ("m1", "k1", "d1", "m2", "k2", "kc", "dc"))
    a = np.array(
        [
            [0, 1, 0, 0],
            [-(k1 + kc) / m1, -(d1 + dc) / m1, kc / m1, dc / m1],
            [0, 0, 0, 1],
            [kc / m2, dc / m2, -(k2 + kc) / m2, -dc / m2],
        ]
    )
    return lti_solution(a, [0.1, 0.0, 0.0, 0.0], np.asarray(times))


def split_system(fmus, cls=FmuCoSimSlave, tolerance=1e-10) -> System:
    """Mass1 + Mass2; a tight FMU solver tolerance so that the coupling error dominates."""
    s = System()
    s.add(cls("mass1", fmus["Mass1"], tolerance=tolerance))
    s.add(cls("mass2", fmus["Mass2"], tolerance=tolerance))
    s.connect("mass1.x1", "mass2.x1")
    s.connect("mass1.v1", "mass2.v1")
    s.connect("mass2.F", "mass1.F")
    return s


def error(fmus, step, algorithm="gauss-seidel", extrapolation=0, cls=FmuCoSimSlave, tolerance=1e-10) -> float:
    rec = MemoryRecorder()
    options = MasterOptions(step=step, stop_time=STOP, algorithm=algorithm, extrapolation=extrapolation,
                            record_interval=0.05)  # fmt: skip
    Simulation(split_system(fmus, cls, tolerance), options, recorders=[rec], record=["mass2.x2"]).run()
    got = np.column_stack([rec.column("mass1.x1"), rec.column("mass2.x2")])
    return float(np.max(np.abs(got - reference(rec.times)[:, [0, 2]])))


@pytest.mark.parametrize(("algorithm", "extrapolation", "low", "high"), [
    ("jacobi", 0, 0.8, 1.3), ("gauss-seidel", 0, 0.8, 1.3), ("jacobi", 1, 1.6, 2.5), ("gauss-seidel", 1, 1.6, 2.5),
])  # fmt: skip
def test_split_converges_to_monolithic_at_expected_order(exported, algorithm, extrapolation, low, high):
    errors = [error(exported, h, algorithm, extrapolation) for h in (0.004, 0.002, 0.001)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > low) & (orders < high)), (errors, orders)


def test_monolithic_fmu_is_the_reference(exported):
    res = fmpy.simulate_fmu(str(exported["Monolithic"]), stop_time=STOP, output_interval=0.05, output=["x1", "x2"])
    ref = reference(res["time"])
    np.testing.assert_allclose(res["x1"], ref[:, 0], atol=1e-5)
    np.testing.assert_allclose(res["x2"], ref[:, 2], atol=1e-5)


def test_single_exported_fmu_identical_to_fmpy(exported):
    ref = fmpy.simulate_fmu(str(exported["Monolithic"]), stop_time=STOP, output_interval=0.0625, output=["x1", "F"])
    system = System()
    system.add(FmuCoSimSlave("mono", exported["Monolithic"]))
    rec = MemoryRecorder()
    Simulation(system, MasterOptions(step=0.0625, stop_time=STOP), recorders=[rec], record=["mono.x1", "mono.F"]).run()
    assert np.array_equal(rec.column("mono.x1"), ref["x1"]) and np.array_equal(rec.column("mono.F"), ref["F"])


def rewrite(fmu: Path, out: Path, edit) -> Path:
    """Copy an FMU, passing its modelDescription.xml through ``edit``."""
    with zipfile.ZipFile(fmu) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = edit(data.decode()).encode()
            dst.writestr(item, data)
    return out


def test_me_only_cs_only_and_no_rollback_copies(exported, tmp_path):
    drop_cs = lambda xml: re.sub(r"<CoSimulation.*?</CoSimulation>", "", xml, flags=re.S)  # noqa: E731
    drop_me = lambda xml: re.sub(r"<ModelExchange.*?</ModelExchange>", "", xml, flags=re.S)  # noqa: E731
    no_state = lambda xml: xml.replace('canGetAndSetFMUstate="true"', 'canGetAndSetFMUstate="false"')  # noqa: E731
    me_only = {k: rewrite(p, tmp_path / f"me_{p.name}", drop_cs) for k, p in exported.items()}
    cs_only = {k: rewrite(p, tmp_path / f"cs_{p.name}", drop_me) for k, p in exported.items()}
    plain = {k: rewrite(p, tmp_path / f"nr_{p.name}", no_state) for k, p in exported.items()}
    e_me = error(me_only, 0.004, extrapolation=1, cls=FmuModelExchangeSlave, tolerance=1e-8)
    e_cs = error(cs_only, 0.004, extrapolation=1)
    assert e_me < 1e-3 and e_cs < 1e-3, (e_me, e_cs)
    assert abs(e_me - e_cs) < 0.5 * e_cs  # same algorithm, different integrators: same coupling error
    with pytest.raises(O2TwinError, match="no Co-Simulation interface"):
        FmuCoSimSlave("m", me_only["Mass1"])
    # no rollback: error control falls back to fixed steps with a warning, save_state is refused
    rec = MemoryRecorder()
    sim = Simulation(split_system(plain), MasterOptions(step=0.01, stop_time=0.1, error_control=True), recorders=[rec])
    sim.run()
    assert any("using fixed steps" in w for w in sim.warnings) and len(rec.times) == 11


def test_rollback_of_exported_fmus_is_exact(exported):
    sim = Simulation(split_system(exported), MasterOptions(step=0.01, stop_time=1.0, extrapolation=1))
    sim.run(until=0.3)
    snapshot = sim.save_state()
    sim.run(until=0.6)
    first = (sim.get("mass1.x1"), sim.get("mass2.x2"), sim.get("mass2.v2"))
    sim.restore_state(snapshot)
    assert sim.time == 0.3
    sim.run(until=0.6)
    assert (sim.get("mass1.x1"), sim.get("mass2.x2"), sim.get("mass2.v2")) == first
    sim.finish()


def test_error_control_on_exported_fmus(exported):
    rec = MemoryRecorder()
    options = MasterOptions(step=0.01, stop_time=STOP, error_control=True, tolerance=1e-4, extrapolation=1)
    sim = Simulation(split_system(exported), options, recorders=[rec])
    sim.run()
    got = np.array(rec.column("mass1.x1"))
    err = np.max(np.abs(got - reference(rec.times)[:, 0]))
    assert err < 2e-3, err
    assert sim.stats["slave_steps"] < 2 * round(STOP / 0.001)  # cheaper than the fixed step of similar accuracy
