"""FMI 2.0 FMUs as co-simulation slaves, over fmpy: Co-Simulation (the FMU integrates) and Model Exchange (the
master integrates with a stiff scipy solver).

Capabilities come from modelDescription.xml: canGetAndSetFMUstate -> rollback, providesDirectionalDerivative ->
Newton on algebraic loops, canInterpolateInputs -> first-order input derivatives, ModelStructure/Outputs ->
direct feedthrough. Values are read and written by value reference through preallocated ctypes arrays (the hot
path). FMU log messages go to ``logging.getLogger(f"o2twin.fmu.{name}")``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from fmpy.fmi1 import FMICallException
from fmpy.fmi2 import (
    fmi2Discard,
    fmi2False,
    fmi2FMUstate,
    fmi2Terminated,
    fmi2True,
    fmi2Warning,
)

from orchestrator.cosim.slaves.base import Causality, Slave, SlaveInfo, Variable, VarType
from orchestrator.cosim.slaves.fmu_files import UnpackedFmu
from orchestrator.cosim.slaves.fmu_logging import release
from orchestrator.errors import SimulationError, SystemDefinitionError

_STATUS_LEVEL = {0: logging.DEBUG, 1: logging.WARNING, 2: logging.WARNING, 3: logging.ERROR, 4: logging.CRITICAL}
_STATUS_NAME = {0: "OK", 1: "Warning", 2: "Discard", 3: "Error", 4: "Fatal", 5: "Pending"}
_TYPE = {"Real": "Real", "Integer": "Integer", "Enumeration": "Integer", "Boolean": "Boolean", "String": "String"}

log = logging.getLogger(__name__)


class _FmuState:
    """An FMU state snapshot; freed with the FMU instance (or when garbage collected while it is alive)."""

    __slots__ = ("__weakref__", "extra", "handle", "owner", "time")

    def __init__(self, owner: _FmuSlaveBase, handle: fmi2FMUstate, time: float, extra: Any = None) -> None:
        self.owner = owner
        self.handle = handle
        self.time = time
        self.extra = extra  # what the Python side of the slave must restore too

    def __del__(self) -> None:
        owner = self.owner
        if owner is not None and owner._fmu is not None and self.handle:
            with contextlib.suppress(Exception):
                owner._fmu.freeFMUstate(self.handle)
        self.handle = None


class _FmuSlaveBase(Slave):
    """What CS and ME slaves share: model description, variables, value references, logging, get/set."""

    interface = "cs"

    def __init__(
        self,
        name: str,
        fmu_path: str | Path,
        *,
        tolerance: float | None = None,
        logging_on: bool = False,
        messages: list[str] | None = None,
    ) -> None:
        self.name = name
        #: if a list, every FMU log message is appended to it as "category: message" (validation scripts)
        self.messages = messages
        self.fmu_path = Path(fmu_path)
        # Unpacked once, now: the model description and the binary then come from the same archive even if the
        # .fmu file is replaced (re-exported) before setup.
        self.unpacked = UnpackedFmu(self.fmu_path, name, what=f"slave {name}: FMU '{self.fmu_path}'")
        self.model_description = md = self.unpacked.model_description
        self.guid: str = md.guid
        default = md.defaultExperiment
        #: relative tolerance passed to fmi2SetupExperiment: the argument, else the DefaultExperiment's, else none
        self.tolerance = tolerance if tolerance is not None else _float_or_none(default and default.tolerance)
        self.logging_on = logging_on
        self.log = logging.getLogger(f"o2twin.fmu.{name}")
        self.last_error_message = ""
        #: Wall time (s) spent in FMI get/set/directional-derivative calls (benchmarks separate it from the master).
        self.io_s = 0.0
        self._model_vars = {v.name: v for v in md.modelVariables}
        self.variables = {v.name: _to_variable(v) for v in md.modelVariables}
        self._vr = {v.name: v.valueReference for v in md.modelVariables}
        self._type = {v.name: _TYPE.get(v.type, "Real") for v in md.modelVariables}
        self.info = SlaveInfo(direct_feedthrough=_direct_feedthrough(md))
        self._fmu: Any = None
        self._states: weakref.WeakSet[_FmuState] = weakref.WeakSet()
        self._log_key: int | None = None

    def _interface_identifier(self, interface: str) -> str:
        """The modelIdentifier of the interface, binary ready; on a definition error the unpacked files go."""
        try:
            return self.unpacked.model_identifier(interface)
        except SystemDefinitionError:
            self.unpacked.remove()
            raise

    @property
    def compiled_from_sources(self) -> bool:
        """True when the FMU had no binary for this platform and its sources/ were compiled."""
        return self.unpacked.compiled_from_sources

    # ---------------------------------------------------------------- logging
    def _on_log(self, status: int, cat: str, text: str) -> None:
        if status > fmi2Warning:
            self.last_error_message = text
        if self.messages is not None:
            self.messages.append(f"{cat}: {text}")
        self.log.log(_STATUS_LEVEL.get(status, logging.ERROR), "[%s] %s", cat, text)

    def fail(self, what: str, time: float | None, exc: Exception | None = None) -> SimulationError:
        """A SimulationError naming this slave, the time and the FMU's last error message."""
        at = f" at t = {time:.9g} s" if time is not None else ""
        status = ""
        if isinstance(exc, FMICallException):
            status = f" ({exc.function} returned {_STATUS_NAME.get(exc.status, exc.status)})"
        detail = f": {self.last_error_message}" if self.last_error_message else ""
        return SimulationError(f"slave {self.name}: {what}{at}{status}{detail}", slave=self.name, time=time)

    # --------------------------------------------------------------- lifecycle
    def _instantiate(self, interface: str, model_identifier: str) -> None:
        if self.unpacked.directory is None:
            raise SimulationError(f"slave {self.name}: it was terminated and cannot be set up again")
        try:
            self._fmu, self._log_key = self.unpacked.instantiate(
                interface, model_identifier, self.name, self._on_log, self.logging_on
            )
        except SimulationError as exc:
            raise self.fail(f"fmi2Instantiate failed for '{self.fmu_path}' ({exc.__cause__ or exc})", None) from exc

    def _apply_values(self, values: Mapping[str, Any], time: float | None) -> None:
        for key, value in values.items():
            var = self._model_vars.get(key)
            if var is None:
                raise SystemDefinitionError(f"slave {self.name}: the FMU has no variable '{key}'")
            self._set_one(key, value, time)

    def _set_one(self, key: str, value: Any, time: float | None) -> None:
        vr = [self._vr[key]]
        kind = self._type[key]
        try:
            if kind == "Real":
                self._fmu.setReal(vr, [float(value)])
            elif kind == "Integer":
                self._fmu.setInteger(vr, [int(value)])
            elif kind == "Boolean":
                self._fmu.setBoolean(vr, [bool(value)])
            else:
                self._fmu.setString(vr, [str(value)])
        except FMICallException as exc:
            raise self.fail(f"cannot set {key} = {value!r}", time, exc) from exc

    def _setup_common(self, start_time: float, parameters: Mapping[str, Any] | None) -> None:
        fmu = self._fmu
        try:
            fmu.setupExperiment(tolerance=self.tolerance, startTime=start_time)
            self._apply_values(parameters or {}, start_time)
            fmu.enterInitializationMode()
            fmu.exitInitializationMode()
        except FMICallException as exc:
            raise self.fail("initialisation failed", start_time, exc) from exc
        self._time = start_time
        self._init_hot_path()

    def _init_hot_path(self) -> None:
        lib = self._fmu.dll
        self._c = self._fmu.component
        self._get_real = lib.fmi2GetReal
        self._set_real = lib.fmi2SetReal
        self._get_real.restype = ctypes.c_int
        self._set_real.restype = ctypes.c_int

    def set_inputs(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self._set_one(key, value, getattr(self, "_time", None))

    def set_parameter(self, name: str, value: Any) -> None:
        var = self._model_vars.get(name)
        if (
            var is None
            or var.causality not in ("parameter", "input")
            or (var.causality == "parameter" and var.variability != "tunable")
        ):
            raise SimulationError(
                f"slave {self.name}: '{name}' is not an input or tunable parameter and cannot be set during a run"
            )
        self._set_one(name, value, getattr(self, "_time", None))

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, float]:
        if names is None:
            names = [v.name for v in self.outputs()]
        out: dict[str, float] = {}
        for key in names:
            if key not in self._vr:
                raise SystemDefinitionError(f"slave {self.name}: the FMU has no variable '{key}'")
            vr = [self._vr[key]]
            kind = self._type[key]
            try:
                if kind == "Real":
                    out[key] = self._fmu.getReal(vr)[0]
                elif kind == "Integer":
                    out[key] = self._fmu.getInteger(vr)[0]
                elif kind == "Boolean":
                    out[key] = self._fmu.getBoolean(vr)[0]
                else:
                    out[key] = self._fmu.getString(vr)[0]
            except FMICallException as exc:
                raise self.fail(f"cannot get {key}", getattr(self, "_time", None), exc) from exc
        return out

    def output_reader(self, names: Sequence[str]) -> Callable[[], list[float]]:
        names = list(names)
        if not all(self._type.get(n) == "Real" for n in names):
            return super().output_reader(names)
        n = len(names)
        vrs = (ctypes.c_uint * n)(*[self._vr[k] for k in names])
        buf = (ctypes.c_double * n)()
        get_real, c = self._get_real, self._c
        perf = time.perf_counter

        def read() -> list[float]:
            t0 = perf()
            status = get_real(c, vrs, n, buf)
            self.io_s += perf() - t0
            if status > fmi2Warning:
                raise self.fail(f"fmi2GetReal({', '.join(names)}) failed", self._time)
            return buf[:]

        return read

    def input_writer(self, names: Sequence[str]) -> Callable[[Sequence[float]], None]:
        names = list(names)
        if not all(self._type.get(n) == "Real" for n in names):
            return super().input_writer(names)
        n = len(names)
        vrs = (ctypes.c_uint * n)(*[self._vr[k] for k in names])
        buf = (ctypes.c_double * n)()
        set_real, c = self._set_real, self._c
        perf = time.perf_counter

        def write(values: Sequence[float]) -> None:
            buf[:] = values  # type: ignore[call-overload]  # any sequence of floats fills a ctypes array
            t0 = perf()
            status = set_real(c, vrs, n, buf)
            self.io_s += perf() - t0
            if status > fmi2Warning:
                raise self.fail(f"fmi2SetReal({', '.join(names)}) failed", self._time)

        return write

    def directional_derivative(
        self, unknowns: Sequence[str], knowns: Sequence[str], seed: Sequence[float]
    ) -> list[float]:
        t0 = time.perf_counter()
        try:
            return self._fmu.getDirectionalDerivative(
                [self._vr[k] for k in unknowns], [self._vr[k] for k in knowns], list(seed)
            )
        except FMICallException as exc:
            raise self.fail("fmi2GetDirectionalDerivative failed", self._time, exc) from exc
        finally:
            self.io_s += time.perf_counter() - t0

    def get_state(self) -> _FmuState:
        if not self.info.can_rollback:
            raise SimulationError(f"slave {self.name}: the FMU cannot save its state (canGetAndSetFMUstate false)")
        try:
            handle = self._fmu.getFMUstate()
        except FMICallException as exc:
            raise self.fail("fmi2GetFMUstate failed", self._time, exc) from exc
        state = _FmuState(self, handle, self._time)
        self._states.add(state)
        return state

    def set_state(self, state: _FmuState) -> None:
        try:
            self._fmu.setFMUstate(state.handle)
        except FMICallException as exc:
            raise self.fail("fmi2SetFMUstate failed", self._time, exc) from exc
        self._time = state.time

    def serialize_state(self) -> bytes:
        """The FMU's whole state as bytes (canSerializeFMUstate), e.g. to start other runs from it."""
        try:
            handle = self._fmu.getFMUstate()
            try:
                return bytes(self._fmu.serializeFMUstate(handle))
            finally:
                self._fmu.freeFMUstate(handle)
        except FMICallException as exc:
            raise self.fail("cannot serialize the FMU state", self._time, exc) from exc

    def deserialize_state(self, data: bytes, time: float) -> None:
        """Restore a state from serialize_state (of this or another instance of the same FMU) at time (s)."""
        try:
            handle = self._fmu.deSerializeFMUstate(data)
            try:
                self._fmu.setFMUstate(handle)
            finally:
                self._fmu.freeFMUstate(handle)
        except FMICallException as exc:
            raise self.fail("cannot restore a serialized FMU state", time, exc) from exc
        self._time = time

    def set_debug_logging(self, categories: Sequence[str]) -> None:
        """Switch on the FMU's log categories (e.g. 'logStatistics')."""
        self._fmu.setDebugLogging(True, list(categories))

    def terminate(self) -> None:
        fmu = self._fmu
        if fmu is None:  # never set up (or terminated already): only the extracted files to remove
            self.unpacked.remove()
            return
        for state in list(self._states):
            if state.handle:
                with contextlib.suppress(FMICallException):
                    fmu.freeFMUstate(state.handle)
                state.handle = None
        try:
            fmu.terminate()
        except FMICallException as exc:
            self.log.warning("fmi2Terminate failed: %s", exc)
        fmu.freeInstance()
        if self._log_key is not None:
            release(self._log_key)
            self._log_key = None
        self._fmu = None
        self.unpacked.remove()


class FmuCoSimSlave(_FmuSlaveBase):
    """An FMI 2.0 Co-Simulation FMU: the FMU's own solver advances it in fmi2DoStep."""

    interface = "cs"

    def __init__(self, name: str, fmu_path: str | Path, **kwargs: Any) -> None:
        super().__init__(name, fmu_path, **kwargs)
        self._model_identifier = self._interface_identifier("cs")
        cs = self.model_description.coSimulation
        self.info.can_rollback = bool(cs.canGetAndSetFMUstate)
        self.info.provides_directional_derivative = bool(cs.providesDirectionalDerivative)
        self.info.max_input_derivative_order = 1 if cs.canInterpolateInputs else 0
        self.max_output_derivative_order = int(cs.maxOutputDerivativeOrder or 0)

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        self._instantiate("cs", self._model_identifier)
        self._setup_common(start_time, parameters)
        self._do_step = self._fmu.dll.fmi2DoStep
        self._do_step.restype = ctypes.c_int
        self._do_step.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_int]

    def _terminated(self) -> bool:
        """fmi2GetBooleanStatus(fmi2Terminated): after a discarded step, whether the FMU asks to end the run."""
        try:
            return bool(self._fmu.getBooleanStatus(fmi2Terminated))
        except FMICallException:  # the FMU does not answer: a plain discard
            return False

    def set_input_derivatives(self, derivatives: Mapping[str, float], order: int = 1) -> None:
        if order > self.info.max_input_derivative_order:
            raise NotImplementedError(f"{self.name} does not accept input derivatives of order {order}")
        names = list(derivatives)
        try:
            self._fmu.setRealInputDerivatives(
                [self._vr[k] for k in names], [order] * len(names), [float(derivatives[k]) for k in names]
            )
        except FMICallException as exc:
            raise self.fail("fmi2SetRealInputDerivatives failed", self._time, exc) from exc

    def step(self, t: float, h: float) -> bool:
        status = self._do_step(self._c, t, h, fmi2True)
        if status > fmi2Warning:
            if status == fmi2Discard:
                self.termination_requested = self._terminated()
                return False
            raise self.fail(f"fmi2DoStep from t = {t:.9g} s by {h:.3g} s failed", t)
        self._time = t + h
        return True


class FmuModelExchangeSlave(_FmuSlaveBase):
    """An FMI 2.0 Model Exchange FMU integrated by the master with scipy's stiff solvers (BDF by default).

    Inputs are held over a step, or varied linearly when the master sets first-order input derivatives (the master
    owns the integrator, so ME slaves always accept them). Time events announced by the FMU are stepped onto; state
    events (event indicators changing sign) are located by solve_ivp's event search; the event iteration runs there
    and whenever fmi2CompletedIntegratorStep asks for it.
    """

    interface = "me"

    def __init__(
        self,
        name: str,
        fmu_path: str | Path,
        *,
        method: str = "BDF",
        rtol: float | None = None,
        atol: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, fmu_path, **kwargs)
        self._model_identifier = self._interface_identifier("me")
        me = self.model_description.modelExchange
        self.method = method
        #: the integrator's tolerances: given, else from the slave's tolerance (argument or DefaultExperiment)
        self.rtol = rtol if rtol is not None else (self.tolerance if self.tolerance is not None else 1e-6)
        self.atol = atol if atol is not None else 1e-2 * self.rtol
        self.info.can_rollback = bool(me.canGetAndSetFMUstate)
        self.info.provides_directional_derivative = bool(me.providesDirectionalDerivative)
        self.info.max_input_derivative_order = 1
        #: inputs that may only change in event mode (FMI 2.0: discrete variability, non-Real types)
        self._discrete_inputs = {
            v.name for v in self.model_description.modelVariables
            if v.causality == "input" and (v.variability == "discrete" or _TYPE.get(v.type, "Real") != "Real")
        }  # fmt: skip
        self._nx = int(self.model_description.numberOfContinuousStates)
        self._nz = int(self.model_description.numberOfEventIndicators)
        self.max_events_per_step = 1000
        self._input_slopes: dict[str, float] = {}
        self.rhs_evaluations = 0

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        from scipy.integrate import solve_ivp  # local: only ME users pay the import

        self._solve_ivp = solve_ivp
        self._instantiate("me", self._model_identifier)
        self._setup_common(start_time, parameters)
        self._next_time_event, terminate = self._event_iteration()
        if terminate:
            raise self.fail("the FMU requested to terminate during initialisation", start_time)
        self._fmu.enterContinuousTimeMode()
        self._continuous = True
        self._x = np.zeros(self._nx)
        self._dx = np.zeros(self._nx)
        self._x_c = self._x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._dx_c = self._dx.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._z = np.zeros(self._nz)
        self._z_c = self._z.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._inputs_at_t: dict[str, float] = {}

    def _event_iteration(self) -> tuple[float | None, bool]:
        """Run fmi2NewDiscreteStates to a fixed point: (the next time event or None, terminate requested)."""
        fmu = self._fmu
        while True:
            (need_more, terminate, _, _, defined, next_time) = fmu.newDiscreteStates()
            if terminate:
                return (next_time if defined else None), True
            if not need_more:
                return (next_time if defined else None), False

    def _in_event_mode(self, set_values: Callable[[], None]) -> None:
        """Set discrete inputs or tunable parameters as FMI 2.0 requires of Model Exchange: in event mode, followed
        by the event iteration (a terminate request then ends the run at the next step)."""
        if not getattr(self, "_continuous", False):  # not initialised yet: values go in before initialisation
            set_values()
            return
        fmu = self._fmu
        fmu.enterEventMode()
        set_values()
        self._next_time_event, terminate = self._event_iteration()
        self.termination_requested = self.termination_requested or terminate
        fmu.enterContinuousTimeMode()

    def set_inputs(self, values: Mapping[str, float]) -> None:
        discrete = {k: v for k, v in values.items() if k in self._discrete_inputs}
        continuous = {k: v for k, v in values.items() if k not in self._discrete_inputs}
        if continuous:
            super().set_inputs(continuous)
        changed = {k: v for k, v in discrete.items() if self._inputs_at_t.get(k) != v}
        if changed:
            self._in_event_mode(lambda: super(FmuModelExchangeSlave, self).set_inputs(changed))
        self._inputs_at_t.update(values)
        self._input_slopes = {}

    def set_parameter(self, name: str, value: Any) -> None:
        self._in_event_mode(lambda: super(FmuModelExchangeSlave, self).set_parameter(name, value))

    def input_writer(self, names: Sequence[str]) -> Callable[[Sequence[float]], None]:
        names = list(names)
        if any(n in self._discrete_inputs for n in names):  # event mode when they change: the general path
            return Slave.input_writer(self, names)
        base = super().input_writer(names)

        def write(values: Sequence[float]) -> None:
            base(values)
            self._inputs_at_t.update(zip(names, values, strict=True))
            self._input_slopes = {}

        return write

    def set_input_derivatives(self, derivatives: Mapping[str, float], order: int = 1) -> None:
        if order != 1:
            raise NotImplementedError(f"{self.name} accepts first-order input derivatives only")
        self._input_slopes = {k: float(v) for k, v in derivatives.items()}

    def _set_point(self, t: float, x: np.ndarray, t_start: float) -> None:
        """Put the FMU at (t, x) with the inputs as they are during the step started at t_start."""
        if self._input_slopes:
            dt = t - t_start
            self.set_inputs_raw({k: self._inputs_at_t[k] + s * dt for k, s in self._input_slopes.items()})
        self._fmu.setTime(t)
        self._x[:] = x
        self._fmu.setContinuousStates(self._x_c, self._nx)

    def _rhs(self, t: float, x: np.ndarray, t_start: float) -> np.ndarray:
        self._set_point(t, x, t_start)
        self._fmu.getDerivatives(self._dx_c, self._nx)
        self.rhs_evaluations += 1
        return self._dx.copy()

    def _indicators(self, t: float, x: np.ndarray, t_start: float) -> np.ndarray:
        """Event indicators at (t, x), inputs as during the step."""
        self._set_point(t, x, t_start)
        self._fmu.getEventIndicators(self._z_c, self._nz)
        return self._z

    def _event_functions(self, t_now: float, x0: np.ndarray, t_start: float) -> list[Callable[..., float]]:
        """solve_ivp event functions for the indicators that are not zero at the segment start (an indicator
        sitting at zero right after its event would otherwise stop the integration again at once)."""
        if not self._nz:
            return []
        z0 = self._indicators(t_now, x0, t_start).copy()
        functions = []
        for i in range(self._nz):
            if z0[i] == 0.0:
                continue

            def event(tt: float, x: np.ndarray, ts: float, i: int = i) -> float:
                return float(self._indicators(tt, x, ts)[i])

            event.terminal = True  # type: ignore[attr-defined]
            event.index = i  # type: ignore[attr-defined]
            functions.append(event)
        return functions

    def _past_event(self, sol: Any, events: list, t_now: float, x0: np.ndarray, t_start: float, t_limit: float):
        """(t, x) at the located event, nudged forward until the indicator has really changed sign: the root
        search stops within its tolerance on either side, and an FMU decides its event from the sign."""
        k = next(i for i, te in enumerate(sol.t_events) if len(te))
        index = events[k].index
        z0 = np.sign(self._indicators(t_now, x0, t_start)[index])
        te = float(sol.t_events[k][0])
        for delta in (0.0, 1e-14, 1e-12, 1e-10, 1e-8):
            tt = min(te + delta * max(1.0, abs(te)), t_limit)  # the interpolant extends a little past te
            x = sol.sol(tt)
            if np.sign(self._indicators(tt, x, t_start)[index]) != z0:
                return tt, x
        return float(sol.t[-1]), sol.y[:, -1]

    def set_inputs_raw(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self._set_one(key, value, None)

    def step(self, t: float, h: float) -> bool:
        fmu = self._fmu
        t_end = t + h
        t_now = t
        n_events = 0
        try:
            while t_now < t_end:
                t_stop = t_end
                if self._next_time_event is not None and t_now < self._next_time_event < t_end:
                    t_stop = self._next_time_event
                state_event = False
                if self._nx:
                    fmu.getContinuousStates(self._x_c, self._nx)
                    x0 = self._x.copy()
                    events = self._event_functions(t_now, x0, t)
                    sol = self._solve_ivp(
                        self._rhs,
                        (t_now, t_stop),
                        x0,
                        method=self.method,
                        rtol=self.rtol,
                        atol=self.atol,
                        args=(t,),
                        events=events or None,
                        dense_output=bool(events),
                    )
                    if not sol.success:
                        raise self.fail(f"integration failed ({sol.message})", t_now)
                    x_end = sol.y[:, -1]
                    if sol.status == 1:  # an event indicator changed sign: stop just past it, handle the event
                        state_event = True
                        t_stop, x_end = self._past_event(sol, events, t_now, x0, t, t_stop)
                        n_events += 1
                        if n_events > self.max_events_per_step:
                            raise self.fail(
                                f"more than {self.max_events_per_step} state events in one step (chattering?)", t_stop
                            )
                else:
                    x_end = self._x
                if self._input_slopes:
                    dt = t_stop - t
                    self.set_inputs_raw({k: self._inputs_at_t[k] + s * dt for k, s in self._input_slopes.items()})
                fmu.setTime(t_stop)
                if self._nx:
                    self._x[:] = x_end
                    fmu.setContinuousStates(self._x_c, self._nx)
                enter_event, terminate = fmu.completedIntegratorStep(fmi2False)
                time_event = self._next_time_event is not None and t_stop >= self._next_time_event
                if (enter_event or time_event or state_event) and not terminate:
                    fmu.enterEventMode()
                    self._next_time_event, terminate = self._event_iteration()
                    fmu.enterContinuousTimeMode()
                if terminate:  # the FMU asks to end the simulation here: the master ends the run
                    self.termination_requested = True
                    self._time = t_stop
                    return False
                t_now = t_stop
        except FMICallException as exc:
            if exc.status == fmi2Discard:
                return False
            raise self.fail(f"step from t = {t:.9g} s by {h:.3g} s failed", t_now, exc) from exc
        self._time = t_end
        return True

    def get_state(self) -> _FmuState:
        state = super().get_state()
        state.extra = (self._next_time_event, dict(self._inputs_at_t), dict(self._input_slopes))
        return state

    def set_state(self, state: _FmuState) -> None:
        super().set_state(state)
        next_event, inputs_at_t, slopes = state.extra
        self._next_time_event = next_event
        self._inputs_at_t = dict(inputs_at_t)
        self._input_slopes = dict(slopes)


def _to_variable(v: Any) -> Variable:
    unit = v.unit or (v.declaredType.unit if v.declaredType is not None else None)
    start: Any = v.start
    kind = _TYPE.get(v.type, "Real")
    if start is not None:
        try:
            if kind == "Real":
                start = float(start)
            elif kind == "Integer":
                start = int(start)
            elif kind == "Boolean":
                start = start in ("true", "1", True)
        except ValueError:
            pass
    causality = v.causality or "local"
    if causality == "structuralParameter":
        causality = "parameter"
    return Variable(
        name=v.name,
        causality=cast(Causality, causality),
        type=cast(VarType, kind),
        unit=unit,
        start=start,
        description=v.description or "",
        min=float(v.min) if v.min not in (None, "") else None,
        max=float(v.max) if v.max not in (None, "") else None,
        variability=v.variability or ("continuous" if kind == "Real" else "discrete"),
    )


def _direct_feedthrough(md: Any) -> dict[str, frozenset[str]]:
    """Output -> inputs it depends on directly, from ModelStructure/Outputs (no entry: depends on all inputs)."""
    inputs = {v.name for v in md.modelVariables if v.causality == "input"}
    result: dict[str, frozenset[str]] = {}
    for unknown in md.outputs:
        if unknown.dependencies is None:
            continue  # FMI 2.0: no dependencies attribute = depends on everything
        result[unknown.variable.name] = frozenset(d.name for d in unknown.dependencies if d.name in inputs)
    return result


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
