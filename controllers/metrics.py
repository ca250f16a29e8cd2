"""The concentrator session summary, computed from recorded signals after a run.

`o2twin run` calls ``concentrator_summary(signals, spec)`` when a scenario sets ``[metrics] summary =
"concentrator_summary"``; the result goes into metrics.json and is printed. Signals are found by variable name,
whatever the slaves are called: the patient's arterial ``SpO2`` (else the probe-site ``sensor_SpO2``), the oximeter's
displayed ``spo2``, the PSA unit's ``y_O2_product`` and ``Q_product``, the compressor's ``power`` and ``T_head``, the
watchdog's ``duty`` and ``alarm_code``. A metric whose signals were not recorded is left out.

Definitions (the same for every controller, so controllers can be compared; docs/controllers.md):

* SpO2 statistics use the patient's true arterial saturation (the clinical outcome), not the oximeter's reading;
  ``oximeter_reading_pct`` says how much of the session the oximeter showed a number at all.
* Two windows: after warm-up (plain keys) and the whole session (keys ending in ``_session``). Warm-up is the cold
  start, the watchdog's ``purity_grace_s`` (240 s) when the scenario has a watchdog, at most half of the run.
* time in target: share of recorded samples with SpO2 in the titrator's target range (spo2_target_low..high, default
  88-92 %); ``time_hypoxaemia_pct`` below it, ``time_hyperoxia_pct`` above it (the FreeO2 trial's categories, L'Her
  et al. 2017); fixed thresholds ``time_below_88_pct``, ``time_below_85_pct``, ``time_above_96_pct``.
* IAE against the band: the integral of the distance of SpO2 outside the target range, in %-min (0 inside it).
* desaturation episodes: stretches of SpO2 below 88 % lasting at least 10 s (the usual clinical definition), their
  number, the longest and their total time.
* O2 delivered: the integral of product flow times its O2 fraction (standard litres of pure O2); product delivered.
* energy: the integral of the compressor's electrical power (Wh) over the session; specific energy per standard m3
  of product and per standard litre of O2.
* alarms: how often each watchdog condition started (rising edges of its alarm_code bit), by name and IEC 60601-1-8
  priority (controllers/alarms.py): ``alarms`` lists them as NAME (priority) xN; ``alarms_high``/``_medium``/``_low``
  count starts per priority.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from controllers.alarms import ALARMS, Priority

DEFAULT_TARGET = (0.88, 0.92)
DEFAULT_WARMUP_S = 240.0
DESATURATION_BELOW = 0.88
DESATURATION_MIN_S = 10.0


def _find(signals: Mapping[str, np.ndarray], *variables: str) -> np.ndarray | None:
    """The first recorded signal whose variable name (after 'slave.') is one of `variables`, in that order."""
    for var in variables:
        for name, values in signals.items():
            if name != "time" and name.split(".", 1)[-1] == var:
                return np.asarray(values, dtype=float)
    return None


def _find_from(signals: Mapping[str, np.ndarray], block_class_slaves: set[str], variable: str) -> np.ndarray | None:
    for name, values in signals.items():
        if name != "time" and "." in name:
            slave, var = name.split(".", 1)
            if slave in block_class_slaves and var == variable:
                return np.asarray(values, dtype=float)
    return None


def _slaves_of(spec: Any, block_class: str) -> set[str]:
    return {n for n, s in getattr(spec, "slaves", {}).items() if s.block and s.block.endswith(f":{block_class}")}


def _block_parameter(spec: Any, block_class: str, name: str, default: float) -> float:
    for slave in getattr(spec, "slaves", {}).values():
        if slave.block and slave.block.endswith(f":{block_class}") and name in slave.parameters:
            return float(slave.parameters[name])
    return default


def _integral(t: np.ndarray, y: np.ndarray) -> float:
    if len(t) < 2:
        return 0.0
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the stretches where mask is True (end exclusive)."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def spo2_statistics(t: np.ndarray, spo2: np.ndarray, low: float, high: float) -> dict[str, float | int]:
    """Time in/below/above the target band and fixed thresholds (%), IAE (%-min), desaturation episodes."""
    ok = np.isfinite(spo2)
    if not ok.any():
        return {}
    t, s = t[ok], spo2[ok]
    dt = np.diff(t, append=t[-1] + (t[-1] - t[-2] if len(t) > 1 else 0.0))  # each sample holds until the next

    def share(mask: np.ndarray) -> float:
        return 100.0 * float(np.mean(mask))

    outside = np.maximum(low - s, 0.0) + np.maximum(s - high, 0.0)
    episodes = [(a, b) for a, b in _runs(s < DESATURATION_BELOW) if t[b - 1] + dt[b - 1] - t[a] >= DESATURATION_MIN_S]
    lengths = [float(t[b - 1] + dt[b - 1] - t[a]) for a, b in episodes]
    return {
        "time_in_target_pct": share((s >= low) & (s <= high)),
        "time_hypoxaemia_pct": share(s < low),
        "time_hyperoxia_pct": share(s > high),
        "time_below_88_pct": share(s < 0.88),
        "time_below_85_pct": share(s < 0.85),
        "time_above_96_pct": share(s > 0.96),
        "spo2_mean_pct": 100.0 * float(np.mean(s)),
        "iae_pct_min": 100.0 * _integral(t, outside) / 60.0,
        "desaturations": len(episodes),
        "desaturation_longest_s": max(lengths, default=0.0),
        "desaturation_total_s": float(sum(lengths)),
    }


def alarm_counts(code: np.ndarray) -> dict[str, float | int | str]:
    """Starts of each alarm condition (rising edges of its alarm_code bit), by name and priority."""
    bits = np.nan_to_num(code).astype(np.int64)
    started: dict[str, int] = {}
    per_priority = dict.fromkeys(Priority, 0)
    highest = Priority.NONE
    for alarm in ALARMS:
        on = (bits >> alarm.code) & 1
        n = int(on[0]) + int(np.sum((on[1:] == 1) & (on[:-1] == 0)))
        if n:
            started[f"{alarm.name} ({alarm.priority.label})"] = n
            per_priority[alarm.priority] += n
            highest = max(highest, alarm.priority)
    return {
        "alarms_raised": sum(started.values()),
        "alarm_highest": highest.label,
        "alarms_high": per_priority[Priority.HIGH],
        "alarms_medium": per_priority[Priority.MEDIUM],
        "alarms_low": per_priority[Priority.LOW],
        "alarms": ", ".join(f"{k} x{v}" for k, v in started.items()) or "none",
    }


def _delivery(t: np.ndarray, flow: np.ndarray, purity: np.ndarray | None, after: np.ndarray) -> dict[str, float]:
    out = {
        "flow_mean_lpm": float(np.nanmean(flow[after])) * 60_000.0,
        "product_delivered_l": _integral(t, np.nan_to_num(flow)) * 1000.0,
    }
    if purity is not None:
        out["o2_delivered_l"] = _integral(t, np.nan_to_num(flow * purity)) * 1000.0
    return out


def _energy(t: np.ndarray, power: np.ndarray, delivered: Mapping[str, float]) -> dict[str, float]:
    duration = float(t[-1] - t[0])
    energy_wh = _integral(t, np.nan_to_num(power)) / 3600.0
    out = {"energy_wh": energy_wh, "power_mean_w": energy_wh * 3600.0 / duration if duration > 0 else float(power[-1])}
    if delivered.get("product_delivered_l", 0.0) > 0:
        out["specific_energy_kwh_per_m3"] = energy_wh / delivered["product_delivered_l"]  # Wh/L = kWh/m3
    if delivered.get("o2_delivered_l", 0.0) > 0:
        out["energy_wh_per_l_o2"] = energy_wh / delivered["o2_delivered_l"]
    return out


def concentrator_summary(signals: Mapping[str, np.ndarray], spec: Any) -> dict[str, float | int | str]:
    """SpO2 outcome (after warm-up and whole session), delivery, purity, energy and alarms of one session."""
    t = np.asarray(signals["time"], dtype=float)
    out: dict[str, float | int | str] = {}
    if len(t) == 0:
        return out
    duration = float(t[-1] - t[0])
    warmup = min(_block_parameter(spec, "SafetyWatchdog", "purity_grace_s", DEFAULT_WARMUP_S), 0.5 * duration)
    low = _block_parameter(spec, "FuzzyTitrator", "spo2_target_low", DEFAULT_TARGET[0])
    high = _block_parameter(spec, "FuzzyTitrator", "spo2_target_high", DEFAULT_TARGET[1])
    after = t >= t[0] + warmup

    spo2 = _find(signals, "SpO2", "sensor_SpO2")
    if spo2 is not None and np.isfinite(spo2).any():
        out["spo2_target_pct"] = f"{100 * low:.0f}-{100 * high:.0f}"
        out["warmup_s"] = warmup
        out.update(spo2_statistics(t[after], spo2[after], low, high))
        out.update({f"{k}_session": v for k, v in spo2_statistics(t, spo2, low, high).items()})
    reading = _find_from(signals, _slaves_of(spec, "PulseOximeter"), "spo2")
    if reading is not None:
        out["oximeter_reading_pct"] = 100.0 * float(np.mean(np.isfinite(reading)))

    purity = _find(signals, "y_O2_product", "sensor_O2")
    if purity is not None:
        tail = t >= t[0] + 0.8 * duration
        if not tail.any():
            tail[-1] = True
        out["purity_steady_pct"] = 100.0 * float(np.nanmean(purity[tail]))
        out["purity_min_pct"] = 100.0 * float(np.nanmin(purity[after]))
    flow = _find(signals, "Q_product")
    delivered = _delivery(t, flow, purity, after) if flow is not None else {}
    out.update(delivered)
    power = _find(signals, "power")
    if power is not None:
        out.update(_energy(t, power, delivered))
    duty = _find_from(signals, _slaves_of(spec, "SafetyWatchdog"), "duty")
    if duty is not None:
        out["duty_mean_pct"] = 100.0 * float(np.nanmean(duty[after]))
    t_head = _find(signals, "T_head")
    if t_head is not None:
        out["t_head_max_degc"] = float(np.nanmax(t_head)) - 273.15
    code = _find(signals, "alarm_code")
    if code is not None:
        out.update(alarm_counts(code))
    return out
