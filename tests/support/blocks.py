"""Python blocks and a metrics function used by the I/O tests' scenarios (referenced as "tests.support.blocks:Name").

Scenarios reach them only through the block registry: the tests trust this module explicitly, as a user would
(``o2twin run --allow-module tests.support.blocks``, ``allow_modules=[MODULE]``, ``BlockRegistry([MODULE])``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock

MODULE = __name__
#: The `o2twin run` options that let a scenario use this module's blocks and summary functions.
ALLOW = ["--allow-module", MODULE]


class Source(PythonBlock):
    """A step: `value` = level from t_step on, 0 before."""

    OUTPUTS = (Variable("value", "output", unit="K", start=0.0),)
    PARAMETERS = (Variable("level", "parameter", start=1.0), Variable("t_step", "parameter", start=0.0))

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        return {"value": self.p["level"] if t >= self.p["t_step"] else 0.0}


class Crasher(PythonBlock):
    """Passes u through; raises (a bug in a block) or interrupts (Ctrl-C) from crash_time on."""

    INPUTS = (Variable("u", "input", unit="K", start=0.0),)
    OUTPUTS = (Variable("y", "output", unit="K", start=0.0),)
    PARAMETERS = (Variable("crash_time", "parameter", start=1e300), Variable("interrupt", "parameter", start=False))

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        if t >= self.p["crash_time"]:
            if self.p["interrupt"]:
                raise KeyboardInterrupt
            raise RuntimeError(f"controller bug at t={t:g}")
        return {"y": inputs["u"]}


class Noise(PythonBlock):
    """Gaussian noise from a generator seeded by the `seed` parameter ([scenario] seed unless set)."""

    OUTPUTS = (Variable("value", "output", unit="K", start=0.0),)
    PARAMETERS = (Variable("seed", "parameter", type="Integer", start=0),)

    def reset(self) -> None:
        self.rng = np.random.default_rng(int(self.p["seed"]))

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        return {"value": float(self.rng.normal())}


class Slow(PythonBlock):
    """Outputs its time and sleeps `delay_s` of wall time per sample: a run that takes long enough to be killed."""

    OUTPUTS = (Variable("value", "output", unit="K", start=0.0),)
    PARAMETERS = (Variable("delay_s", "parameter", start=0.01),)

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        time.sleep(self.p["delay_s"])
        return {"value": t}


def final_values(signals: Mapping[str, np.ndarray], spec) -> dict[str, float]:
    """A [metrics] summary: the last recorded value of every signal and the number of points."""
    out: dict[str, float] = {f"final {k}": float(v[-1]) for k, v in signals.items() if k != "time"}
    out["points"] = len(signals["time"])
    out["scenario"] = spec.name
    return out
