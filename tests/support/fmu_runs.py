"""Small helpers of the FMU tests: edited copies of an FMU archive and a single FMU run through the master."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from orchestrator.cosim.master import MasterOptions, MemoryRecorder, Simulation
from orchestrator.cosim.slaves.base import Slave
from orchestrator.cosim.system import System


def rewrite_fmu(
    src: Path,
    dst: Path,
    keep: Callable[[str], bool] = lambda name: True,
    replace: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """A copy of the FMU archive src at dst with only the members keep() accepts, text replaced in some."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if not keep(item.filename):
                continue
            data = zin.read(item.filename)
            if replace and item.filename in replace:
                old, new = replace[item.filename]
                assert old.encode() in data, f"{old!r} is not in {item.filename}"
                data = data.replace(old.encode(), new.encode())
            zout.writestr(item, data)
    return dst


def run_single(
    slave: Slave,
    stop: float,
    step: float,
    events: Iterable[Any] = (),
    record: Sequence[str] = (),
    parameters: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Simulation, MemoryRecorder]:
    """Run one slave alone from 0 to stop with macro step ``step``; the simulation and what it recorded."""
    system = System()
    system.add(slave, parameters)
    rec = MemoryRecorder()
    sim = Simulation(system, MasterOptions(step=step, stop_time=stop, **options), events=events, recorders=[rec],
                     record=record)  # fmt: skip
    sim.run()
    return sim, rec
