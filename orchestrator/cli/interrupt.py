"""Ctrl-C while a command line program starts up: remembered, then acted on (o2twin, scripts/pi_agent.py)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[list[int]]:
    """Ctrl-C is remembered (the list gets the signal), not raised, inside the block (a program's imports): raised
    inside a native extension's initialisation, a KeyboardInterrupt comes out as that module's ImportError, with a
    traceback (scipy.optimize's, seen on a loaded machine). Only in the main thread, where signals are handled."""
    pressed: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pressed.append(signum))
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
