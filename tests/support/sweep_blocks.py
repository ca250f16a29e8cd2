"""Blocks and a summary function for the sweep tests' small scenario (referenced as "tests.support.sweep_blocks:Name").

Scenarios reach them through the block registry only: the tests trust this module explicitly (allow_modules).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.cosim.slaves.archive import extraction_root
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock

MODULE = __name__


class Killer(PythonBlock):
    """Kills its own process (SIGKILL, as the out-of-memory killer does) at kill_at_s: a worker dying mid-case.

    With ``once_flag`` (a folder) it kills only the first time for that folder: the retry of the case then runs.
    """

    OUTPUTS = (Variable("alive", "output", start=1.0),)
    PARAMETERS = (
        Variable("kill_at_s", "parameter", start=1e300),
        Variable("once_flag", "parameter", type="String", start=""),
    )

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        if t >= self.p["kill_at_s"]:
            flag = Path(self.p["once_flag"]) / "killed" if self.p["once_flag"] else None
            if flag is None or not flag.exists():
                if flag is not None:
                    flag.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return {"alive": 1.0}


class ExtractionProbe(PythonBlock):
    """Counts the FMU extraction folders of its own process (named <pid>-...) while the run goes on."""

    OUTPUTS = (Variable("own_extractions", "output", start=0.0),)

    def reset(self) -> None:
        pass

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        root = extraction_root()
        own = [p for p in root.iterdir() if p.name.startswith(f"{os.getpid()}-")] if root.is_dir() else []
        return {"own_extractions": float(len(own))}


def summary(signals: Mapping[str, np.ndarray], spec: Any) -> dict[str, Any]:
    """The final Lag output, the mean of the seeded noise, the probe's count and the worker's pid."""
    return {
        "y_final": float(signals["lag.y"][-1]),
        "noise_mean": float(np.mean(signals["noise.value"])),
        "own_extractions": float(np.max(signals["probe.own_extractions"])),
        "pid": os.getpid(),
        "points": len(signals["time"]),
    }
