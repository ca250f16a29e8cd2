"""Bad calls return fmi2Error with a message (never a crash); failures name the time and the reason."""

from __future__ import annotations

from collections.abc import Callable
from ctypes import c_double, c_int, c_uint, c_void_p
from pathlib import Path

import numpy as np
import pytest
from fmpy import calloc, free, read_model_description
from fmpy.fmi1 import FMICallException
from fmpy.fmi2 import (
    FMU2Slave,
    fmi2CallbackAllocateMemoryTYPE,
    fmi2CallbackFreeMemoryTYPE,
    fmi2CallbackFunctions,
    fmi2CallbackLoggerTYPE,
)

from tests.support.fmu_session import open_fmu, start, unzipped


def test_unknown_value_reference_and_null_arrays(fmu_of: Callable[[str], Path]) -> None:
    s = start(open_fmu(fmu_of("tank_with_loop")))
    with pytest.raises(FMICallException, match="fmi2GetReal"):
        s.fmu.getReal([9999])
    assert any("unknown value reference 9999" in m for m in s.messages)
    with pytest.raises(FMICallException, match="fmi2GetReal"):
        s.fmu.fmi2GetReal(s.fmu.component, None, 2, None)
    with pytest.raises(FMICallException, match="fmi2SetReal"):
        s.fmu.fmi2SetReal(s.fmu.component, None, 1, None)
    # the instance is still usable
    s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=0.1)
    assert s.get("V")[0] > 0


def test_calls_in_the_wrong_state(fmu_of: Callable[[str], Path]) -> None:
    s = open_fmu(fmu_of("tank_with_loop"))
    with pytest.raises(FMICallException, match="fmi2DoStep"):
        s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=0.1)
    assert any("fmi2DoStep: not allowed in instantiated" in m for m in s.messages)
    with pytest.raises(FMICallException, match="fmi2GetReal"):
        s.get("V")
    start(s)
    with pytest.raises(FMICallException, match="fmi2SetReal"):
        s.set(area=1.0)  # a fixed parameter after initialisation
    assert any("parameter 'area' is fixed" in m for m in s.messages)
    with pytest.raises(FMICallException, match="fmi2SetReal"):
        s.set(h=1.0)  # a calculated output
    assert any("'h'" in m and "cannot be set" in m for m in s.messages)
    with pytest.raises(FMICallException, match="fmi2SetReal"):
        s.set(q_in=float("nan"))
    with pytest.raises(FMICallException, match="fmi2DoStep"):
        s.fmu.doStep(currentCommunicationPoint=5.0, communicationStepSize=0.1)  # FMU time is 0
    # a Model Exchange function on a Co-Simulation instance
    set_time = s.fmu.dll.fmi2SetTime
    set_time.argtypes = [c_void_p, c_double]
    set_time.restype = c_int
    assert set_time(s.fmu.component, c_double(1.0)) == 3
    assert any("only for Model Exchange" in m for m in s.messages)
    # NULL component
    get_real = s.fmu.dll.fmi2GetReal
    assert get_real(None, (c_uint * 1)(0), 1, (c_double * 1)()) == 3


def test_wrong_guid_is_refused(fmu_of: Callable[[str], Path]) -> None:
    fmu = fmu_of("linear_system")
    md = read_model_description(str(fmu))
    slave = FMU2Slave(
        guid="{00000000-0000-0000-0000-000000000000}",
        unzipDirectory=unzipped(fmu),
        modelIdentifier=md.coSimulation.modelIdentifier,
        instanceName="wrong",
    )
    messages: list[str] = []

    def logger(env: object, instance_name: bytes, status: int, category: bytes, message: bytes) -> None:
        messages.append(message.decode(errors="replace"))

    # Explicit callbacks: fmpy's module-level default logger proxy can be left dangling by earlier fmpy calls.
    callbacks = fmi2CallbackFunctions()
    callbacks.logger = fmi2CallbackLoggerTYPE(logger)
    callbacks.allocateMemory = fmi2CallbackAllocateMemoryTYPE(calloc)
    callbacks.freeMemory = fmi2CallbackFreeMemoryTYPE(free)
    with pytest.raises(Exception, match="Failed to instantiate"):
        slave.instantiate(callbacks=callbacks)
    assert any("GUID" in m and "does not match" in m for m in messages), messages


def test_an_instance_is_one_allocation(fmu_of: Callable[[str], Path]) -> None:
    """fmi2Instantiate leaves exactly one block allocated through the environment's callbacks (everything else it
    allocates on the way is released), and fmi2FreeInstance releases it; a state snapshot is its own block."""
    fmu = fmu_of("tank_with_loop")
    md = read_model_description(str(fmu))
    live: dict[int, int] = {}  # address -> size of the blocks the FMU holds

    def allocate(nobj: int, size: int) -> int:
        address = calloc(nobj, size)
        live[address] = nobj * size
        return address

    def release(address: int) -> None:
        live.pop(address)
        free(address)

    callbacks = fmi2CallbackFunctions()
    callbacks.logger = fmi2CallbackLoggerTYPE(lambda *args: None)
    callbacks.allocateMemory = fmi2CallbackAllocateMemoryTYPE(allocate)
    callbacks.freeMemory = fmi2CallbackFreeMemoryTYPE(release)
    slave = FMU2Slave(guid=md.guid, unzipDirectory=unzipped(fmu), modelIdentifier=md.coSimulation.modelIdentifier,
                      instanceName="one")  # fmt: skip
    slave.instantiate(callbacks=callbacks)
    assert len(live) == 1, live
    slave.setupExperiment()
    slave.enterInitializationMode()
    slave.exitInitializationMode()
    slave.doStep(currentCommunicationPoint=0.0, communicationStepSize=1.0)
    state = slave.getFMUstate()
    assert len(live) == 2
    slave.freeFMUstate(state)
    slave.terminate()
    slave.freeInstance()
    assert live == {}


def test_integration_failure_is_a_discard_that_a_smaller_step_recovers(fmu_of: Callable[[str], Path]) -> None:
    """An integrator failure inside fmi2DoStep returns fmi2Discard (not fmi2Error) naming time and reason; the
    state at the communication point is intact, so a smaller step from there succeeds (the master's retry)."""
    s = start(open_fmu(fmu_of("blow_up")), tolerance=1e-8)  # y = 1 / (1 - t): no solution past t = 1
    do_step = s.fmu.dll.fmi2DoStep
    do_step.argtypes, do_step.restype = [c_void_p, c_double, c_double, c_int], c_int
    t = 0.0
    for _ in range(9):
        assert do_step(s.fmu.component, t, 0.1, 1) == 0
        t += 0.1
    assert s.get("y")[0] == pytest.approx(1 / (1 - t), rel=1e-4)
    assert do_step(s.fmu.component, t, 0.5, 1) == 2  # fmi2Discard
    failure = [m for m in s.messages if "integration failed" in m]
    assert failure, s.messages
    failed_at = float(failure[0].split("t=")[1].split(":")[0])
    assert 0.99 < failed_at <= 1.0
    assert s.fmu.getRealStatus(2) == pytest.approx(t)  # fmi2LastSuccessfulTime
    assert s.get("y")[0] == pytest.approx(1 / (1 - t), rel=1e-4)  # still the state at t
    assert do_step(s.fmu.component, t, 0.05, 1) == 0  # a smaller step recovers
    assert s.get("y")[0] == pytest.approx(1 / (1 - t - 0.05), rel=1e-4)
    s.fmu.reset()  # a reset instance starts over
    start(s, tolerance=1e-8)
    s.fmu.doStep(currentCommunicationPoint=0.0, communicationStepSize=0.5)
    assert s.get("y")[0] == pytest.approx(2.0, rel=1e-5)


def test_values_set_before_initialisation(fmu_of: Callable[[str], Path]) -> None:
    """A parameter (start of V) and a state with an exact start both reach the initialisation."""
    s = start(open_fmu(fmu_of("tank_with_loop")), V0=1.5)
    assert s.get("V", "q_out") == pytest.approx([1.5, 0.8 * np.sqrt(1.5)], rel=1e-12)
    s2 = start(open_fmu(fmu_of("tank_with_loop"), name="b"), V=2.5)
    assert s2.get("V", "q_out") == pytest.approx([2.5, 0.8 * np.sqrt(2.5)], rel=1e-12)


def test_reset_reproduces_the_first_run(fmu_of: Callable[[str], Path]) -> None:
    s = start(open_fmu(fmu_of("robertson_dae")))
    runs = []
    for _ in range(2):
        t, rows = 0.0, []
        for _ in range(20):
            s.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=0.2)
            t += 0.2
            rows.append(s.get("y1", "y2", "y3"))
        runs.append(np.array(rows))
        s.fmu.reset()
        start(s)
    assert runs[0].tobytes() == runs[1].tobytes()


# Every FMI 2.0 function that takes a component, with argument kinds: p = pointer (passed NULL), n = size_t count
# (passed 1), d = double, i = int. Called with a NULL component and, for a live instance, with NULL pointers.
API = {
    "fmi2SetDebugLogging": "inp",
    "fmi2SetupExperiment": "ididid",
    "fmi2EnterInitializationMode": "",
    "fmi2ExitInitializationMode": "",
    "fmi2Terminate": "",
    "fmi2Reset": "",
    "fmi2GetReal": "pnp",
    "fmi2GetInteger": "pnp",
    "fmi2GetBoolean": "pnp",
    "fmi2GetString": "pnp",
    "fmi2SetReal": "pnp",
    "fmi2SetInteger": "pnp",
    "fmi2SetBoolean": "pnp",
    "fmi2SetString": "pnp",
    "fmi2GetFMUstate": "p",
    "fmi2SetFMUstate": "p",
    "fmi2FreeFMUstate": "p",
    "fmi2SerializedFMUstateSize": "pp",
    "fmi2SerializeFMUstate": "ppn",
    "fmi2DeSerializeFMUstate": "pnp",
    "fmi2GetDirectionalDerivative": "pnpnpp",
    "fmi2EnterEventMode": "",
    "fmi2NewDiscreteStates": "p",
    "fmi2EnterContinuousTimeMode": "",
    "fmi2CompletedIntegratorStep": "ipp",
    "fmi2SetTime": "d",
    "fmi2SetContinuousStates": "pn",
    "fmi2GetDerivatives": "pn",
    "fmi2GetEventIndicators": "pn",
    "fmi2GetContinuousStates": "pn",
    "fmi2GetNominalsOfContinuousStates": "pn",
    "fmi2SetRealInputDerivatives": "pnpp",
    "fmi2GetRealOutputDerivatives": "pnpp",
    "fmi2DoStep": "ddi",
    "fmi2CancelStep": "",
    "fmi2GetStatus": "ip",
    "fmi2GetRealStatus": "ip",
    "fmi2GetIntegerStatus": "ip",
    "fmi2GetBooleanStatus": "ip",
    "fmi2GetStringStatus": "ip",
}


def _call(dll, name: str, component: int | None, kinds: str) -> int:
    from ctypes import c_size_t

    fn = getattr(dll, name)
    types = {"p": c_void_p, "n": c_size_t, "d": c_double, "i": c_int}
    values = {"p": None, "n": 1, "d": 0.5, "i": 1}
    fn.argtypes = [c_void_p] + [types[k] for k in kinds]
    fn.restype = c_int
    return fn(component, *[values[k] for k in kinds])


@pytest.mark.parametrize("kind", ["cs", "me"])
def test_every_api_function_survives_null_arguments(fmu_of: Callable[[str], Path], kind: str) -> None:
    from ctypes import CDLL

    s = start(open_fmu(fmu_of("robertson_dae"), kind=kind, name=f"null-{kind}"))
    dll = CDLL(s.fmu.dll._name)  # own function objects: the argtypes set here must not touch fmpy's
    for name, kinds in API.items():
        if name != "fmi2FreeFMUstate":  # freeing NULL is a no-op by the standard
            assert _call(dll, name, None, kinds) == 3, name
    component = s.fmu.component
    for name, kinds in API.items():
        if "p" not in kinds or name in ("fmi2FreeFMUstate", "fmi2SetDebugLogging"):
            continue
        assert _call(dll, name, component, kinds) >= 2, name  # error or discard, never a crash
    assert len(s.messages) > 20
    # the instance survived all of it: it can still be reset and run
    s.fmu.reset()
    start(s)
    assert s.get("y1")[0] == 1.0
