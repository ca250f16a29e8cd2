"""The FMI-version layer under the FMU slaves: one instance's calls in the terms the slaves use, for FMI 2.0
(``Fmi2Calls``) and FMI 3.0 (``Fmi3Calls``), over fmpy's ``FMU2Slave``/``FMU2Model`` and ``FMU3Slave``/``FMU3Model``.

The slaves (fmu.py) hold everything generic: variables, the master's interface, the Model Exchange integration,
events, state snapshots. What differs between the versions is here: instantiation and log routing, entering
initialisation (fmi2SetupExperiment + fmi2EnterInitializationMode, or fmi3EnterInitializationMode with the
tolerance), the typed get/set calls (FMI 3.0 adds sized types, Binary and arrays: ``nValues``), the step and how an
FMU asks to end the run (fmi2Discard + fmi2GetBooleanStatus(fmi2Terminated), or fmi3DoStep's terminateSimulation),
the event iteration (fmi2NewDiscreteStates / fmi3UpdateDiscreteStates) and the names of the state and derivative
calls. Every call raising on an error status is fmpy's (``FMICallException``).
"""

from __future__ import annotations

import ctypes
import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from fmpy.fmi1 import FMICallException
from fmpy.fmi2 import FMU2Model, FMU2Slave, fmi2Terminated
from fmpy.fmi3 import FMU3Model, FMU3Slave, fmi3IntermediateUpdateCallback, fmi3ValueReference

from orchestrator.cosim.slaves.fmu_logging import FMI3_LOG_MESSAGE, LogHandler, fmi2_callbacks, register, release

#: What a Co-Simulation step came to (``do_step``'s result).
STEP_OK, STEP_DISCARDED, STEP_TERMINATE, STEP_ERROR = 0, 1, 2, 3

_WARNING = 1
_DISCARD = 2

#: FMI 3.0 type -> ctypes type of its values (Binary and String are handled by fmpy's own calls).
_FMI3_CTYPES: dict[str, Any] = {
    "Float32": ctypes.c_float,
    "Float64": ctypes.c_double,
    "Int8": ctypes.c_int8,
    "UInt8": ctypes.c_uint8,
    "Int16": ctypes.c_int16,
    "UInt16": ctypes.c_uint16,
    "Int32": ctypes.c_int32,
    "UInt32": ctypes.c_uint32,
    "Int64": ctypes.c_int64,
    "UInt64": ctypes.c_uint64,
    "Boolean": ctypes.c_bool,
}


class FmiCalls(ABC):
    """One instance of an FMU, in version-neutral calls. ``fmu`` is fmpy's instance, ``c`` its component."""

    version: ClassVar[str]
    #: the FMI names of the step call and of float_io's get and set calls, for messages
    DO_STEP: ClassVar[str]
    GET_FLOAT: ClassVar[str]
    SET_FLOAT: ClassVar[str]

    def __init__(self, fmu: Any, log_key: int) -> None:
        self.fmu = fmu
        self.c = fmu.component
        self.log_key = log_key
        # calls whose fmpy names differ between the versions, under one name
        self.get_fmu_state: Callable[[], Any] = fmu.getFMUstate if self.version == "2.0" else fmu.getFMUState
        self.set_fmu_state: Callable[[Any], None] = fmu.setFMUstate if self.version == "2.0" else fmu.setFMUState
        self._free_state: Callable[[Any], None] = fmu.freeFMUstate if self.version == "2.0" else fmu.freeFMUState

    # ------------------------------------------------------------------ lifecycle
    @abstractmethod
    def enter_initialization(self, tolerance: float | None, start_time: float) -> None:
        """From the instantiated state into initialisation mode, with the relative tolerance and start time."""

    def exit_initialization(self) -> None:
        self.fmu.exitInitializationMode()

    def free_state(self, handle: Any) -> None:
        self._free_state(handle)

    @abstractmethod
    def serialize_state(self, handle: Any) -> bytes:
        """The FMU state handle as bytes."""

    @abstractmethod
    def deserialize_state(self, data: bytes) -> Any:
        """A new FMU state handle from serialize_state's bytes."""

    def terminate(self) -> None:
        self.fmu.terminate()

    def free(self) -> None:
        """fmiFreeInstance, unload the library and stop routing this instance's log messages."""
        try:
            self.fmu.freeInstance()
        finally:
            release(self.log_key)

    def set_debug_logging(self, categories: Sequence[str]) -> None:
        self.fmu.setDebugLogging(True, list(categories))

    # ------------------------------------------------------------------ values
    @abstractmethod
    def get(self, kind: str, vrs: Sequence[int], n_values: int) -> list[Any]:
        """The n_values values of the variables vrs (all of type kind; arrays give several values each)."""

    @abstractmethod
    def set(self, kind: str, vrs: Sequence[int], values: Sequence[Any]) -> None:
        """Set the variables vrs (all of type kind) to values (arrays take all their values, row-major)."""

    @abstractmethod
    def float_io(self, vrs: Sequence[int], n_values: int, write: bool) -> tuple[Callable[[], int], Any]:
        """The hot path: (call, buffer) where call() reads the Float64/Real variables vrs into the ctypes buffer of
        n_values doubles (or writes it to them when write) and returns the FMI status."""

    def directional_derivative(
        self, unknowns: Sequence[int], knowns: Sequence[int], seed: Sequence[float]
    ) -> list[float]:
        return list(self.fmu.getDirectionalDerivative(list(unknowns), list(knowns), list(seed)))

    # ------------------------------------------------------------------ Co-Simulation
    @abstractmethod
    def stepper(self) -> tuple[Callable[[float, float, int], int], Callable[[int], int]]:
        """The hot path of a step: (raw, outcome). raw(t, h, 1) takes the step and returns the FMI status (at most
        fmiWarning: the step was taken); for a higher status, outcome(status) tells STEP_DISCARDED, STEP_TERMINATE
        or STEP_ERROR."""

    def set_input_derivatives(self, vrs: Sequence[int], order: int, values: Sequence[float]) -> None:
        raise NotImplementedError(f"FMI {self.version} Co-Simulation takes no input derivatives")

    # ------------------------------------------------------------------ Model Exchange
    def enter_event_mode(self) -> None:
        self.fmu.enterEventMode()

    def enter_continuous_time_mode(self) -> None:
        self.fmu.enterContinuousTimeMode()

    @abstractmethod
    def update_discrete_states(self) -> tuple[bool, bool, bool, bool, bool, float]:
        """One step of the event iteration: (more needed, terminate, nominals changed, states changed, next time
        event defined, next event time)."""

    def completed_integrator_step(self) -> tuple[bool, bool]:
        """(enter event mode, terminate simulation)."""
        enter, terminate = self.fmu.completedIntegratorStep(False)
        return bool(enter), bool(terminate)

    def set_time(self, t: float) -> None:
        self.fmu.setTime(t)

    def get_states(self, x: Any, n: int) -> None:
        self.fmu.getContinuousStates(x, n)

    def set_states(self, x: Any, n: int) -> None:
        self.fmu.setContinuousStates(x, n)

    @abstractmethod
    def get_derivatives(self, dx: Any, n: int) -> None:
        """The state derivatives at the current time, states and inputs into dx (n doubles)."""

    def get_event_indicators(self, z: Any, n: int) -> None:
        self.fmu.getEventIndicators(z, n)

    def get_nominals(self, nominals: Any, n: int) -> None:
        self.fmu.getNominalsOfContinuousStates(nominals, n)


class Fmi2Calls(FmiCalls):
    version = "2.0"
    DO_STEP = "fmi2DoStep"
    GET_FLOAT, SET_FLOAT = "fmi2GetReal", "fmi2SetReal"
    _GET: ClassVar[dict[str, str]] = {
        "Real": "getReal",
        "Integer": "getInteger",
        "Boolean": "getBoolean",
        "String": "getString",
    }
    _SET: ClassVar[dict[str, str]] = {
        "Real": "setReal",
        "Integer": "setInteger",
        "Boolean": "setBoolean",
        "String": "setString",
    }

    def enter_initialization(self, tolerance: float | None, start_time: float) -> None:
        self.fmu.setupExperiment(tolerance=tolerance, startTime=start_time)
        self.fmu.enterInitializationMode()

    def serialize_state(self, handle: Any) -> bytes:
        return bytes(self.fmu.serializeFMUstate(handle))

    def deserialize_state(self, data: bytes) -> Any:
        return self.fmu.deSerializeFMUstate(data)

    def get(self, kind: str, vrs: Sequence[int], n_values: int) -> list[Any]:
        values = getattr(self.fmu, self._GET[kind])(list(vrs))
        if kind == "String":
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
        return list(values)

    def set(self, kind: str, vrs: Sequence[int], values: Sequence[Any]) -> None:
        getattr(self.fmu, self._SET[kind])(list(vrs), list(values))

    def float_io(self, vrs: Sequence[int], n_values: int, write: bool) -> tuple[Callable[[], int], Any]:
        function = getattr(self.fmu.dll, self.SET_FLOAT if write else self.GET_FLOAT)
        function.restype = ctypes.c_int
        refs = (ctypes.c_uint * len(vrs))(*vrs)
        buf = (ctypes.c_double * n_values)()
        return functools.partial(function, self.c, refs, len(refs), buf), buf

    def stepper(self) -> tuple[Callable[[float, float, int], int], Callable[[int], int]]:
        do_step = self.fmu.dll.fmi2DoStep
        do_step.restype = ctypes.c_int
        do_step.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_int]

        def outcome(status: int) -> int:
            if status == _DISCARD:
                return STEP_TERMINATE if self._terminated() else STEP_DISCARDED
            return STEP_ERROR

        return functools.partial(do_step, self.c), outcome  # no Python frame per step

    def _terminated(self) -> bool:
        """fmi2GetBooleanStatus(fmi2Terminated): after a discarded step, whether the FMU asks to end the run."""
        try:
            return bool(self.fmu.getBooleanStatus(fmi2Terminated))
        except FMICallException:  # the FMU does not answer: a plain discard
            return False

    def set_input_derivatives(self, vrs: Sequence[int], order: int, values: Sequence[float]) -> None:
        self.fmu.setRealInputDerivatives(list(vrs), [order] * len(vrs), list(values))

    def update_discrete_states(self) -> tuple[bool, bool, bool, bool, bool, float]:
        return self.fmu.newDiscreteStates()

    def get_derivatives(self, dx: Any, n: int) -> None:
        self.fmu.getDerivatives(dx, n)


class Fmi3Calls(FmiCalls):
    version = "3.0"
    DO_STEP = "fmi3DoStep"
    GET_FLOAT, SET_FLOAT = "fmi3GetFloat64", "fmi3SetFloat64"

    def enter_initialization(self, tolerance: float | None, start_time: float) -> None:
        self.fmu.enterInitializationMode(tolerance=tolerance, startTime=start_time)

    def enter_configuration_mode(self) -> None:
        self.fmu.enterConfigurationMode()

    def exit_configuration_mode(self) -> None:
        self.fmu.exitConfigurationMode()

    def serialize_state(self, handle: Any) -> bytes:
        return bytes(self.fmu.serializeFMUState(handle))

    def deserialize_state(self, data: bytes) -> Any:
        return self.fmu.deserializeFMUState(data)

    def get(self, kind: str, vrs: Sequence[int], n_values: int) -> list[Any]:
        if kind == "String":
            return list(self.fmu.getString(list(vrs), n_values))
        if kind == "Binary":
            return list(self.fmu.getBinary(list(vrs), n_values))
        refs = (fmi3ValueReference * len(vrs))(*vrs)
        values = (_FMI3_CTYPES[kind] * n_values)()
        getattr(self.fmu, f"fmi3Get{kind}")(self.c, refs, len(refs), values, n_values)
        return list(values)

    def set(self, kind: str, vrs: Sequence[int], values: Sequence[Any]) -> None:
        if kind == "String":
            self.fmu.setString(list(vrs), list(values))
            return
        if kind == "Binary":
            self.fmu.setBinary(list(vrs), list(values))
            return
        refs = (fmi3ValueReference * len(vrs))(*vrs)
        array = (_FMI3_CTYPES[kind] * len(values))(*values)
        getattr(self.fmu, f"fmi3Set{kind}")(self.c, refs, len(refs), array, len(values))

    def float_io(self, vrs: Sequence[int], n_values: int, write: bool) -> tuple[Callable[[], int], Any]:
        function = getattr(self.fmu.dll, self.SET_FLOAT if write else self.GET_FLOAT)
        function.restype = ctypes.c_int
        refs = (ctypes.c_uint * len(vrs))(*vrs)
        buf = (ctypes.c_double * n_values)()
        return functools.partial(function, self.c, refs, len(refs), buf, n_values), buf

    def stepper(self) -> tuple[Callable[[float, float, int], int], Callable[[int], int]]:
        do_step = self.fmu.dll.fmi3DoStep
        do_step.restype = ctypes.c_int
        flag = ctypes.POINTER(ctypes.c_bool)
        do_step.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_bool, flag, flag, flag,
                            ctypes.POINTER(ctypes.c_double)]  # fmt: skip
        event, terminate, early = ctypes.c_bool(), ctypes.c_bool(), ctypes.c_bool()
        last = ctypes.c_double()
        args = (ctypes.byref(event), ctypes.byref(terminate), ctypes.byref(early), ctypes.byref(last))
        c = self.c

        def raw(t: float, h: float, no_set_prior: int) -> int:
            terminate.value = False
            status: int = do_step(c, t, h, bool(no_set_prior), *args)
            return _DISCARD if terminate.value and status <= _DISCARD else status

        def outcome(status: int) -> int:
            if status == _DISCARD:
                return STEP_TERMINATE if terminate.value else STEP_DISCARDED
            return STEP_ERROR

        return raw, outcome

    def update_discrete_states(self) -> tuple[bool, bool, bool, bool, bool, float]:
        return self.fmu.updateDiscreteStates()

    def get_derivatives(self, dx: Any, n: int) -> None:
        self.fmu.getContinuousStateDerivatives(dx, n)


#: Calls by FMI version ("2.0", "3.0").
CALLS: dict[str, type[FmiCalls]] = {"2.0": Fmi2Calls, "3.0": Fmi3Calls}


def instantiate(
    version: str,
    interface: str,
    guid: str,
    unzip_dir: str,
    model_identifier: str,
    instance_name: str,
    on_log: LogHandler,
    logging_on: bool = False,
) -> FmiCalls:
    """Load the binary and instantiate ("cs" or "me") an FMU of FMI ``version``, its log messages going to
    on_log(status, category, text). Raises fmpy's exceptions (a plain Exception when the instance is NULL)."""
    if version == "2.0":
        fmu: Any = (FMU2Slave if interface == "cs" else FMU2Model)(
            guid=guid, unzipDirectory=unzip_dir, modelIdentifier=model_identifier, instanceName=instance_name
        )
        callbacks, key = fmi2_callbacks(on_log)
        fmu._o2twin_callbacks = callbacks  # the ctypes callbacks live as long as the instance
        try:
            fmu.instantiate(callbacks=callbacks, loggingOn=logging_on)
        except Exception:  # not swallowed: the library and log key are freed, then the error goes to the caller
            fmu.freeLibrary()
            release(key)
            raise
        return Fmi2Calls(fmu, key)
    fmu = (FMU3Slave if interface == "cs" else FMU3Model)(
        guid=guid, unzipDirectory=unzip_dir, modelIdentifier=model_identifier, instanceName=instance_name
    )
    key = register(on_log)
    resources = (os.path.join(unzip_dir, "resources") + os.path.sep).encode("utf-8")
    name, token = instance_name.encode("utf-8"), guid.encode("utf-8")
    if interface == "cs":
        fmu._o2twin_update = update = fmi3IntermediateUpdateCallback()  # NULL: no intermediate updates
        component = fmu.fmi3InstantiateCoSimulation(
            name, token, resources, False, logging_on, False, False, None, 0, key, FMI3_LOG_MESSAGE, update
        )
    else:
        component = fmu.fmi3InstantiateModelExchange(name, token, resources, False, logging_on, key, FMI3_LOG_MESSAGE)
    if not component:
        fmu.freeLibrary()
        release(key)
        raise Exception("fmi3Instantiate returned NULL")
    fmu.component = component
    return Fmi3Calls(fmu, key)
