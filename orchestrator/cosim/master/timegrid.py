"""The master's time grid: integer ticks from the start time, never accumulated floats.

Times are taken as the decimal fractions they were written as (0.1 is 1/10). The tick is a rational number of
seconds dividing the macro step, every event time, every sample time, the record interval and the stop time, so
t = t0 + n * tick is computed fresh from the integer n (correctly rounded) and every event and sample instant is
hit exactly. A duration that is not on the grid (``run(until=...)`` off the grid, a ``min_step``) refines the tick
by an integer factor; whoever keeps tick counts registers with ``on_refine`` and multiplies them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from fractions import Fraction

#: Error control: the finest step is the macro step / 2**FINE_LEVELS (the tick is fine enough to halve that often).
FINE_LEVELS = 10
#: Times that are float roundings of p/q with q up to this are taken as p/q.
_SMALL_DENOMINATOR = 1_000_000


def decimal_fraction(x: float | Fraction) -> Fraction:
    """A float as the fraction it was written as: decimals (0.1 -> 1/10) or a ratio of small integers that rounds
    to the same float (1/30 -> 1/30, not 0.03333333333333333), so grids of such times line up."""
    if isinstance(x, Fraction):
        return x
    exact = Fraction(repr(float(x)))
    simple = Fraction(float(x)).limit_denominator(_SMALL_DENOMINATOR)
    if simple != exact and float(simple) == float(x) and simple.denominator < exact.denominator:
        return simple
    return exact


def fraction_gcd(a: Fraction, b: Fraction) -> Fraction:
    """Greatest common divisor of two non-negative rationals (0 is ignored)."""
    if b == 0:
        return a
    if a == 0:
        return b
    a, b = abs(a), abs(b)
    den = a.denominator * b.denominator // math.gcd(a.denominator, b.denominator)
    return Fraction(math.gcd(int(a * den), int(b * den)), den)


class TimeGrid:
    """Integer tick counts <-> times in s, and the position of the simulation on the grid.

    ``n`` is the current tick, ``n_prev`` the previous communication point (for extrapolation), ``macro`` the
    macro step, ``stop`` the stop time, ``record`` the record interval (None: every point) and ``target`` the tick
    ``run(until=...)`` is heading for (None outside run), all in ticks.
    """

    def __init__(self, start_time: float, step: float, stop_time: float, *, times: Iterable[float] = (),
                 durations: Iterable[float] = (), record_interval: float | None = None,
                 fine_levels: int = 0) -> None:  # fmt: skip
        """The coarsest grid holding the step, the stop time, the given times (events) and durations (sample
        times), refined ``fine_levels`` times by two (error control halves steps)."""
        self.t0 = float(start_time)
        self._t0 = decimal_fraction(start_time)
        tick = decimal_fraction(step)
        for t in times:
            tick = fraction_gcd(tick, decimal_fraction(t) - self._t0)
        for d in durations:
            tick = fraction_gcd(tick, decimal_fraction(d))
        if record_interval:
            tick = fraction_gcd(tick, decimal_fraction(record_interval))
        tick = fraction_gcd(tick, decimal_fraction(stop_time) - self._t0)
        self._set_tick(tick / 2**fine_levels)
        self._listeners: list[Callable[[int], None]] = []
        self.n = 0
        self.n_prev: int | None = None
        self.target: int | None = None
        self.macro, self.stop = 0, 0
        self.record: int | None = None
        self.macro = self.ticks(step)
        self.record = self.ticks(record_interval) if record_interval else None
        self.stop = self.ticks_at(stop_time)

    def _set_tick(self, tick: Fraction) -> None:
        self.tick = tick
        self._num = tick.numerator
        self._den = tick.denominator

    def on_refine(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(factor)`` whenever the tick is divided by ``factor`` (tick counts must be multiplied)."""
        self._listeners.append(listener)

    def ticks(self, duration: float | Fraction) -> int:
        """A duration in s as integer ticks, refining the tick if the duration is not on the grid."""
        d = decimal_fraction(duration)
        q = d / self.tick
        if q.denominator != 1:
            factor = self.tick / fraction_gcd(self.tick, d)
            self._refine(int(factor))
            q = d / self.tick
        return int(q)

    def ticks_at(self, t: float | Fraction) -> int:
        """The tick of time t (s) counted from the start time."""
        return self.ticks(decimal_fraction(t) - self._t0)

    def time(self, n: int) -> float:
        """The time in s of tick n (correctly rounded from exact integers)."""
        return self.t0 + (n * self._num) / self._den

    def seconds(self, ticks: int) -> float:
        """A number of ticks as a duration in s."""
        return (ticks * self._num) / self._den

    @property
    def now(self) -> float:
        return self.time(self.n)

    def _refine(self, factor: int) -> None:
        self._set_tick(self.tick / factor)
        self.n *= factor
        self.macro *= factor
        self.n_prev = None if self.n_prev is None else self.n_prev * factor
        self.target = None if self.target is None else self.target * factor
        self.stop *= factor
        self.record = None if self.record is None else self.record * factor
        for listener in self._listeners:
            listener(factor)
