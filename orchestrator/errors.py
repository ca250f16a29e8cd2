"""User-facing errors: one clear message naming the file or variable and the fix, never a traceback."""


class O2TwinError(Exception):
    """Base of every error caused by user input or the environment (bad model, unknown variable, no compiler).

    The CLI prints ``str(error)`` and exits non-zero; programming errors are not O2TwinError and keep their
    traceback.
    """

    exit_code = 2


class ModelError(O2TwinError):
    """A Modelica source that cannot be parsed, flattened or exported (names file, line and construct)."""


class BuildError(O2TwinError):
    """A toolchain problem: no C compiler, a compile error, omc missing or failing."""


class SystemDefinitionError(O2TwinError):
    """A co-simulation system or scenario that is inconsistent (unknown variable, unit or causality mismatch)."""


class SimulationError(O2TwinError):
    """A failure during a run (slave error, non-convergence); results recorded up to it are kept on disk.

    ``slave`` names the slave it came from and ``time`` the simulated time (s), where known.
    """

    exit_code = 3

    def __init__(self, message: str, *, slave: str | None = None, time: float | None = None) -> None:
        super().__init__(message)
        self.slave = slave
        self.time = time


class SlaveCrash(SimulationError):
    """A slave's own code raised an unexpected exception (a bug in a Python block or adapter).

    The original exception is the ``__cause__``; its traceback is kept (a run writes it to traceback.txt).
    """


class DeviceError(O2TwinError):
    """The hardware-in-the-loop link failed (timeout, version mismatch, port gone)."""

    exit_code = 4
