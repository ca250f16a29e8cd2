"""Run an SSP archive with fmpy: fmpy reads the SSD (``fmpy.ssp.ssd.read_ssd``: components, their parameter
bindings with the .ssv values, connections) and instantiates the FMUs (``FMU2Slave``); this loop steps them as SSP
prescribes, which fmpy's own ``simulate_ssp`` does not: it ignores parameter bindings and transformations and
starts every connector at 0, so a watchdog sees 0 Pa and 0 % O2 in the first step and latches its fail-safe.

Here: each FMU gets its bound parameter values before initialisation; after initialisation the outputs are
propagated through the connections (three passes, for chains of feedthrough) so every input starts from the value
its source has; then Jacobi steps of ``step`` s: all FMUs step from the same inputs, then the outputs go to the
inputs (factor * value + offset where a connection has a linear transformation).

``simulate_in_subprocess`` runs it in a fresh Python process, as a tool other than o2twin would: FMUs made with
pythonfmu (the exported controllers) run inside the interpreter that loads them, and pythonfmu 0.7 leaves that
interpreter's objects in a state that crashes it at its final garbage collection; the child process saves the
results and leaves with os._exit, and the test process never loads them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave
from fmpy.ssp.ssd import read_ssd


class _Unit:
    def __init__(self, component: Any, ssp_dir: str, start_time: float) -> None:
        self.name = component.name
        path = str(Path(ssp_dir) / component.source)
        md = read_model_description(path, validate=False)
        self.vars = {v.name: v for v in md.modelVariables}
        self.unzipped = extract(path)
        self.fmu = FMU2Slave(guid=md.guid, unzipDirectory=self.unzipped,
                             modelIdentifier=md.coSimulation.modelIdentifier, instanceName=component.name)  # fmt: skip
        self.fmu.instantiate()
        self.fmu.setupExperiment(startTime=start_time)
        for binding in component.parameterBindings:
            for parameter_set in binding.parameterValues:
                for p in parameter_set.parameters:
                    self.set(p.name[len(binding.prefix or "") :], p.value)
        self.fmu.enterInitializationMode()
        self.fmu.exitInitializationMode()

    def set(self, name: str, value: Any) -> None:
        var = self.vars[name]
        vr = [var.valueReference]
        if var.type == "Real":
            self.fmu.setReal(vr, [float(value)])
        elif var.type in ("Integer", "Enumeration"):
            self.fmu.setInteger(vr, [int(float(value))])
        elif var.type == "Boolean":
            self.fmu.setBoolean(vr, [value in (True, "true", 1, 1.0)])
        else:
            self.fmu.setString(vr, [str(value)])

    def get(self, name: str) -> float:
        var = self.vars[name]
        vr = [var.valueReference]
        if var.type == "Real":
            return float(self.fmu.getReal(vr)[0])
        if var.type in ("Integer", "Enumeration"):
            return float(self.fmu.getInteger(vr)[0])
        return float(bool(self.fmu.getBoolean(vr)[0]))

    def close(self) -> None:
        self.fmu.terminate()
        self.fmu.freeInstance()
        shutil.rmtree(self.unzipped, ignore_errors=True)


def simulate_ssp_with_fmpy(ssp: Path, stop_time: float, step: float, record: list[str]) -> dict[str, np.ndarray]:
    """Run the archive from its start time to stop_time; "time" and each recorded "component.variable" at every
    communication point."""
    ssd = read_ssd(str(ssp))
    ssp_dir = extract(str(ssp))
    units: dict[str, _Unit] = {}
    try:
        for component in ssd.system.elements:
            units[component.name] = _Unit(component, ssp_dir, 0.0)
        links = []
        for c in ssd.system.connections:
            a, b = (c.startElement, c.startConnector), (c.endElement, c.endConnector)
            if units[a[0]].vars[a[1]].causality == "input":
                a, b = b, a
            lt = getattr(c, "linearTransformation", None)
            links.append((units[a[0]], a[1], units[b[0]], b[1], lt.factor if lt else 1.0, lt.offset if lt else 0.0))

        def propagate() -> None:
            values = [src.get(out) for src, out, *_ in links]
            for (_, _, dst, inp, factor, offset), value in zip(links, values, strict=True):
                dst.set(inp, factor * value + offset)

        for _ in range(3):
            propagate()
        rows: list[list[float]] = []
        n = 0
        t = 0.0
        while True:
            rows.append([t, *(units[q.split(".", 1)[0]].get(q.split(".", 1)[1]) for q in record)])
            if t >= stop_time - 1e-9 * step:
                break
            for unit in units.values():
                unit.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=step)
            n += 1
            t = n * step
            propagate()
    finally:
        for unit in units.values():
            unit.close()
        shutil.rmtree(ssp_dir, ignore_errors=True)
    data = np.array(rows)
    return {"time": data[:, 0], **{q: data[:, i + 1] for i, q in enumerate(record)}}


def simulate_in_subprocess(
    ssp: Path, stop_time: float, step: float, record: list[str], out: Path
) -> dict[str, np.ndarray]:
    """simulate_ssp_with_fmpy in a child Python process (see the module doc); the results via an .npz file."""
    from orchestrator.paths import PROJECT_ROOT

    command = [sys.executable, "-m", "tests.support.fmpy_ssp", str(ssp), repr(stop_time), repr(step), str(out), *record]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"fmpy run failed ({done.returncode}): {done.stderr[-2000:]}")
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


if __name__ == "__main__":
    ssp_path, stop, dt, target, *names = sys.argv[1:]
    results = simulate_ssp_with_fmpy(Path(ssp_path), float(stop), float(dt), names)
    np.savez(target, **results)
    sys.stdout.flush()
    os._exit(0)  # no final garbage collection (see the module doc)
