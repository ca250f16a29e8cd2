"""FMI 2.0 and 3.0 FMUs as co-simulation slaves, over fmpy: Co-Simulation (the FMU integrates) and Model Exchange
(the master integrates with a stiff scipy solver).

One slave class per interface serves both FMI versions: what differs between them (instantiation, initialisation,
typed get/set, the step, the event iteration) is the small layer in fmi_calls.py, and the variables (FMI 3.0
arrays as scalar elements, the sized types) come from fmu_variables.py. Capabilities come from
modelDescription.xml: canGetAndSetFMUstate -> rollback, providesDirectionalDerivative(s) -> Newton on algebraic
loops, canInterpolateInputs (FMI 2.0) -> first-order input derivatives, ModelStructure/Outputs -> direct
feedthrough. Real values are read and written by value reference through preallocated ctypes arrays (the hot
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
from typing import Any

import numpy as np
from fmpy.fmi1 import FMICallException

from orchestrator.cosim.slaves.base import CompiledIo, Slave, SlaveInfo
from orchestrator.cosim.slaves.fmi_calls import STEP_DISCARDED, STEP_TERMINATE, Fmi3Calls, FmiCalls
from orchestrator.cosim.slaves.fmu_reuse import release_fmu, unpack_fmu
from orchestrator.cosim.slaves.fmu_variables import ValueRef, coerce, fmu_variables
from orchestrator.errors import SimulationError, SystemDefinitionError

_STATUS_LEVEL = {0: logging.DEBUG, 1: logging.WARNING, 2: logging.WARNING, 3: logging.ERROR, 4: logging.CRITICAL}
_STATUS_NAME = {0: "OK", 1: "Warning", 2: "Discard", 3: "Error", 4: "Fatal", 5: "Pending"}
_WARNING = 1
_DISCARD = 2
_FLOAT_KINDS = ("Real", "Float64")

log = logging.getLogger(__name__)


class _FmuState:
    """An FMU state snapshot; freed with the FMU instance (or when garbage collected while it is alive)."""

    __slots__ = ("__weakref__", "arrays", "extra", "handle", "owner", "time")

    def __init__(self, owner: _FmuSlaveBase, handle: Any, time: float, arrays: dict[int, list[Any]]) -> None:
        self.owner = owner
        self.handle = handle
        self.time = time
        self.arrays = arrays  # the values last set of the array inputs and parameters
        self.extra: Any = None  # what the Python side of the slave must restore too

    def __del__(self) -> None:
        owner = self.owner
        if owner is not None and owner._calls is not None and self.handle:
            with contextlib.suppress(Exception):
                owner._calls.free_state(self.handle)
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
        # .fmu file is replaced (re-exported) before setup. (A sweep worker lends it to its next run: fmu_reuse.)
        self.unpacked = unpack_fmu(self.fmu_path, name, what=f"slave {name}: FMU '{self.fmu_path}'")
        self._files_released = False
        self.model_description = md = self.unpacked.model_description
        #: "2.0" or "3.0"
        self.fmi_version = self.unpacked.fmi_version
        self.guid: str = md.guid
        default = md.defaultExperiment
        #: relative tolerance passed to the FMU (fmi2SetupExperiment, fmi3EnterInitializationMode): the argument,
        #: else the DefaultExperiment's, else none
        self.tolerance = tolerance if tolerance is not None else _float_or_none(default and default.tolerance)
        self.logging_on = logging_on
        self.log = logging.getLogger(f"o2twin.fmu.{name}")
        self.last_error_message = ""
        #: Wall time (s) spent in FMI get/set/directional-derivative calls (benchmarks separate it from the master).
        self.io_s = 0.0
        self._model_identifier = self._interface_identifier(self.interface)
        try:
            found = fmu_variables(md, f"slave {name}: FMU '{self.fmu_path}'")
        except SystemDefinitionError:
            self.unpacked.remove()
            raise
        self.variables = found.variables
        self._refs: dict[str, ValueRef] = found.refs
        self._sizes = found.sizes
        self._structural = {v.name for v in md.modelVariables if v.causality == "structuralParameter"}
        # the values last set of every array input and parameter (an element is set by setting its whole array)
        self._array_values: dict[int, list[Any]] = {}
        for vr, names in found.arrays.items():
            if self.variables[names[0]].causality in ("input", "parameter"):
                self._array_values[vr] = [self._start_of(n) for n in names]
        self.info = SlaveInfo(direct_feedthrough=found.feedthrough)
        self._has_arrays = bool(found.arrays)
        self._calls: FmiCalls | None = None
        self._states: weakref.WeakSet[_FmuState] = weakref.WeakSet()
        self._time: float | None = None

    def _start_of(self, name: str) -> Any:
        ref, start = self._refs[name], self.variables[name].start
        if start is None:
            return "" if ref.kind == "String" else b"" if ref.kind == "Binary" else 0
        return coerce(ref, start, f"{self.name}.{name}")

    def _interface_identifier(self, interface: str) -> str:
        """The modelIdentifier of the interface, binary ready; on a definition error the unpacked files go."""
        try:
            return self.unpacked.model_identifier(interface)
        except SystemDefinitionError:
            self.unpacked.remove()
            raise

    def _capabilities(self, interface: str) -> None:
        """Rollback and directional derivatives from the interface element of the model description."""
        md = self.model_description
        element = md.coSimulation if interface == "cs" else md.modelExchange
        self.info.can_rollback = bool(element.canGetAndSetFMUstate)
        if self.fmi_version == "2.0":
            derivatives = bool(element.providesDirectionalDerivative)
        else:
            derivatives = self.unpacked.capability(interface, "providesDirectionalDerivatives")
        # the loop solver asks for derivatives of scalar elements; an FMU with arrays gets finite differences
        self.info.provides_directional_derivative = derivatives and not self._has_arrays

    @property
    def compiled_from_sources(self) -> bool:
        """True when the FMU had no binary for this platform and its sources/ were compiled."""
        return self.unpacked.compiled_from_sources

    @property
    def discard_status(self) -> str:
        """How the FMU's discarded step is named in messages: the call and its status."""
        return f"fmi{self.fmi_version[0]}DoStep returned Discard"

    @property
    def _fmu(self) -> Any:
        """fmpy's instance (None before setup and after terminate)."""
        return self._calls.fmu if self._calls is not None else None

    # ---------------------------------------------------------------- logging
    def _on_log(self, status: int, cat: str, text: str) -> None:
        if status > _WARNING:
            self.last_error_message = text
        if self.messages is not None:
            self.messages.append(f"{cat}: {text}")
        self.log.log(_STATUS_LEVEL.get(status, logging.ERROR), "[%s] %s", cat, text)

    def fail(
        self, what: str, time: float | None, exc: Exception | None = None, call: tuple[str, int] | None = None
    ) -> SimulationError:
        """A SimulationError naming this slave, the time, the failed FMI call and its status (from exc, fmpy's
        exception, or call = (name, status)) and the FMU's last error message."""
        at = f" at t = {time:.9g} s" if time is not None else ""
        if isinstance(exc, FMICallException):
            call = (exc.function, exc.status)
        status = f" ({call[0]} returned {_STATUS_NAME.get(call[1], call[1])})" if call is not None else ""
        detail = f": {self.last_error_message}" if self.last_error_message else ""
        return SimulationError(f"slave {self.name}: {what}{at}{status}{detail}", slave=self.name, time=time)

    # --------------------------------------------------------------- lifecycle
    def _instantiate(self, interface: str, model_identifier: str) -> None:
        if self._files_released or self.unpacked.directory is None:
            raise SimulationError(f"slave {self.name}: it was terminated and cannot be set up again")
        try:
            self._calls = self.unpacked.instantiate(
                interface, model_identifier, self.name, self._on_log, self.logging_on
            )
        except SimulationError as exc:
            raise self.fail(f"instantiation failed for '{self.fmu_path}' ({exc.__cause__ or exc})", None) from exc

    @property
    def calls(self) -> FmiCalls:
        """The instance's FMI calls (after setup)."""
        if self._calls is None:
            raise SimulationError(f"slave {self.name}: the FMU is not set up (or was terminated)")
        return self._calls

    def _ref(self, key: str) -> ValueRef:
        ref = self._refs.get(key)
        if ref is None:
            raise SystemDefinitionError(f"slave {self.name}: the FMU has no variable '{key}'")
        return ref

    def _set_values(self, values: Mapping[str, Any], time: float | None) -> None:
        """Set variables by name: scalars of one type in one call, an array element by setting its whole array."""
        scalars: dict[str, tuple[list[int], list[Any]]] = {}
        arrays: dict[int, ValueRef] = {}
        for key, value in values.items():
            ref = self._ref(key)
            typed = coerce(ref, value, f"{self.name}.{key}")
            if ref.size == 1:
                vrs, vals = scalars.setdefault(ref.kind, ([], []))
                vrs.append(ref.vr)
                vals.append(typed)
            else:
                self._array_values.setdefault(ref.vr, [0] * ref.size)[ref.index] = typed
                arrays[ref.vr] = ref
        calls = self.calls
        try:
            for kind, (vrs, vals) in scalars.items():
                calls.set(kind, vrs, vals)
            for vr, ref in arrays.items():
                calls.set(ref.kind, [vr], self._array_values[vr])
        except FMICallException as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise self.fail(f"cannot set {shown}", time, exc) from exc

    def _set_structural(self, values: Mapping[str, Any], time: float) -> None:
        """FMI 3.0 structural parameters, in configuration mode; one that sizes arrays keeps its value (the master's
        variables, one per element, are fixed when the FMU is loaded)."""
        changed = {}
        for key, value in values.items():
            if coerce(self._refs[key], value, key) == self.variables[key].start:
                continue  # its value already
            sized = self._sizes.get(key)
            if sized:
                raise SystemDefinitionError(
                    f"slave {self.name}: structural parameter '{key}' sizes {', '.join(sized)}; the master fixes "
                    f"array sizes when it loads the FMU, so it keeps its start value {self.variables[key].start!r}"
                )
            changed[key] = value
        if not changed:
            return
        calls = self.calls
        assert isinstance(calls, Fmi3Calls)
        try:
            calls.enter_configuration_mode()
            self._set_values(changed, time)
            calls.exit_configuration_mode()
        except FMICallException as exc:
            raise self.fail("cannot set structural parameters in configuration mode", time, exc) from exc

    def _setup_common(self, start_time: float, parameters: Mapping[str, Any] | None) -> None:
        values = dict(parameters or {})
        structural = {k: values.pop(k) for k in list(values) if k in self._structural}
        calls = self.calls
        try:
            self._set_structural(structural, start_time)
            self._set_values(values, start_time)
            calls.enter_initialization(self.tolerance, start_time)
            calls.exit_initialization()
        except FMICallException as exc:
            raise self.fail("initialisation failed", start_time, exc) from exc
        self._time = start_time

    def set_inputs(self, values: Mapping[str, float]) -> None:
        self._set_values(values, self._time)

    def set_parameter(self, name: str, value: Any) -> None:
        var = self.variables.get(name)
        if (
            var is None
            or var.causality not in ("parameter", "input")
            or (var.causality == "parameter" and var.variability != "tunable")
            or name in self._structural
        ):
            raise SimulationError(
                f"slave {self.name}: '{name}' is not an input or tunable parameter and cannot be set during a run"
            )
        self._set_values({name: value}, self._time)

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        if names is None:
            names = [v.name for v in self.outputs()]
        refs = [self._ref(key) for key in names]
        calls = self.calls
        by_kind: dict[str, list[int]] = {}
        for ref in refs:
            vrs = by_kind.setdefault(ref.kind, [])
            if ref.vr not in vrs:
                vrs.append(ref.vr)
        got: dict[tuple[int, str], list[Any]] = {}
        try:
            for kind, vrs in by_kind.items():
                sizes = {ref.vr: ref.size for ref in refs if ref.kind == kind}
                values = calls.get(kind, vrs, sum(sizes[vr] for vr in vrs))
                at = 0
                for vr in vrs:
                    got[(vr, kind)] = values[at : at + sizes[vr]]
                    at += sizes[vr]
        except FMICallException as exc:
            raise self.fail(f"cannot get {', '.join(names)}", self._time, exc) from exc
        return {key: got[(ref.vr, ref.kind)][ref.index] for key, ref in zip(names, refs, strict=True)}

    def output_reader(self, names: Sequence[str]) -> Callable[[], list[float]]:
        names = list(names)
        refs = [self._ref(n) for n in names]
        if not all(ref.kind in _FLOAT_KINDS for ref in refs):
            return super().output_reader(names)
        vrs = list(dict.fromkeys(ref.vr for ref in refs))
        sizes = {ref.vr: ref.size for ref in refs}
        offsets, at = {}, 0
        for vr in vrs:
            offsets[vr] = at
            at += sizes[vr]
        pick = [offsets[ref.vr] + ref.index for ref in refs]
        call, buf = self.calls.float_io(vrs, at, write=False)
        whole = pick == list(range(at))
        perf = time.perf_counter
        name = self.calls.GET_FLOAT

        def read() -> list[float]:
            t0 = perf()
            status = call()
            self.io_s += perf() - t0
            if status > _WARNING:
                raise self.fail(f"getting {', '.join(names)} failed", self._time, call=(name, status))
            return buf[:] if whole else [buf[i] for i in pick]

        return read

    def input_writer(self, names: Sequence[str]) -> Callable[[Sequence[float]], None]:
        names = list(names)
        refs = [self._ref(n) for n in names]
        if not all(ref.kind in _FLOAT_KINDS and ref.size == 1 for ref in refs) or len(set(names)) != len(names):
            return super().input_writer(names)
        call, buf = self.calls.float_io([ref.vr for ref in refs], len(refs), write=True)
        perf = time.perf_counter
        name = self.calls.SET_FLOAT

        def write(values: Sequence[float]) -> None:
            buf[:] = values  # any sequence of floats fills a ctypes array
            t0 = perf()
            status = call()
            self.io_s += perf() - t0
            if status > _WARNING:
                raise self.fail(f"setting {', '.join(names)} failed", self._time, call=(name, status))

        return write

    def directional_derivative(
        self, unknowns: Sequence[str], knowns: Sequence[str], seed: Sequence[float]
    ) -> list[float]:
        t0 = time.perf_counter()
        try:
            return self.calls.directional_derivative(
                [self._refs[k].vr for k in unknowns], [self._refs[k].vr for k in knowns], list(seed)
            )
        except FMICallException as exc:
            raise self.fail("getting directional derivatives failed", self._time, exc) from exc
        finally:
            self.io_s += time.perf_counter() - t0

    def get_state(self) -> _FmuState:
        if not self.info.can_rollback:
            raise SimulationError(f"slave {self.name}: the FMU cannot save its state (canGetAndSetFMUstate false)")
        try:
            handle = self.calls.get_fmu_state()
        except FMICallException as exc:
            raise self.fail("getting the FMU state failed", self._time, exc) from exc
        state = _FmuState(self, handle, self._time or 0.0, {vr: list(v) for vr, v in self._array_values.items()})
        self._states.add(state)
        return state

    def set_state(self, state: _FmuState) -> None:
        try:
            self.calls.set_fmu_state(state.handle)
        except FMICallException as exc:
            raise self.fail("setting the FMU state failed", self._time, exc) from exc
        self._time = state.time
        self._array_values = {vr: list(v) for vr, v in state.arrays.items()}

    def serialize_state(self) -> bytes:
        """The FMU's whole state as bytes (canSerializeFMUstate), e.g. to start other runs from it."""
        calls = self.calls
        try:
            handle = calls.get_fmu_state()
            try:
                return calls.serialize_state(handle)
            finally:
                calls.free_state(handle)
        except FMICallException as exc:
            raise self.fail("cannot serialize the FMU state", self._time, exc) from exc

    def deserialize_state(self, data: bytes, time: float) -> None:
        """Restore a state from serialize_state (of this or another instance of the same FMU) at time (s)."""
        calls = self.calls
        try:
            handle = calls.deserialize_state(data)
            try:
                calls.set_fmu_state(handle)
            finally:
                calls.free_state(handle)
        except FMICallException as exc:
            raise self.fail("cannot restore a serialized FMU state", time, exc) from exc
        self._time = time

    def set_debug_logging(self, categories: Sequence[str]) -> None:
        """Switch on the FMU's log categories (e.g. 'logStatistics')."""
        self.calls.set_debug_logging(categories)

    def terminate(self) -> None:
        calls = self._calls
        if calls is None:  # never set up (or terminated already): only the extracted files to give up
            self._release_files()
            return
        for state in list(self._states):
            if state.handle:
                with contextlib.suppress(FMICallException):
                    calls.free_state(state.handle)
                state.handle = None
        try:
            calls.terminate()
        except FMICallException as exc:
            self.log.warning("terminating the FMU failed: %s", exc)
        try:
            calls.free()
        finally:
            self._calls = None
            self._release_files()

    def _release_files(self) -> None:
        """Give up the unpacked FMU (removed, or lent to a later slave: fmu_reuse), once."""
        if not self._files_released:
            self._files_released = True
            release_fmu(self.unpacked)


class FmuCoSimSlave(_FmuSlaveBase):
    """An FMI 2.0 or 3.0 Co-Simulation FMU: the FMU's own solver advances it in fmi2DoStep / fmi3DoStep."""

    interface = "cs"

    def __init__(self, name: str, fmu_path: str | Path, **kwargs: Any) -> None:
        super().__init__(name, fmu_path, **kwargs)
        cs = self.model_description.coSimulation
        self._capabilities("cs")
        can_interpolate = self.fmi_version == "2.0" and bool(cs.canInterpolateInputs)
        self.info.max_input_derivative_order = 1 if can_interpolate else 0
        self.max_output_derivative_order = int(cs.maxOutputDerivativeOrder or 0)

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        self._instantiate("cs", self._model_identifier)
        self._setup_common(start_time, parameters)
        self._do_step, self._step_outcome = self.calls.stepper()

    def set_input_derivatives(self, derivatives: Mapping[str, float], order: int = 1) -> None:
        if order > self.info.max_input_derivative_order:
            raise NotImplementedError(f"{self.name} does not accept input derivatives of order {order}")
        names = list(derivatives)
        try:
            self.calls.set_input_derivatives(
                [self._refs[k].vr for k in names], order, [float(derivatives[k]) for k in names]
            )
        except FMICallException as exc:
            raise self.fail("setting input derivatives failed", self._time, exc) from exc

    def compiled_io(self, in_names: Sequence[str], out_names: Sequence[str]) -> CompiledIo | None:
        """What the master's compiled coupling path needs to set in_names, step and read out_names through direct C
        calls (after setup), or None where this slave cannot go that way (FMI 3.0, non-Real or array inputs)."""
        if self.fmi_version != "2.0" or self._calls is None or len(set(in_names)) != len(in_names):
            return None
        ins = [self._ref(n) for n in in_names]
        outs = [self._ref(n) for n in out_names]
        if not all(r.kind in _FLOAT_KINDS for r in [*ins, *outs]) or any(r.size != 1 for r in ins):
            return None
        out_vrs = list(dict.fromkeys(r.vr for r in outs))
        sizes = {r.vr: r.size for r in outs}
        offsets, at = {}, 0
        for vr in out_vrs:
            offsets[vr] = at
            at += sizes[vr]
        dll = self.calls.fmu.dll
        return CompiledIo(
            component=self.calls.c,
            functions=(dll.fmi2SetReal, dll.fmi2GetReal, dll.fmi2DoStep),
            in_vrs=[r.vr for r in ins],
            out_vrs=out_vrs,
            out_size=at,
            out_pick=[offsets[r.vr] + r.index for r in outs],
            set_input_derivatives=dll.fmi2SetRealInputDerivatives if self.info.max_input_derivative_order else None,
        )

    def stepped_to(self, t: float) -> None:
        """The compiled coupling path stepped this slave to t (what step() records on success)."""
        self._time = t

    def step(self, t: float, h: float) -> bool:
        status = self._do_step(t, h, 1)
        if status > _WARNING:
            return self.step_failed(status, t, h)
        self._time = t + h
        return True

    def step_failed(self, status: int, t: float, h: float) -> bool:
        """The step from t by h returned status (worse than a warning): False for a discarded step or a requested
        termination (the master decides), else the SimulationError is raised."""
        outcome = self._step_outcome(status)
        if outcome == STEP_TERMINATE:
            self.termination_requested = True
            return False
        if outcome == STEP_DISCARDED:
            return False
        raise self.fail(f"{self.calls.DO_STEP} from t = {t:.9g} s by {h:.3g} s failed", t)


class FmuModelExchangeSlave(_FmuSlaveBase):
    """An FMI 2.0 or 3.0 Model Exchange FMU integrated by the master with scipy's stiff solvers (BDF by default).

    Inputs are held over a step, or varied linearly when the master sets first-order input derivatives (the master
    owns the integrator, so ME slaves always accept them). Time events announced by the FMU are stepped onto; state
    events (event indicators changing sign) are located by solve_ivp's event search; the event iteration runs there
    and whenever the FMU asks for it after an integrator step.
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
        self.method = method
        #: the integrator's tolerances: given, else from the slave's tolerance (argument or DefaultExperiment)
        self.rtol = rtol if rtol is not None else (self.tolerance if self.tolerance is not None else 1e-6)
        self.atol = atol if atol is not None else 1e-2 * self.rtol
        self._capabilities("me")
        self.info.max_input_derivative_order = 1
        #: inputs that may only change in event mode (discrete variability, non-Real types)
        self._discrete_inputs = {
            v.name for v in self.variables.values()
            if v.causality == "input" and (v.variability == "discrete" or v.type != "Real")
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
        self.calls.enter_continuous_time_mode()
        self._continuous = True
        self._x = np.zeros(self._nx)
        self._dx = np.zeros(self._nx)
        self._x_c = self._x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._dx_c = self._dx.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._z = np.zeros(self._nz)
        self._z_c = self._z.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._inputs_at_t: dict[str, float] = {}

    def _event_iteration(self) -> tuple[float | None, bool]:
        """Update the discrete states to a fixed point: (the next time event or None, terminate requested)."""
        update = self.calls.update_discrete_states
        while True:
            (need_more, terminate, _, _, defined, next_time) = update()
            if terminate:
                return (next_time if defined else None), True
            if not need_more:
                return (next_time if defined else None), False

    def _in_event_mode(self, set_values: Callable[[], None]) -> None:
        """Set discrete inputs or tunable parameters as FMI requires of Model Exchange: in event mode, followed
        by the event iteration (a terminate request then ends the run at the next step)."""
        if not getattr(self, "_continuous", False):  # not initialised yet: values go in before initialisation
            set_values()
            return
        calls = self.calls
        calls.enter_event_mode()
        set_values()
        self._next_time_event, terminate = self._event_iteration()
        self.termination_requested = self.termination_requested or terminate
        calls.enter_continuous_time_mode()

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
        calls = self.calls
        calls.set_time(t)
        self._x[:] = x
        calls.set_states(self._x_c, self._nx)

    def _rhs(self, t: float, x: np.ndarray, t_start: float) -> np.ndarray:
        self._set_point(t, x, t_start)
        self.calls.get_derivatives(self._dx_c, self._nx)
        self.rhs_evaluations += 1
        return self._dx.copy()

    def _indicators(self, t: float, x: np.ndarray, t_start: float) -> np.ndarray:
        """Event indicators at (t, x), inputs as during the step."""
        self._set_point(t, x, t_start)
        self.calls.get_event_indicators(self._z_c, self._nz)
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
        self._set_values(values, None)

    def step(self, t: float, h: float) -> bool:
        calls = self.calls
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
                    calls.get_states(self._x_c, self._nx)
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
                calls.set_time(t_stop)
                if self._nx:
                    self._x[:] = x_end
                    calls.set_states(self._x_c, self._nx)
                enter_event, terminate = calls.completed_integrator_step()
                time_event = self._next_time_event is not None and t_stop >= self._next_time_event
                if (enter_event or time_event or state_event) and not terminate:
                    calls.enter_event_mode()
                    self._next_time_event, terminate = self._event_iteration()
                    calls.enter_continuous_time_mode()
                if terminate:  # the FMU asks to end the simulation here: the master ends the run
                    self.termination_requested = True
                    self._time = t_stop
                    return False
                t_now = t_stop
        except FMICallException as exc:
            if exc.status == _DISCARD:
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


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
