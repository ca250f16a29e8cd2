"""Master algorithm settings (the ``[master]`` table of a scenario)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from orchestrator.errors import SystemDefinitionError

ALGORITHMS = ("jacobi", "gauss-seidel")
LOOP_SOLVERS = ("fixed-point", "newton")
#: The smallest macro step the master takes, in s (also the floor of error control's step): below it a run of
#: any length takes too many steps to finish, and time differences approach the rounding of t.
MIN_STEP_S = 1e-6


@dataclass
class MasterOptions:
    """How the master steps a system.

    step: macro step in s (the base step; error control varies it by powers of two).
    algorithm: "jacobi" (all slaves step from the same inputs) or "gauss-seidel" (in connection-graph order,
    each slave sees the outputs of those stepped before it).
    extrapolation: 0 holds inputs over a step; 1 extrapolates them linearly (input derivatives where a slave
    accepts them, otherwise the value at the step's midpoint).
    rates: slave name -> integer rate (the slave steps every rate * step).
    error_control: variable macro step by step doubling, with rollback; tolerance is relative (see docs).
    min_step/max_step: bounds of the error-controlled step in s (default: step / 1024 and step * 1024); no step
    is ever below MIN_STEP_S.
    loop_solver/loop_tolerance/loop_max_iterations: algebraic loops between slaves.
    record_interval: s between recorded points (a multiple of the step); None records every communication point.
    compiled_coupling: step runs of FMI 2.0 Co-Simulation FMUs from C where the run allows it (identical results;
    False keeps every slave on the Python path).
    """

    step: float = 0.1
    start_time: float = 0.0
    stop_time: float = 1.0
    algorithm: Literal["jacobi", "gauss-seidel"] = "gauss-seidel"
    extrapolation: int = 0
    rates: dict[str, int] = field(default_factory=dict)
    error_control: bool = False
    tolerance: float = 1e-4
    min_step: float | None = None
    max_step: float | None = None
    loop_solver: Literal["fixed-point", "newton"] = "newton"
    loop_tolerance: float = 1e-8
    loop_max_iterations: int = 50
    record_interval: float | None = None
    compiled_coupling: bool = True

    def validate(self) -> None:
        """Raise SystemDefinitionError naming the bad setting and its valid values."""

        def bad(name: str, value: object, valid: str) -> SystemDefinitionError:
            return SystemDefinitionError(f"[master] {name} = {value!r} is invalid: {valid}")

        if not (isinstance(self.step, int | float) and self.step > 0 and math.isfinite(self.step)):
            raise bad("step", self.step, "a positive number of seconds")
        for name in ("step", "min_step", "max_step"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value >= MIN_STEP_S):
                raise bad(name, value, f"at least the master's minimum step {MIN_STEP_S:g} s")
        if self.stop_time < self.start_time:
            raise bad("stop_time", self.stop_time, f"must not be before start_time {self.start_time}")
        if self.algorithm not in ALGORITHMS:
            raise bad("algorithm", self.algorithm, " | ".join(ALGORITHMS))
        if self.extrapolation not in (0, 1):
            raise bad("extrapolation", self.extrapolation, "0 (hold) or 1 (linear)")
        if self.loop_solver not in LOOP_SOLVERS:
            raise bad("loop_solver", self.loop_solver, " | ".join(LOOP_SOLVERS))
        if not (self.tolerance > 0):
            raise bad("tolerance", self.tolerance, "a positive number")
        for name, rate in self.rates.items():
            if not (isinstance(rate, int) and rate >= 1):
                raise bad(f"rate of {name}", rate, "a positive integer")
        if self.record_interval is not None and not (self.record_interval > 0):
            raise bad("record_interval", self.record_interval, "a positive number of seconds")
