"""The concentrator session summary, computed from recorded signals after a run.

`o2twin run` calls ``concentrator_summary(signals, spec)`` when a scenario sets
``[metrics] summary = "controllers.metrics:concentrator_summary"``; the result goes into metrics.json and is printed.
Signals are found by variable name, whatever the slaves are called: the patient's ``SpO2`` (else ``sensor_SpO2``),
the PSA unit's ``y_O2_product`` and ``Q_product``, the compressor's ``power`` and ``T_head``, the watchdog's
``alarm_code``. A metric whose signals were not recorded is left out.

Definitions (the same for every controller, so controllers can be compared):
* warm-up: the first ``warmup_s`` seconds are excluded from the SpO2 statistics (cold start): the watchdog's
  ``purity_grace_s`` when the scenario has a watchdog, else 240 s; at most half of the run.
* time in target: fraction of recorded samples after warm-up with the patient's SpO2 in the titrator's target range
  (its spo2_target_low..spo2_target_high parameters, default 88-92 %); below = hypoxaemia, above = hyperoxia,
  as in the FreeO2 trial's reporting (L'Her et al. 2017).
* purity at steady state: mean delivered O2 fraction over the last 20 % of the run (at least the last sample).
* energy: trapezoidal integral of the compressor's electrical power; specific energy per standard m3 of product.
* alarms: number of times each watchdog condition started (rising edges of its alarm_code bit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from controllers.watchdog import CONDITIONS, LEVEL_NAMES

DEFAULT_TARGET = (0.88, 0.92)
DEFAULT_WARMUP_S = 240.0


def _find(signals: Mapping[str, np.ndarray], *variables: str) -> np.ndarray | None:
    """The first recorded signal whose variable name (after 'slave.') is one of `variables`, in that order."""
    for var in variables:
        for name, values in signals.items():
            if name != "time" and name.split(".", 1)[-1] == var:
                return np.asarray(values, dtype=float)
    return None


def _block_parameter(spec: Any, block_class: str, name: str, default: float) -> float:
    for slave in getattr(spec, "slaves", {}).values():
        if slave.block and slave.block.endswith(f":{block_class}") and name in slave.parameters:
            return float(slave.parameters[name])
    return default


def _integral(t: np.ndarray, y: np.ndarray) -> float:
    if len(t) < 2:
        return 0.0
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


def concentrator_summary(signals: Mapping[str, np.ndarray], spec: Any) -> dict[str, float | int | str]:
    """Time in SpO2 target range, purity at steady state, energy and alarms of one recorded session."""
    t = np.asarray(signals["time"], dtype=float)
    out: dict[str, float | int | str] = {}
    if len(t) == 0:
        return out
    duration = float(t[-1] - t[0])
    warmup = min(_block_parameter(spec, "SafetyWatchdog", "purity_grace_s", DEFAULT_WARMUP_S), 0.5 * duration)
    low = _block_parameter(spec, "FuzzyTitrator", "spo2_target_low", DEFAULT_TARGET[0])
    high = _block_parameter(spec, "FuzzyTitrator", "spo2_target_high", DEFAULT_TARGET[1])

    spo2 = _find(signals, "SpO2", "sensor_SpO2")
    if spo2 is not None:
        after = t >= t[0] + warmup
        s = spo2[after]
        finite = s[np.isfinite(s)]
        if len(finite):
            out["spo2_target_pct"] = f"{100 * low:.0f}-{100 * high:.0f}"
            out["warmup_s"] = warmup
            out["time_in_target_pct"] = 100.0 * float(np.mean((finite >= low) & (finite <= high)))
            out["time_hypoxaemia_pct"] = 100.0 * float(np.mean(finite < low))
            out["time_hyperoxia_pct"] = 100.0 * float(np.mean(finite > high))
            out["spo2_mean_pct"] = 100.0 * float(np.mean(finite))

    tail = t >= t[0] + 0.8 * duration
    if not tail.any():
        tail[-1] = True
    purity = _find(signals, "y_O2_product", "sensor_O2")
    if purity is not None:
        out["purity_steady_pct"] = 100.0 * float(np.nanmean(purity[tail]))
    flow = _find(signals, "Q_product")
    if flow is not None:
        out["flow_mean_lpm"] = float(np.nanmean(flow[t >= t[0] + warmup])) * 60_000.0
    power = _find(signals, "power")
    if power is not None:
        energy_wh = _integral(t, power) / 3600.0
        out["energy_wh"] = energy_wh
        out["power_mean_w"] = energy_wh * 3600.0 / duration if duration > 0 else float(power[-1])
        if flow is not None:
            product_m3 = _integral(t, flow)
            if product_m3 > 0:
                out["specific_energy_kwh_per_m3"] = energy_wh / 1000.0 / product_m3
    t_head = _find(signals, "T_head")
    if t_head is not None:
        out["t_head_max_degc"] = float(np.nanmax(t_head)) - 273.15

    code = _find(signals, "alarm_code")
    if code is not None:
        bits = np.nan_to_num(code).astype(np.int64)
        started: dict[str, int] = {}
        highest = 0
        for i, (condition, level, _) in enumerate(CONDITIONS):
            on = (bits >> i) & 1
            n = int(on[0]) + int(np.sum((on[1:] == 1) & (on[:-1] == 0)))
            if n:
                started[condition] = n
                highest = max(highest, level)
        out["alarms_raised"] = sum(started.values())
        out["alarm_highest"] = LEVEL_NAMES[highest]
        out["alarms"] = ", ".join(f"{k} x{v}" for k, v in started.items()) or "none"
    return out
