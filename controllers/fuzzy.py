"""FuzzyTitrator: the patient's O2 flow setpoint from the SpO2 reading, by a small Mamdani fuzzy controller.

The controller is incremental (a fuzzy PI): from the SpO2 error and its trend it infers how fast to change the flow,
in L/min per minute, and integrates that into the flow setpoint, clamped to q_min..q_max and rate limited.

Inputs of the inference:
* error, normalised: e = (SpO2 - target_mid) / half_width, with target_mid and half_width from the target range
  (88-92 % for COPD: mid 90 %, half-width 2 points; 94-98 % otherwise). e = -1 is the low edge, +1 the high edge.
* trend: the SpO2 slope in percentage points per minute, the least-squares slope of the valid readings of the last
  trend_window_s seconds (30 s: a pulse oximeter's display moves in 1 % steps with noise, so a difference of two
  readings would read that noise as a trend of tens of percent per minute).

The error uses the median of the last five valid readings: single displayed values (a 1 % step of noise, the start of an
artefact the oximeter has not flagged yet) do not move the flow.

Membership functions (triangles/trapezoids, scikit-fuzzy's trimf/trapmf on discrete universes):

| variable | set | shape and breakpoints |
| --- | --- | --- |
| error e | VLOW | trapezoid -3, -3, -2.5, -1.2 |
| error e | LOW | triangle -2.5, -1.2, 0 |
| error e | OK | triangle -1, 0, 1 |
| error e | HIGH | triangle 0, 1.2, 2.5 |
| error e | VHIGH | trapezoid 1.2, 2.5, 3, 3 |
| trend (%/min) | FALL | trapezoid -6, -6, -2, 0 |
| trend (%/min) | STEADY | triangle -1, 0, 1 |
| trend (%/min) | RISE | trapezoid 0, 2, 6, 6 |
| flow change (normalised) | DEC_BIG | trapezoid -1, -1, -0.8, -0.5 |
| flow change | DEC | triangle -0.8, -0.4, 0 |
| flow change | HOLD | triangle -0.2, 0, 0.2 |
| flow change | INC | triangle 0, 0.4, 0.8 |
| flow change | INC_BIG | trapezoid 0.5, 0.8, 1, 1 |

Rule base (RULES below; rows: error, columns: trend; min for AND, max aggregation, centroid defuzzification):

| error \\ trend | FALL | STEADY | RISE |
| --- | --- | --- | --- |
| VLOW | INC_BIG | INC_BIG | INC |
| LOW | INC_BIG | INC | HOLD |
| OK | INC | HOLD | DEC |
| HIGH | HOLD | DEC | DEC_BIG |
| VHIGH | DEC | DEC_BIG | DEC_BIG |

The defuzzified value (-1..1) times max_change_slpm_per_min is the flow change rate.

Signal quality (FreeO2 and monitors do the same): a reading is used only when it is a number within
spo2_valid_min..1 (the default 20 % keeps severe hypoxaemia, which must raise the flow, a valid reading) and the
oximeter's signal_quality is at least quality_min (0.5). Otherwise (a dropout, the probe off, a motion artefact) the
titrator holds the flow: it neither chases an artefact nor lowers the oxygen without a reading. After hold_max_s
(60 s) without a usable reading it raises the flow to q_fallback_slpm if the flow is lower (the prescription the
clinician set for that case) and holds it there; spo2_valid shows 0 meanwhile.
The target range is a pair of parameters (a scheduled event may move them); a supervisory layer moves the flow
through the watchdog's Q_set request or replaces this block.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np
import skfuzzy

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import slpm_to_m3s

ERROR_UNIVERSE = np.linspace(-3.0, 3.0, 121)
TREND_UNIVERSE = np.linspace(-6.0, 6.0, 121)
OUTPUT_UNIVERSE = np.linspace(-1.0, 1.0, 201)

ERROR_SETS = {
    "VLOW": skfuzzy.trapmf(ERROR_UNIVERSE, [-3.0, -3.0, -2.5, -1.2]),
    "LOW": skfuzzy.trimf(ERROR_UNIVERSE, [-2.5, -1.2, 0.0]),
    "OK": skfuzzy.trimf(ERROR_UNIVERSE, [-1.0, 0.0, 1.0]),
    "HIGH": skfuzzy.trimf(ERROR_UNIVERSE, [0.0, 1.2, 2.5]),
    "VHIGH": skfuzzy.trapmf(ERROR_UNIVERSE, [1.2, 2.5, 3.0, 3.0]),
}
TREND_SETS = {
    "FALL": skfuzzy.trapmf(TREND_UNIVERSE, [-6.0, -6.0, -2.0, 0.0]),
    "STEADY": skfuzzy.trimf(TREND_UNIVERSE, [-1.0, 0.0, 1.0]),
    "RISE": skfuzzy.trapmf(TREND_UNIVERSE, [0.0, 2.0, 6.0, 6.0]),
}
OUTPUT_SETS = {
    "DEC_BIG": skfuzzy.trapmf(OUTPUT_UNIVERSE, [-1.0, -1.0, -0.8, -0.5]),
    "DEC": skfuzzy.trimf(OUTPUT_UNIVERSE, [-0.8, -0.4, 0.0]),
    "HOLD": skfuzzy.trimf(OUTPUT_UNIVERSE, [-0.2, 0.0, 0.2]),
    "INC": skfuzzy.trimf(OUTPUT_UNIVERSE, [0.0, 0.4, 0.8]),
    "INC_BIG": skfuzzy.trapmf(OUTPUT_UNIVERSE, [0.5, 0.8, 1.0, 1.0]),
}
#: Rule table: RULES[error set][trend set] -> output set.
RULES: dict[str, dict[str, str]] = {
    "VLOW": {"FALL": "INC_BIG", "STEADY": "INC_BIG", "RISE": "INC"},
    "LOW": {"FALL": "INC_BIG", "STEADY": "INC", "RISE": "HOLD"},
    "OK": {"FALL": "INC", "STEADY": "HOLD", "RISE": "DEC"},
    "HIGH": {"FALL": "HOLD", "STEADY": "DEC", "RISE": "DEC_BIG"},
    "VHIGH": {"FALL": "DEC", "STEADY": "DEC_BIG", "RISE": "DEC_BIG"},
}


_interp = np.interp


def infer_flow_change(error_normalised: float, trend_pct_per_min: float) -> float:
    """Mamdani inference: normalised flow change rate in -1..1 from the normalised error and the trend (%/min)."""
    e = min(max(error_normalised, ERROR_UNIVERSE[0]), ERROR_UNIVERSE[-1])
    d = min(max(trend_pct_per_min, TREND_UNIVERSE[0]), TREND_UNIVERSE[-1])
    # skfuzzy.interp_membership(universe, mf, x) is np.interp(x, universe, mf, left=0.0, right=0.0): called directly
    mu_e = {k: float(_interp(e, ERROR_UNIVERSE, mf, 0.0, 0.0)) for k, mf in ERROR_SETS.items()}
    mu_d = {k: float(_interp(d, TREND_UNIVERSE, mf, 0.0, 0.0)) for k, mf in TREND_SETS.items()}
    strength = dict.fromkeys(OUTPUT_SETS, 0.0)
    for e_set, row in RULES.items():
        for d_set, out_set in row.items():
            w = min(mu_e[e_set], mu_d[d_set])
            if w > strength[out_set]:
                strength[out_set] = w
    aggregated = np.zeros_like(OUTPUT_UNIVERSE)
    for out_set, w in strength.items():
        if w > 0.0:
            np.maximum(aggregated, np.fmin(w, OUTPUT_SETS[out_set]), out=aggregated)
    support = np.flatnonzero(aggregated)
    if not support.size:
        return 0.0
    # the centroid's sums skip every segment between two zero points: summed over the support and a point either
    # side, they are the same sums in the same order (the result to the bit), at a fraction of the cost
    lo, hi = max(int(support[0]) - 1, 0), int(support[-1]) + 2
    return centroid(_OUTPUT_POINTS[lo:hi], aggregated[lo:hi].tolist())


_OUTPUT_POINTS: list[float] = OUTPUT_UNIVERSE.tolist()


def centroid(x: list[float], mfx: list[float]) -> float:
    """Centroid of the piecewise-linear membership function mfx over the points x (not all zero).

    The same sums, term by term and in the same order, as scikit-fuzzy's centroid defuzzification (exact areas and
    moments of the trapezoid between two points), on Python floats instead of NumPy scalars: the same IEEE
    operations, so the same result to the bit, at a fraction of the cost (the titrator's largest).
    """
    sum_moment_area = 0.0
    sum_area = 0.0
    x1, y1 = x[0], mfx[0]
    for x2, y2 in zip(x[1:], mfx[1:], strict=True):
        if not (y1 == y2 == 0.0 or x1 == x2):
            if y1 == y2:  # rectangle
                moment = 0.5 * (x1 + x2)
                area = (x2 - x1) * y1
            elif y1 == 0.0 and y2 != 0.0:  # triangle, height y2
                moment = 2.0 / 3.0 * (x2 - x1) + x1
                area = 0.5 * (x2 - x1) * y2
            elif y2 == 0.0 and y1 != 0.0:  # triangle, height y1
                moment = 1.0 / 3.0 * (x2 - x1) + x1
                area = 0.5 * (x2 - x1) * y1
            else:
                moment = (2.0 / 3.0 * (x2 - x1) * (y2 + 0.5 * y1)) / (y1 + y2) + x1
                area = 0.5 * (x2 - x1) * (y1 + y2)
            sum_moment_area += moment * area
            sum_area += area
        x1, y1 = x2, y2
    return sum_moment_area / max(sum_area, _EPS)


_EPS = float(np.finfo(float).eps)


class FuzzyTitrator(PythonBlock):
    """Closed-loop O2 titration: SpO2 (fraction) in, cannula flow setpoint Q_set (standard m3/s) out."""

    INPUTS = (
        Variable("spo2", "input", unit="1", start=math.nan, description="pulse oximeter SpO2 reading (NaN: none)"),
        Variable("signal_quality", "input", unit="1", start=1.0, description="oximeter signal quality, 0..1"),
    )
    OUTPUTS = (
        Variable("Q_set", "output", unit="m3/s", start=slpm_to_m3s(2.0), description="flow setpoint (standard)"),
        Variable("spo2_trend", "output", unit="1/s", start=0.0, description="SpO2 slope, fraction per s"),
        Variable("spo2_valid", "output", unit="1", start=0.0, description="1 when the reading is usable"),
    )
    PARAMETERS = (
        Variable("spo2_target_low", "parameter", unit="1", start=0.88, description="low edge of the target range"),
        Variable("spo2_target_high", "parameter", unit="1", start=0.92, description="high edge of the target range"),
        Variable("q_min_slpm", "parameter", unit="L/min", start=0.5, description="lowest flow setpoint"),
        Variable("q_max_slpm", "parameter", unit="L/min", start=5.0, description="highest flow (unit rating)"),
        Variable("q_initial_slpm", "parameter", unit="L/min", start=2.0, description="flow at start"),
        Variable("q_fallback_slpm", "parameter", unit="L/min", start=2.0, description="least flow without SpO2"),
        Variable("max_change_slpm_per_min", "parameter", unit="L/min/min", start=4.5, description="fuzzy gain"),
        Variable("rate_max_slpm_per_s", "parameter", unit="L/min/s", start=0.1, description="output rate limit"),
        Variable("trend_window_s", "parameter", unit="s", start=30.0, description="window of the trend's slope"),
        Variable("spo2_valid_min", "parameter", unit="1", start=0.2, description="lowest plausible SpO2 reading"),
        Variable("quality_min", "parameter", unit="1", start=0.5, description="readings of lower quality: hold"),
        Variable("hold_max_s", "parameter", unit="s", start=60.0, description="hold this long, then fallback"),
    )

    def validate_parameters(self) -> None:
        p = self.p
        for name, value in p.items():
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a finite number, got {value!r}")
        if not (0.5 <= p["spo2_target_low"] < p["spo2_target_high"] <= 1.0):
            raise SystemDefinitionError(
                f"{self.name}: need 0.5 <= spo2_target_low < spo2_target_high <= 1 (fractions, e.g. 0.88 and 0.92 "
                f"for COPD), got {p['spo2_target_low']} and {p['spo2_target_high']}"
            )
        if not (0.0 <= p["q_min_slpm"] < p["q_max_slpm"] <= 10.0):
            raise SystemDefinitionError(
                f"{self.name}: need 0 <= q_min_slpm < q_max_slpm <= 10 L/min, got {p['q_min_slpm']}..{p['q_max_slpm']}"
            )
        for name in ("q_initial_slpm", "q_fallback_slpm"):
            if not p["q_min_slpm"] <= p[name] <= p["q_max_slpm"]:
                raise SystemDefinitionError(f"{self.name}: {name} must lie in q_min_slpm..q_max_slpm, got {p[name]}")
        if not 0.0 <= p["quality_min"] <= 1.0:
            raise SystemDefinitionError(f"{self.name}: quality_min must lie in 0..1, got {p['quality_min']}")
        if not p["trend_window_s"] >= 3 * self.sample_time:
            raise SystemDefinitionError(
                f"{self.name}: trend_window_s must span at least 3 samples, got {p['trend_window_s']}"
            )
        for name in ("max_change_slpm_per_min", "rate_max_slpm_per_s", "hold_max_s"):
            if not p[name] > 0:
                raise SystemDefinitionError(f"{self.name}: {name} must be > 0, got {p[name]}")

    def reset(self) -> None:
        self._q_slpm = float(self.p["q_initial_slpm"])
        n = max(3, round(self.p["trend_window_s"] / self.info.sample_time))
        self._history: deque[tuple[float, float]] = deque(maxlen=n)  # (t, SpO2 %) of usable readings
        self._last_valid_t = -math.inf
        self._t_first = math.nan
        self._trend_pct_per_min = 0.0
        self._out = {"Q_set": slpm_to_m3s(self._q_slpm), "spo2_trend": 0.0, "spo2_valid": 0.0}

    def _usable(self, spo2: float, quality: float) -> bool:
        p = self.p
        return math.isfinite(spo2) and p["spo2_valid_min"] <= spo2 <= 1.0 and not quality < p["quality_min"]

    def _trend(self, t: float) -> float:
        """Least-squares slope (% per min) of the usable readings within the trend window."""
        window = self.p["trend_window_s"]
        points = [(ti, v) for ti, v in self._history if ti > t - window - 1e-9]
        if len(points) < 3:
            return 0.0
        t_mean = sum(ti for ti, _ in points) / len(points)
        v_mean = sum(v for _, v in points) / len(points)
        sxx = sum((ti - t_mean) ** 2 for ti, _ in points)
        sxy = sum((ti - t_mean) * (v - v_mean) for ti, v in points)
        return 60.0 * sxy / sxx if sxx > 0 else 0.0

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        p = self.p
        ts = self.info.sample_time
        if self._t_first != self._t_first:
            self._t_first = t
        spo2 = inputs["spo2"]
        usable = self._usable(spo2, inputs["signal_quality"])
        step_max = p["rate_max_slpm_per_s"] * ts
        if usable:
            self._last_valid_t = t
            self._history.append((t, 100.0 * spo2))
            recent = sorted(v for _, v in list(self._history)[-5:])
            spo2_used = recent[len(recent) // 2] / 100.0
            self._trend_pct_per_min = self._trend(t)
            mid = 0.5 * (p["spo2_target_low"] + p["spo2_target_high"])
            half_width = 0.5 * (p["spo2_target_high"] - p["spo2_target_low"])
            change = infer_flow_change((spo2_used - mid) / half_width, self._trend_pct_per_min)
            delta = change * p["max_change_slpm_per_min"] * ts / 60.0
        else:
            without_reading = t - max(self._last_valid_t, self._t_first)
            if without_reading >= p["hold_max_s"] and self._q_slpm < p["q_fallback_slpm"]:
                delta = p["q_fallback_slpm"] - self._q_slpm
            else:
                delta = 0.0  # hold: no chasing of artefacts, no less oxygen without a reading
        delta = min(max(delta, -step_max), step_max)
        self._q_slpm = min(max(self._q_slpm + delta, p["q_min_slpm"]), p["q_max_slpm"])
        out = self._out
        out["Q_set"] = slpm_to_m3s(self._q_slpm)
        out["spo2_trend"] = self._trend_pct_per_min / 6000.0
        out["spo2_valid"] = 1.0 if usable else 0.0
        return out
