"""The Reference FMU corpus (issue 16, "How it is checked"): every model of the Modelica Association's Reference FMUs,
built as FMI 2.0 and as FMI 3.0, run in Co-Simulation and Model Exchange through the master against its reference
result with the tolerance tests/support/reference_corpus.py states for it; Feedthrough also with its reference
input file fed through a scenario's time table. The default suite runs each case briefly (the first seconds of the
long ones); the slow suite runs them to the reference's end. A model the master cannot run is refused, and the
test checks the refusal says why. Figures: docs/interop.md."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from orchestrator import run
from orchestrator.errors import SystemDefinitionError
from tests.support.fmu_runs import run_single
from tests.support.reference_corpus import CASES, INTERFACES, case, reference_table, run_case
from tests.support.reference_fmus import source_dir

RUNS = [(c.model, v, i) for c in CASES for v in c.versions for i in ("cs", "me")]
IDS = [f"{m}-fmi{v}-{i}" for m, v, i in RUNS]


@pytest.fixture(scope="module")
def corpus(reference_fmus, reference_fmus3):
    return {2: reference_fmus, 3: reference_fmus3}


def check_case(corpus, model: str, version: int, interface: str, stop: float) -> None:
    c = case(model)
    fmu = corpus[version][model]
    if c.refused:
        with pytest.raises(SystemDefinitionError, match=c.refused.replace("(", r"\(")):
            INTERFACES[interface]("m", fmu)
        return
    if model == "Feedthrough":
        check_feedthrough_reference(fmu, interface, version)
        return
    outcome = run_case(c, fmu, interface, stop)
    assert outcome.status == ("terminated" if model == "Stair" else "completed")
    # every reference point up to the stop time is compared (Stair: all but the one after its terminating step)
    assert outcome.compared_points == outcome.reference_points - (model == "Stair")
    assert outcome.error <= c.tolerance[interface], (outcome.errors, c.why)


@pytest.mark.parametrize("model, version, interface", RUNS, ids=IDS)
def test_reference_fmu_corpus_briefly(corpus, model, version, interface):
    check_case(corpus, model, version, interface, case(model).brief_stop)


@pytest.mark.slow
@pytest.mark.parametrize("model, version, interface", RUNS, ids=IDS)
def test_reference_fmu_corpus_to_the_end(corpus, model, version, interface):
    check_case(corpus, model, version, interface, case(model).stop)


def check_feedthrough_reference(fmu, interface: str, version: int) -> None:
    """Feedthrough without inputs against Feedthrough_out.csv: every output the FMU has (numbers, Boolean, String,
    Binary, enumeration) at its start value at every reference time."""
    table = reference_table("Feedthrough")
    slave = INTERFACES[interface]("ft", fmu)
    outputs = [name for name in table if name != "time" and name in slave.variables]
    assert len(outputs) == (16 if version == 3 else 6)
    sim, rec = run_single(slave, stop=2.0, step=0.1, record=[f"ft.{n}" for n in outputs if not _text(n)])
    assert np.allclose(rec.times, [float(t) for t in table["time"]], rtol=0, atol=1e-12)
    for name in outputs:
        if _text(name):
            value = sim.get(f"ft.{name}")
            expected = table[name][-1]
            assert (value.hex() if isinstance(value, bytes) else value) == expected
        else:
            assert rec.column(f"ft.{name}") == [float(v) for v in table[name]], name


def _text(name: str) -> bool:
    return name.startswith(("String", "Binary"))


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("interface", ["cs", "me"])
def test_feedthrough_replays_its_reference_input_file(corpus, tmp_path, version, interface):
    """Feedthrough_in.csv (INT8_MIN ... UINT64_MAX at 0 s, the maxima at 1 s) fed through a scenario's [[inputs]]
    time table: each discrete input holds its row (FMI's rule for discrete inputs), so each output is the input's
    value of the last row, to the last bit of the 64-bit extremes (the FMI 2.0 model has Int32_input only)."""
    src = source_dir()
    assert src is not None
    shutil.copy(src / "Feedthrough" / "Feedthrough_in.csv", tmp_path / "Feedthrough_in.csv")
    inputs = reference_table("Feedthrough", "in")
    columns = [n for n in inputs if n != "time" and (version == 3 or n == "Int32_input")]
    record = ", ".join(f'"ft.{n.replace("_input", "_output")}"' for n in columns)
    fmu = corpus[version]["Feedthrough"]
    scenario = tmp_path / "feedthrough.toml"
    scenario.write_text(f"""
[scenario]
name = "feedthrough_in"
stop_time = 2.0
[master]
step = 0.25
[slaves.ft]
fmu = "{fmu}"
interface = "{interface}"
[[inputs]]
file = "Feedthrough_in.csv"
slave = "ft"
columns = [{", ".join(f'"{n}"' for n in columns)}]
[outputs]
record = [{record}]
""")
    result = run(scenario, out=tmp_path / "results", plots=False)
    assert result.status == "ok", result.error
    signals = result.signals
    t = signals.index.to_numpy()
    for name in columns:
        low, high = (int(v) for v in inputs[name])
        recorded = signals[f"ft.{name.replace('_input', '_output')}"].to_numpy()
        np.testing.assert_array_equal(recorded, np.where(t < 1.0, float(low), float(high)), err_msg=name)
    assert len(t) == 9
