"""FMI 3.0 FMUs as slaves, on the Reference FMUs built as FMI 3.0 (CMake, once per session): the same slave classes
as FMI 2.0, every FMI 3.0 type through the master, arrays as scalar elements, terminate requests, the tolerance,
rollback and serialised states, directional derivatives, and clear refusals of what the master cannot run
(clocks, Scheduled Execution, resizing arrays)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fmpy.fmi3 import FMU3Model, FMU3Slave

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, SetEvent, Simulation
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SimulationError, SystemDefinitionError
from tests.support.cosim_blocks import Ramp
from tests.support.fmu_runs import rewrite_fmu, run_single

INTERFACES = [FmuCoSimSlave, FmuModelExchangeSlave]


@pytest.mark.parametrize("cls", INTERFACES)
def test_fmi3_fmu_gives_the_fmi2_result_of_the_same_model(reference_fmus, reference_fmus3, cls):
    """VanDerPol and BouncingBall built as FMI 2.0 and as FMI 3.0 from the same model code: the same slave class
    runs both, with bit-identical results (the version layer adds nothing of its own)."""
    for model, stop, record in (("VanDerPol", 3.0, ["m.x0", "m.x1"]), ("BouncingBall", 1.5, ["m.h", "m.v"])):
        _, rec2 = run_single(cls("m", reference_fmus[model]), stop=stop, step=0.01, record=record)
        slave3 = cls("m", reference_fmus3[model])
        assert slave3.fmi_version == "3.0"
        _, rec3 = run_single(slave3, stop=stop, step=0.01, record=record)
        for name in record:
            assert rec3.column(name) == rec2.column(name), (model, name)
        assert max(abs(v) for v in rec3.column(record[1])) > 0.5  # something happened


@pytest.mark.parametrize("cls", INTERFACES)
def test_fmi3_terminate_request_ends_the_run_cleanly(reference_fmus3, cls):
    """Stair (FMI 3.0) asks to terminate when its counter reaches 10 (fmi3DoStep's terminateSimulation in CS,
    fmi3UpdateDiscreteStates in ME): the run ends with status "terminated" and an event, as with FMI 2.0."""
    sim, rec = run_single(cls("stair", reference_fmus3["Stair"]), stop=12.0, step=0.2, record=["stair.counter"])
    assert rec.finish_metadata["status"] == "terminated" and rec.finish_metadata["error"] is None
    assert 8.7 < sim.time <= 9.0 and rec.column("stair.counter")[-1] == 9
    assert sum(e.text.startswith("terminated: slave stair asked") for e in rec.events) == 1


@pytest.mark.parametrize("fmpy_class, cls", [(FMU3Slave, FmuCoSimSlave), (FMU3Model, FmuModelExchangeSlave)])
def test_tolerance_reaches_fmi3_enter_initialization_mode(reference_fmus3, tmp_path, monkeypatch, fmpy_class, cls):
    tight = rewrite_fmu(
        reference_fmus3["VanDerPol"],
        tmp_path / "VanDerPolTight.fmu",
        replace={"modelDescription.xml": ('stepSize="1e-2"/>', 'stepSize="1e-2" tolerance="1e-9"/>')},
    )
    passed = []
    original = fmpy_class.enterInitializationMode

    def spy(self, tolerance=None, startTime=0.0, stopTime=None):
        passed.append((tolerance, startTime))
        return original(self, tolerance=tolerance, startTime=startTime, stopTime=stopTime)

    monkeypatch.setattr(fmpy_class, "enterInitializationMode", spy)
    for path, tolerance, expected in (
        (tight, None, 1e-9),
        (tight, 1e-5, 1e-5),
        (reference_fmus3["VanDerPol"], None, None),
    ):
        slave = cls("vdp", path, tolerance=tolerance)
        slave.setup(0.25)
        slave.terminate()
        assert passed[-1] == (expected, 0.25)


def _feedthrough_events() -> dict[str, object]:
    """A value of every input type of Feedthrough, at the ends of the integer ranges."""
    return {
        "ft.Float32_continuous_input": 0.1,
        "ft.Float32_discrete_input": -2.5,
        "ft.Float64_discrete_input": 3.25,
        "ft.Int8_input": -128,
        "ft.UInt8_input": 255,
        "ft.Int16_input": -32768,
        "ft.UInt16_input": 65535,
        "ft.Int32_input": -(2**31),
        "ft.UInt32_input": 2**32 - 1,
        "ft.Int64_input": -(2**63),
        "ft.UInt64_input": 2**64 - 1,
        "ft.Boolean_input": True,
        "ft.String_input": "FMI 3.0",
        "ft.Binary_input": "626172",  # b"bar" as hexadecimal text
        "ft.Enumeration_input": 2,
    }


@pytest.mark.parametrize("cls", INTERFACES)
def test_every_fmi3_type_passes_through_the_master(reference_fmus3, cls):
    """Feedthrough copies each input to its output: each FMI 3.0 type keeps its exact value (64-bit integers at
    their extremes, Float32 rounded as float32), set by an event (ME: discrete ones in event mode), and a Float64
    input driven by a connection."""
    system = System()
    system.add(cls("ft", reference_fmus3["Feedthrough"]))
    system.add(Ramp("ramp", 0.25), {"slope": 2.0})
    system.connect("ramp.y", "ft.Float64_continuous_input")
    values = _feedthrough_events()
    outputs = {k: k.replace("_input", "_output") for k in values}
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=0.25, stop_time=1.0), events=[SetEvent(0.5, values)], recorders=[rec],
                     record=["ft.Float64_continuous_output", "ft.Int64_output", "ft.UInt8_output"])  # fmt: skip
    sim.step()
    assert sim.get("ft.UInt64_output") == 0 and sim.get("ft.String_output") == "Set me!"
    assert sim.get("ft.Binary_output") == b"foo"
    sim.run(until=0.75)
    got = {k: sim.get(out) for k, out in outputs.items()}
    expected = dict(values, **{"ft.Binary_input": b"bar", "ft.Float32_continuous_input": float(np.float32(0.1))})
    assert got == expected
    assert isinstance(got["ft.UInt64_input"], int) and got["ft.UInt64_input"] == 18446744073709551615
    sim.run()
    assert rec.column("ft.Float64_continuous_output") == pytest.approx(rec.column("ramp.y"))
    assert rec.column("ft.UInt8_output") == [0, 0, 0, 255, 255]


def test_integer_values_out_of_range_name_the_variable(reference_fmus3):
    """Integers travel through the master as floats: INT64_MAX read as a float (2**63) is taken as INT64_MAX, a
    value really out of range is refused naming the variable and the range."""
    slave = FmuCoSimSlave("ft", reference_fmus3["Feedthrough"])
    slave.setup(0.0)
    try:
        slave.set_inputs({"Int64_input": float(2**63 - 1), "UInt8_input": 255.0})
        assert slave.get_outputs(["Int64_output", "UInt8_output"]) == {"Int64_output": 2**63 - 1, "UInt8_output": 255}
        with pytest.raises(SystemDefinitionError, match=r"ft.UInt8_input is UInt8 \(0 to 255\); 256 is out of range"):
            slave.set_inputs({"UInt8_input": 256})
        with pytest.raises(SystemDefinitionError, match=r"ft.Binary_input is Binary; give bytes or hexadecimal"):
            slave.set_inputs({"Binary_input": "not hex"})
    finally:
        slave.terminate()


def test_string_and_binary_variables_are_not_connected(reference_fmus3):
    system = System()
    system.add(FmuCoSimSlave("a", reference_fmus3["Feedthrough"]))
    system.add(FmuCoSimSlave("b", reference_fmus3["Feedthrough"]))
    system.connect("a.Binary_output", "b.Binary_input")
    with pytest.raises(SystemDefinitionError, match=r"Binary variables cannot be connected .* set event"):
        system.check()


@pytest.mark.parametrize("cls", INTERFACES)
def test_arrays_are_scalar_elements(reference_fmus3, cls):
    """StateSpace (x' = A x + B u, y = C x + D u, 3x3 identity matrices): every array element is a variable
    named as Modelica flattens arrays (y[2], A[1,3]); element parameters and inputs set the whole array."""
    slave = cls("ss", reference_fmus3["StateSpace"])
    assert [n for n in slave.variables if n.startswith("y")] == ["y[1]", "y[2]", "y[3]"]
    assert slave.variables["A[2,2]"].start == 1.0 and slave.variables["A[2,3]"].start == 0.0
    assert slave.variables["u[3]"].causality == "input" and slave.variables["u[3]"].start == 3.0
    assert slave.info.direct_feedthrough == {}  # no dependencies given: every output on every input
    params = {"A[1,1]": -1.0, "B[2,2]": 2.0}
    events = [SetEvent(1.0, {"ss.u[3]": 0.0})]
    record = ["ss.y[1]", "ss.y[2]", "ss.y[3]"]
    _, rec = run_single(slave, stop=2.0, step=0.5, events=events, record=record, parameters=params)
    t = np.array(rec.times)
    y1, y2, y3 = (np.array(rec.column(n)) for n in record)
    rtol = 1e-2 if cls is FmuCoSimSlave else 1e-4  # CS: the FMU's forward Euler with h = 1 ms; ME: BDF
    # x1' = -x1 + 1 from 0: x1 = 1 - e^-t, y1 = x1 + u1 = 2 - e^-t
    assert y1 == pytest.approx(2 - np.exp(-t), rel=rtol)
    # x2' = x2 + 2 u2 = x2 + 4 from 0: y2 = 4 (e^t - 1) + 2
    assert y2 == pytest.approx(4 * np.exp(t) - 2, rel=rtol)
    # x3' = x3 + u3 from 0 (u3 = 3 until 1 s, then 0): y3 = 3 (e^t - 1) + u3
    x3 = np.where(t <= 1.0, 3 * (np.exp(t) - 1), 3 * (math.e - 1) * np.exp(t - 1))
    assert y3[t > 1] == pytest.approx(x3[t > 1], rel=rtol) and y3[t < 1] == pytest.approx(x3[t < 1] + 3, rel=rtol)


def test_structural_parameters(reference_fmus3):
    """A structural parameter is set in configuration mode (Roberts' dae = true: y3 is no longer computed from
    y1 + y2 + y3 = 1 but stays 0, so y1' = -0.04 y1); one that sizes arrays keeps its value (StateSpace's r)."""
    _, rec = run_single(FmuCoSimSlave("rob", reference_fmus3["Roberts"]), stop=1.0, step=0.25,
                          record=["rob.y1", "rob.y3"], parameters={"dae": True})  # fmt: skip
    assert rec.column("rob.y3") == [0.0] * 5
    assert rec.column("rob.y1") == pytest.approx(np.exp(-0.04 * np.array(rec.times)), rel=1e-6)
    _, ode = run_single(FmuCoSimSlave("rob", reference_fmus3["Roberts"]), stop=1.0, step=0.25, record=["rob.y3"])
    assert ode.column("rob.y3")[-1] > 0.03

    with pytest.raises(SystemDefinitionError, match=r"structural parameter 'r' sizes C, D, y; .* start value 3"):
        run_single(FmuCoSimSlave("ss", reference_fmus3["StateSpace"]), stop=1.0, step=0.5, parameters={"r": 2})
    _, same = run_single(FmuCoSimSlave("ss", reference_fmus3["StateSpace"]), stop=1.0, step=0.5, parameters={"r": 3},
                         record=["ss.y[3]"])  # fmt: skip
    assert same.column("ss.y[3]")[0] == 3.0


@pytest.mark.parametrize("cls", INTERFACES)
def test_fmi3_rollback_and_serialised_states(reference_fmus3, cls):
    """fmi3GetFMUState/SetFMUState under the master's save/restore (also the array inputs' values) and error
    control; fmi3SerializeFMUState moves a state to another instance."""
    system = System()
    system.add(cls("bb", reference_fmus3["BouncingBall"]))
    sim = Simulation(system, MasterOptions(step=0.05, stop_time=2.0), record=["bb.h"])
    sim.run(until=0.5)
    snap = sim.save_state()
    sim.run(until=1.5)
    first = (sim.get("bb.h"), sim.get("bb.v"))
    sim.restore_state(snap)
    assert sim.time == 0.5
    sim.run(until=1.5)
    assert (sim.get("bb.h"), sim.get("bb.v")) == first
    slave = system.slaves["bb"]
    data = slave.serialize_state()
    other = cls("copy", reference_fmus3["BouncingBall"])
    other.setup(0.0)
    other.deserialize_state(data, 1.5)
    assert other.get_outputs(["h", "v"]) == {"h": first[0], "v": first[1]}
    other.terminate()
    sim.run()

    _, controlled = run_single(cls("bb", reference_fmus3["BouncingBall"]), stop=1.0, step=0.1, record=["bb.h"],
                               error_control=True, tolerance=1e-3)  # fmt: skip
    assert controlled.finish_metadata["status"] == "completed"


def test_fmi3_directional_derivatives(reference_fmus3):
    """Roberts declares providesDirectionalDerivatives (fmpy misses the FMI 3.0 spelling; the slave reads it):
    d der(y1) / d y1 = -0.04 at the start (y2 = y3 = 0)."""
    slave = FmuModelExchangeSlave("rob", reference_fmus3["Roberts"])
    assert slave.info.provides_directional_derivative
    slave.setup(0.0)
    try:
        assert slave.directional_derivative(["der(y1)"], ["y1"], [1.0]) == pytest.approx([-0.04])
    finally:
        slave.terminate()
    assert not FmuModelExchangeSlave("ss", reference_fmus3["StateSpace"]).info.provides_directional_derivative


def test_clocks_and_scheduled_execution_are_refused(reference_fmus3, tmp_path):
    with pytest.raises(SystemDefinitionError) as info:
        FmuCoSimSlave("clocks", reference_fmus3["Clocks"])
    assert "neither a Co-Simulation nor a Model Exchange interface (only FMI 3.0 Scheduled Execution" in str(info.value)
    clocked = rewrite_fmu(
        reference_fmus3["Dahlquist"],
        tmp_path / "DahlquistClock.fmu",
        replace={"modelDescription.xml": ("<ModelVariables>", '<ModelVariables>\n<Clock name="tick" '
                                          'valueReference="99" causality="input" intervalVariability="triggered"/>')},
    )  # fmt: skip
    with pytest.raises(SystemDefinitionError, match=r"declares the clock 'tick' .* does not activate clocks"):
        FmuModelExchangeSlave("d", clocked)


def test_fmi3_log_messages_reach_the_slave_log(reference_fmus3):
    """FMI 3.0 log messages are routed per instance (instanceEnvironment): the FMU's message about an illegal call
    (an Int8 input set in continuous-time mode, bypassing the slave's event mode) ends up in the error."""
    messages: list[str] = []
    quiet = FmuModelExchangeSlave("other", reference_fmus3["Feedthrough"])
    slave = FmuModelExchangeSlave("ft", reference_fmus3["Feedthrough"], messages=messages)
    quiet.setup(0.0)
    slave.setup(0.0)
    try:
        with pytest.raises(SimulationError, match=r"slave ft: cannot set Int8_input = 1 .*fmi3SetInt8 returned Error"):
            slave.set_inputs_raw({"Int8_input": 1})
        assert messages and messages[-1].split(": ", 1)[1] in str(slave.last_error_message)
        assert "Illegal call sequence" in messages[-1] or "not allowed" in messages[-1]
        assert quiet.last_error_message == ""
    finally:
        slave.terminate()
        quiet.terminate()


def test_fmi3_without_a_binary_is_compiled_from_its_sources(reference_fmus3, tmp_path):
    original = reference_fmus3["Dahlquist"]
    sources_only = rewrite_fmu(
        original, tmp_path / "DahlquistSources.fmu", keep=lambda n: not n.startswith("binaries/")
    )
    _, expected = run_single(FmuCoSimSlave("d", original), stop=1.0, step=0.1, record=["d.x"])
    slave = FmuCoSimSlave("d", sources_only)
    assert slave.compiled_from_sources
    _, compiled = run_single(slave, stop=1.0, step=0.1, record=["d.x"])
    assert compiled.column("d.x") == expected.column("d.x")
    bare = rewrite_fmu(
        original, tmp_path / "DahlquistBare.fmu", keep=lambda n: not n.startswith(("binaries/", "sources/"))
    )
    with pytest.raises(
        SystemDefinitionError, match=r"no binary for this platform \(x86_64-linux\); it has no binaries"
    ):
        FmuCoSimSlave("d", bare)


def test_float32_values_are_read_as_float32(reference_fmus3):
    """Float32 outputs are read through fmi3GetFloat32 (the double hot path would read garbage)."""
    slave = FmuCoSimSlave("ft", reference_fmus3["Feedthrough"])
    slave.setup(0.0)
    try:
        slave.set_inputs({"Float32_continuous_input": 1.5, "Float64_continuous_input": 2.5})
        read = slave.output_reader(["Float32_continuous_output", "Float64_continuous_output"])
        assert read() == [1.5, 2.5]
    finally:
        slave.terminate()
