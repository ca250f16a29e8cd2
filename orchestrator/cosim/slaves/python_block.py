"""Sampled Python blocks (controllers, the watchdog, signal sources) as co-simulation slaves."""

from __future__ import annotations

import copy
import math
import operator
import time
from abc import abstractmethod
from array import array
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.cosim.slaves.base import Slave, SlaveInfo, Variable
from orchestrator.errors import SystemDefinitionError

_clock = time.perf_counter

#: Relative tolerance for deciding that a communication time is a sample instant.
_SAMPLE_EPS = 1e-9


class UpdateTimes:
    """Wall time of the ``update()`` calls of a block (the controller's compute time per sample), in fixed memory.

    A histogram of BINS logarithmic bins from 1 us to 10 s (each about 4.7 % wide; percentiles are read at a bin's
    geometric middle, so within 2.4 %) plus the exact maximum: a block may run for hours without its memory growing.
    Shared, not copied, by the block's state snapshots: a rolled-back step's calls were computed all the same.
    ``add`` only appends to a buffer of at most PENDING times, binned when it is full or the figures are read (a
    block updating every macro step paid more for the binning than for its own update otherwise).
    """

    BINS = 350
    LOW_S, HIGH_S = 1e-6, 10.0
    PENDING = 1024

    def __init__(self) -> None:
        self._counts = array("q", bytes(8 * self.BINS))
        self._calls = 0
        self._max_s = 0.0
        self._total_s = 0.0
        self._per_decade = self.BINS / math.log10(self.HIGH_S / self.LOW_S)
        self._pending: list[float] = []

    def add(self, seconds: float) -> None:
        pending = self._pending
        pending.append(seconds)
        if len(pending) >= self.PENDING:
            self._bin()

    def _bin(self) -> None:
        """Move the pending times into the histogram, the count, the total (summed in call order) and the maximum."""
        low, per_decade, top, counts = self.LOW_S, self._per_decade, self.BINS - 1, self._counts
        total, largest = self._total_s, self._max_s
        for seconds in self._pending:
            k = int(math.log10((seconds if seconds > low else low) / low) * per_decade)
            counts[k if k < top else top] += 1
            total += seconds
            if seconds > largest:
                largest = seconds
        self._calls += len(self._pending)
        self._total_s, self._max_s = total, largest
        self._pending.clear()

    @property
    def counts(self) -> array:
        """Calls per bin."""
        self._bin()
        return self._counts

    @property
    def calls(self) -> int:
        self._bin()
        return self._calls

    @property
    def total_s(self) -> float:
        """The sum of the call times, s."""
        self._bin()
        return self._total_s

    @property
    def max_s(self) -> float:
        self._bin()
        return self._max_s

    def __deepcopy__(self, memo: dict[int, Any]) -> UpdateTimes:
        return self

    def quantile(self, q: float) -> float:
        """The q-quantile of the call times, s (the middle of its bin)."""
        rank, seen = max(1, math.ceil(q * self.calls)), 0
        for k, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                return min(self.max_s, self.LOW_S * 10 ** ((k + 0.5) / self._per_decade))
        return self.max_s

    def summary(self) -> dict[str, float | int]:
        """Calls and the 50th/99th percentile and maximum of their wall time, s (empty before the first call)."""
        if not self.calls:
            return {}
        return {
            "update_calls": self.calls,
            "update_p50_s": self.quantile(0.5),
            "update_p99_s": self.quantile(0.99),
            "update_max_s": self.max_s,
        }


def _tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, float]], tuple[float, ...]]:
    """A function returning the values of ``names`` in a mapping, as a tuple (operator.itemgetter, one name too)."""
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return operator.itemgetter(*names)


class PythonBlock(Slave):
    """A block that computes its outputs from its inputs at sample instants t_k = t0 + k * sample_time.

    Co-simulation semantics as for an FMU: the master sets inputs at t, calls step(t, h); if t is a sample instant
    the block runs ``update(t, inputs)`` and holds the result, so after the step the outputs are those computed from
    the inputs at the last sample instant. Outputs therefore never feed through directly within a step, and a
    controller in a feedback loop creates no algebraic loop. Sample instants are computed as t0 + k * Ts from an
    integer k, never by accumulating floats, so they do not drift.

    Subclasses declare INPUTS, OUTPUTS and PARAMETERS (lists of Variable with start values), implement
    ``reset()`` and ``update()``; parameter values are in ``self.p`` after setup.
    """

    INPUTS: Sequence[Variable] = ()
    OUTPUTS: Sequence[Variable] = ()
    PARAMETERS: Sequence[Variable] = ()
    #: Folder against which the block resolves a data file one of its parameters names (the scenario file's folder,
    #: set when a scenario builds the block; None: the working directory). The block checks the path itself.
    data_folder: Path | None = None

    @classmethod
    def referenced_files(cls, parameters: Mapping[str, Any]) -> list[Path]:
        """The files a block with these parameter values reads (a trained policy, a table), so that whoever keeps
        results of it (``o2twin compare``'s resume) can tell when one changed. Default: none; a block that reads
        files lists them, resolved and checked as it resolves them itself (SystemDefinitionError when invalid)."""
        return []

    def __init__(self, name: str, sample_time: float) -> None:
        if not (sample_time > 0 and math.isfinite(sample_time)):
            raise SystemDefinitionError(
                f"{name}: sample_time must be a positive number of seconds, got {sample_time!r}"
            )
        self.name = name
        self.sample_time = float(sample_time)
        self.variables = {v.name: v for v in (*self.INPUTS, *self.OUTPUTS, *self.PARAMETERS)}
        # Every output is computed at sample instants only: no output depends directly on an input within a step
        # (an empty mapping would mean "all inputs" by SlaveInfo's convention).
        self.info = SlaveInfo(
            can_rollback=True,
            sample_time=sample_time,
            direct_feedthrough={v.name: frozenset() for v in self.OUTPUTS},
        )
        self.p: dict[str, Any] = {v.name: v.start for v in self.PARAMETERS}
        self._u: dict[str, float] = {v.name: float(v.start or 0.0) for v in self.INPUTS}
        self._y: dict[str, float] = {v.name: float(v.start or 0.0) for v in self.OUTPUTS}
        self._t0 = 0.0
        self._next_k = 0
        self._due_s = -_SAMPLE_EPS * self.sample_time  # (next k - eps) * sample time: step() updates from t0 + this
        self.update_times = UpdateTimes()

    def setup(self, start_time: float, parameters: Mapping[str, Any] | None = None) -> None:
        for key, value in (parameters or {}).items():
            if key in self.p:
                self.p[key] = value
            elif key in self._u:  # a start value for an input (used until a connection or event sets it)
                self._u[key] = float(value)
            else:
                known = ", ".join(sorted(self.p)) or "none"
                raise SystemDefinitionError(
                    f"{self.name}: unknown parameter '{key}' (parameters: {known}; inputs may be given start values)"
                )
        self.validate_parameters()
        self._t0 = start_time
        self._next_k = 0
        self._due_s = -_SAMPLE_EPS * self.sample_time
        self.reset()

    def validate_parameters(self) -> None:
        """Raise SystemDefinitionError naming the parameter and its valid range if a value is unusable."""

    @abstractmethod
    def reset(self) -> None:
        """Return to the initial state (called by setup)."""

    @abstractmethod
    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        """Compute outputs at sample instant t from the inputs at t."""

    def next_sample_time(self) -> float:
        """The next sample instant at or after the current time (the master steps onto it exactly)."""
        return self._t0 + self._next_k * self.sample_time

    def set_inputs(self, values: Mapping[str, float]) -> None:
        self._u.update(values)

    def step(self, t: float, h: float) -> bool:
        if t - self._t0 >= self._due_s:
            self._sample(t)
        return True

    def _sample(self, t: float) -> None:
        """The update at sample instant t (timed) and the next instant due."""
        ts = self.sample_time
        started = _clock()
        self._y.update(self.update(t, self._u))
        self.update_times.add(_clock() - started)
        self._next_k = k = math.floor((t - self._t0) / ts + _SAMPLE_EPS) + 1
        self._due_s = (k - _SAMPLE_EPS) * ts

    def table_step(
        self, in_names: Sequence[str], terms: Sequence[tuple[int, float, float]], out_names: Sequence[str], out: slice
    ) -> Callable[[list[float], float, float], None] | None:
        """The master's input write, step and output read in one call (its lean step): at a sample instant the inputs
        are set from the signal table v (gain * v[source] + offset per term), update() runs, and out_names' values go
        to v[out]; between sample instants nothing happens (the table holds the outputs). Under the conditions of
        idle_test, else None."""
        if self.idle_test(out_names) is None or len(in_names) != len(terms):
            return None
        names, terms, ts, update = list(in_names), list(terms), self.sample_time, self.update
        outputs, floor, times = _tuple_getter(out_names), math.floor, self.update_times

        def run(v: list[float], t: float, h: float) -> None:
            if t - self._t0 < self._due_s:
                return
            u = self._u
            u.update(zip(names, [g * v[s] + o for s, g, o in terms], strict=False))  # lengths checked above
            # _sample(t), inlined (a call per sample costs as much as a small block's update)
            started = _clock()
            self._y.update(update(t, u))
            times.add(_clock() - started)
            self._next_k = k = floor((t - self._t0) / ts + _SAMPLE_EPS) + 1
            self._due_s = (k - _SAMPLE_EPS) * ts
            v[out] = outputs(self._y)

        return run

    def idle_test(self, out_names: Sequence[str]) -> Callable[[float], bool] | None:
        """Between sample instants a step does nothing and the inputs set for it are overwritten before the next
        update() reads them: idle. Only where the outputs are the held ones (not inputs or parameters read back)
        and no subclass changes how inputs, steps or outputs work."""
        cls = type(self)
        if (
            cls.step is not PythonBlock.step
            or cls.set_inputs is not PythonBlock.set_inputs
            or cls.get_outputs is not PythonBlock.get_outputs
            or not all(n in self._y for n in out_names)
        ):
            return None

        def idle(t: float) -> bool:
            return t - self._t0 < self._due_s

        return idle

    def own_step_wall_s(self) -> float | None:
        """The wall time of update() calls (the rest of a step is a comparison, counted as the master's)."""
        return self.update_times.total_s

    def get_outputs(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        if names is None:
            return dict(self._y)
        return {n: self._y[n] if n in self._y else self._u.get(n, self.p.get(n)) for n in names}

    def set_parameter(self, name: str, value: Any) -> None:
        """Change a parameter during a run (validated like at setup; a value refused leaves the old one in force)."""
        if name not in self.p:
            known = ", ".join(sorted(self.p)) or "none"
            raise SystemDefinitionError(f"{self.name}: unknown parameter '{name}' (parameters: {known})")
        old, self.p[name] = self.p[name], value
        try:
            self.validate_parameters()
        except Exception:  # any refusal: the old value stays in force, and the error goes on to the caller
            self.p[name] = old
            raise

    def output_reader(self, names: Sequence[str]) -> Callable[[], list[float]]:
        """Fast path for the master: read held outputs (or inputs/parameters, as get_outputs does) by name."""
        names = list(names)
        if type(self).get_outputs is not PythonBlock.get_outputs or not all(n in self._y for n in names):
            return super().output_reader(names)  # a subclass with its own get_outputs keeps its semantics

        def read() -> list[float]:
            y = self._y
            return [y[n] for n in names]

        return read

    def input_writer(self, names: Sequence[str]) -> Callable[[Sequence[float]], None]:
        """Fast path for the master: store inputs without building a dict per call."""
        names = list(names)
        if type(self).set_inputs is not PythonBlock.set_inputs:
            return super().input_writer(names)

        def write(values: Sequence[float]) -> None:
            self._u.update(zip(names, values, strict=True))

        return write

    def get_state(self) -> Any:
        return copy.deepcopy(self.__dict__)

    def set_state(self, state: Any) -> None:
        self.__dict__.update(copy.deepcopy(state))
