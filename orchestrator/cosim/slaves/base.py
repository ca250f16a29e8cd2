"""The one interface every co-simulation slave implements: FMUs, Python controllers, the watchdog, a serial device.

The master only talks to slaves through this interface, so an FMU, a Python block and the real device over a serial
link are interchangeable in a system.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Causality = Literal["input", "output", "parameter", "calculatedParameter", "local", "independent"]
VarType = Literal["Real", "Integer", "Boolean", "String", "Binary"]


@dataclass(frozen=True)
class Variable:
    """One variable of a slave's interface, in FMI terms (units are the SI unit strings FMUs declare)."""

    name: str
    causality: Causality
    type: VarType = "Real"
    unit: str | None = None
    start: float | int | bool | str | None = None
    description: str = ""
    min: float | None = None
    max: float | None = None
    #: FMI variability: "continuous" (a Real input may vary between communication points), "discrete" (changes
    #: only at events), "fixed"/"tunable" (parameters), "constant"
    variability: str = "continuous"


class EventSink:
    """Where a slave's events go: ``sink(t, source, text, extra)``, set by the master that runs the slave.

    Routing is not state: copying a slave (rollback snapshots deep-copy Python blocks) keeps the same sink.
    """

    __slots__ = ("_route",)

    def __init__(self, route: Callable[[float, str, str, Mapping[str, Any]], None]) -> None:
        self._route = route

    def __call__(self, t: float, source: str, text: str, extra: Mapping[str, Any]) -> None:
        self._route(t, source, text, extra)

    def __copy__(self) -> EventSink:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> EventSink:
        return self


@dataclass
class SlaveInfo:
    """Capabilities the master needs to choose an algorithm (rollback, loops, input derivatives)."""

    can_rollback: bool = False
    provides_directional_derivative: bool = False
    max_input_derivative_order: int = 0
    #: Fixed sample period in seconds for sampled blocks (controllers); None for continuous slaves.
    sample_time: float | None = None
    #: For each output, the inputs it depends on directly (within the same step). Missing output: all inputs.
    direct_feedthrough: dict[str, frozenset[str]] = field(default_factory=dict)
    #: True for slaves that must be paced by the wall clock (hardware in the loop).
    real_time: bool = False


@dataclass(frozen=True)
class CompiledIo:
    """How the master's compiled coupling path calls an FMI 2.0 Co-Simulation slave directly from C: the instance,
    its fmi2SetReal, fmi2GetReal and fmi2DoStep (ctypes function pointers), the value references of the connected
    inputs (in the master's order), the distinct output value references read, their number of values, where each
    output the master stores lies in what they return, and fmi2SetRealInputDerivatives where the slave accepts
    input derivatives."""

    component: Any
    functions: tuple[Any, Any, Any]
    in_vrs: list[int]
    out_vrs: list[int]
    out_size: int
    out_pick: list[int]
    set_input_derivatives: Any = None


class Slave(ABC):
    """A co-simulation unit: set inputs, step from t by h, get outputs, save and restore state where it can."""

    name: str
    variables: dict[str, Variable]
    info: SlaveInfo
    _event_sink: EventSink | None = None
    #: Set (with step returning False) when the unit asks to end the whole simulation (FMI's fmi2Terminated,
    #: terminateSimulation): the master then ends the run cleanly at the start of that step.
    termination_requested: bool = False

    def attach_event_sink(self, sink: EventSink | None) -> None:
        """Send what ``emit_event`` reports to ``sink`` (the master does this; None detaches)."""
        self._event_sink = sink

    def emit_event(self, t: float, text: str, **extra: Any) -> None:
        """Report something that happened at time t (s), e.g. an alarm, to the run's event log.

        The master passes it to every recorder's ``on_event`` with this slave's name as the source and ``extra``
        as fields, once the step it happened in is accepted (a rolled-back step's events are dropped).
        """
        sink = self._event_sink
        if sink is not None:
            sink(t, self.name, text, extra)

    def inputs(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.causality == "input"]

    def outputs(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.causality == "output"]

    @abstractmethod
    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        """Instantiate and initialise at start_time with the given parameter and start values."""

    @abstractmethod
    def set_inputs(self, values: Mapping[str, float]) -> None:
        """Set input values that hold for the next step."""

    def set_input_derivatives(self, derivatives: Mapping[str, float], order: int = 1) -> None:
        """Set time derivatives of inputs for the next step (only if info.max_input_derivative_order >= order)."""
        raise NotImplementedError(f"{self.name} does not accept input derivatives")

    @abstractmethod
    def step(self, t: float, h: float) -> bool:
        """Advance from t to t + h; True if the step was taken, False if the slave rejected it."""

    @abstractmethod
    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, float]:
        """Current values of the named variables (all outputs if names is None)."""

    def get_state(self) -> Any:
        """An opaque snapshot for rollback (only if info.can_rollback)."""
        raise NotImplementedError(f"{self.name} cannot save its state")

    def set_state(self, state: Any) -> None:
        """Restore a snapshot taken by get_state."""
        raise NotImplementedError(f"{self.name} cannot restore its state")

    def directional_derivative(
        self, unknowns: Sequence[str], knowns: Sequence[str], seed: Sequence[float]
    ) -> list[float]:
        """d(unknowns)/d(knowns) * seed at the current point (only if info.provides_directional_derivative)."""
        raise NotImplementedError(f"{self.name} provides no directional derivatives")

    def terminate(self) -> None:
        """Release resources; the slave cannot be stepped afterwards."""

    def set_parameter(self, name: str, value: Any) -> None:
        """Change a (tunable) parameter during a run (scheduled 'set' events, sim.set)."""
        raise NotImplementedError(f"{self.name} cannot change parameter '{name}' during a run")

    def output_reader(self, names: Sequence[str]) -> Callable[[], list[float]]:
        """A function returning the current values of ``names`` in that order (the master's hot path).

        Slaves override this to avoid building dicts every step (FMUs read by value reference).
        """
        names = list(names)

        def read() -> list[float]:
            values = self.get_outputs(names)
            return [values[n] for n in names]

        return read

    def compiled_io(self, in_names: Sequence[str], out_names: Sequence[str]) -> CompiledIo | None:
        """Direct C access for the master's compiled coupling path; None (the default): the slave is stepped from
        Python."""
        return None

    def idle_test(self, out_names: Sequence[str]) -> Callable[[float], bool] | None:
        """For the master's hot path: ``idle(t)``, True when a step from t would change nothing the master sees
        (none of ``out_names`` changes, and inputs set for that step are not used), so that the master may skip the
        step with its input writes and output reads. None (the default): the slave is stepped every time."""
        return None

    def table_step(
        self, in_names: Sequence[str], terms: Sequence[tuple[int, float, float]], out_names: Sequence[str], out: slice
    ) -> Callable[[list[float], float, float], None] | None:
        """For the master's lean step: ``run(v, t, h)`` doing in one call what the master does for a step of this
        slave from t by h on its signal table v once the table holds the slave's outputs: skip the step where
        idle_test says it is idle, else set ``in_names`` to gain * v[source] + offset (``terms``, in that order), step
        and put ``out_names``' values into ``v[out]``. None (the default): the master does those one by one."""
        return None

    def own_step_wall_s(self) -> float | None:
        """Wall time the slave measured inside its own steps, s, where it times them itself (the master then does
        not time its step calls); None (the default): the master times them."""
        return None

    def stepped_to(self, t: float) -> None:
        """The compiled coupling path stepped this slave to t (only for slaves with compiled_io)."""

    def input_writer(self, names: Sequence[str]) -> Callable[[Sequence[float]], None]:
        """A function setting ``names`` to the given values in that order (the master's hot path)."""
        names = list(names)

        def write(values: Sequence[float]) -> None:
            self.set_inputs(dict(zip(names, values, strict=True)))

        return write
