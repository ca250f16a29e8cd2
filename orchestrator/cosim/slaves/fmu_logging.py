"""Routing of FMU log messages to Python loggers, safe with any number of FMU instances in one process.

FMI 2.0: fmpy's native logger proxy (which formats printf-style variadic arguments) keeps a single process-wide
pointer to the Python logger it forwards to. Registering one Python callback per FMU instance would leave that
pointer on the last (possibly garbage-collected) callback, crashing or misrouting every other instance's messages.
So one dispatcher lives for the whole process and routes each message by the componentEnvironment key of its
instance. FMI 3.0 messages come preformatted, and the same dispatcher routes them by the instanceEnvironment key.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable
from ctypes import byref

from fmpy import calloc, free
from fmpy.fmi2 import (
    fmi2CallbackAllocateMemoryTYPE,
    fmi2CallbackFreeMemoryTYPE,
    fmi2CallbackFunctions,
    fmi2CallbackLoggerTYPE,
)
from fmpy.fmi3 import fmi3LogMessageCallback

try:
    from fmpy.logging import addLoggerProxy
except ImportError:  # pragma: no cover - fmpy ships the proxy on every supported platform
    addLoggerProxy = None

#: handler(status, category, message) for each live FMU instance, by its componentEnvironment key.
LogHandler = Callable[[int, str, str], None]
_handlers: dict[int, Callable[[], LogHandler | None]] = {}
_keys = itertools.count(1)
_fallback = logging.getLogger("o2twin.fmu")


def _dispatch(env: int | None, instance: bytes, status: int, category: bytes, message: bytes) -> None:
    text = message.decode("utf-8", "replace") if message else ""
    cat = category.decode("utf-8", "replace") if category else ""
    ref = _handlers.get(env or 0)
    handler = ref() if ref is not None else None
    if handler is None:
        name = instance.decode("utf-8", "replace") if instance else "?"
        _fallback.warning("[%s] %s: %s", name, cat, text)
    else:
        handler(status, cat, text)


_DISPATCH = fmi2CallbackLoggerTYPE(_dispatch)


def _dispatch3(env: int | None, status: int, category: bytes, message: bytes) -> None:
    _dispatch(env, b"", status, category, message)


#: The FMI 3.0 logMessage callback of every instance (it lives for the whole process).
FMI3_LOG_MESSAGE = fmi3LogMessageCallback(_dispatch3)


def register(handler: LogHandler) -> int:
    """Route the messages of an instance created with the returned key as its environment to handler.

    A bound method is held weakly, so the routing does not keep its object alive.
    """
    key = next(_keys)
    _handlers[key] = weakref.WeakMethod(handler) if hasattr(handler, "__self__") else (lambda: handler)
    return key


def fmi2_callbacks(handler: LogHandler) -> tuple[fmi2CallbackFunctions, int]:
    """Callbacks for fmi2Instantiate whose log messages reach handler; returns them and the key to release."""
    key = register(handler)
    callbacks = fmi2CallbackFunctions()
    callbacks.logger = _DISPATCH
    callbacks.allocateMemory = fmi2CallbackAllocateMemoryTYPE(calloc)
    callbacks.freeMemory = fmi2CallbackFreeMemoryTYPE(free)
    callbacks.componentEnvironment = key
    if addLoggerProxy is not None:
        addLoggerProxy(byref(callbacks))  # the proxy now forwards to _DISPATCH, which lives forever
    return callbacks, key


def release(key: int) -> None:
    """Forget the handler of an instance that has been freed."""
    _handlers.pop(key, None)
