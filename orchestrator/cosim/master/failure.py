"""What the master reports when something goes wrong while it works on a slave."""

from __future__ import annotations

from orchestrator.errors import O2TwinError, SimulationError, SlaveCrash


def slave_failure(exc: BaseException, slave: str | None, t: float | None) -> BaseException:
    """The error to report for ``exc`` raised while the master worked on ``slave`` at time t (s).

    A SimulationError gets its slave and time filled in where it lacks them; any other O2TwinError is kept; an
    unexpected exception (a bug in a Python block) becomes a SlaveCrash naming the slave and time, with the
    original as its cause so its traceback is kept. KeyboardInterrupt and other BaseExceptions pass unchanged.
    """
    if isinstance(exc, SimulationError):
        if exc.slave is None:
            exc.slave = slave
        if exc.time is None:
            exc.time = t
        return exc
    if isinstance(exc, O2TwinError) or not isinstance(exc, Exception):
        return exc
    at = f" at t = {t:.9g} s" if t is not None else ""
    who = f"slave {slave}" if slave else "the master"
    crash = SlaveCrash(f"{who} raised{at}: {type(exc).__name__}: {exc}", slave=slave, time=t)
    crash.__cause__ = exc
    return crash
