"""The watchdog in the full concentrator system (plant FMUs + controllers): the absurd-coupling case of issue 10.

With a gain of 1000 on the compressor -> PSA air-flow coupling the feed pressure sensor read 1743 bar and the run
ended "ok" with the compressor at half duty (the old fail-safe cap). Now an implausible or over-limit pressure
reading puts the pressure safe state on at the first sample that shows it and holds it: the run may end "ok", but
never with the compressor running.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from controllers.alarms import BIT
from orchestrator import load_scenario, run
from orchestrator.units import barg_to_pa


def test_absurd_coupling_gain_never_ends_with_the_compressor_running(plant_fmus, tmp_path):
    spec = load_scenario("default")
    connections = [
        dataclasses.replace(c, gain=1000.0) if (c.source, c.target) == ("compressor.m_flow", "psa.m_flow_feed") else c
        for c in spec.connections
    ]
    assert connections != spec.connections
    record = [*spec.outputs.record, "watchdog.pressure_trip", "watchdog.duty", "psa.sensor_p_feed"]
    spec = dataclasses.replace(spec, connections=connections, outputs=dataclasses.replace(spec.outputs, record=record))
    result = run(spec, out=tmp_path / "out", stop_time=5.0, plots=False)
    s = result.signals
    p = s["psa.sensor_p_feed"].to_numpy()
    duty = s["watchdog.duty"].to_numpy()
    bad = np.flatnonzero(~(p <= barg_to_pa(3.5)))  # beyond the hard limit (or NaN)
    assert bad.size, "the absurd gain must drive the feed pressure past the hard limit"
    k = bad[0]
    assert (duty[k:] == 0.0).all(), f"compressor running after the pressure reading reached {p[k]:.3g} Pa"
    assert (s["watchdog.pressure_trip"].to_numpy()[k:] == 1.0).all()
    code = s["watchdog.alarm_code"].to_numpy().astype(np.int64)
    assert (code[k:] & BIT["OVERPRESSURE_HARD"]).all()
    events = [json.loads(line) for line in (result.out_dir / "events.jsonl").read_text().splitlines()]
    raised = {e["name"]: e["priority"] for e in events if e.get("source") == "watchdog" and e.get("active")}
    assert raised.get("OVERPRESSURE_HARD") == "high"
