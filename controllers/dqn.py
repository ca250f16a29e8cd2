"""DQNSupervisor: the supervisory layer of the concentrator driven by a Q-network, run with numpy only.

Once per supervisory period (``period_s``, default one nominal PSA cycle of 7.5 s) the block turns what the device
measures over the period into an observation vector (``FEATURES``), picks one of ``ACTIONS`` and moves two
supervisory inputs by one step: an offset on the scheduled feed-pressure setpoint (``p_setpoint`` =
``p_schedule`` + offset, to ``pid.p_setpoint``) and the PSA cycle-time scale (to ``sequencer.cycle_time_scale``).
The PID, sequencer, titrator and SafetyWatchdog stay in the loop: the watchdog still clamps whatever results.

The action comes from one of two places:
- ``policy`` = a file name under the repository's ``policies/`` folder (e.g. ``"dqn/policy.npz"``): the block runs
  that Q-network (greedy: argmax over the actions) with numpy; no torch import, so it runs on a Raspberry Pi;
- ``policy`` = ``""``: the ``action`` input, set from outside before each decision (the Gymnasium environment of
  ``orchestrator.rl`` does this while training).

Periods lie on a fixed grid of boundaries t = start_s + k * period_s (k of either sign). At a period's last sample
the block computes the period's observation and holds it in the outputs ``obs_0``.. through the next period, so at
a boundary they are exactly the observation the decision at that boundary uses. Decisions are taken from
``start_s`` on (after the cold start); before it the block holds offset 0 and scale 1.

The guard (a rule of this controller, not of the network; ``guard`` = 1, the default): when the block chooses its
own action (``policy`` set), the action is the Q-network's best among the actions ``allowed_actions`` permits, so
the policy never trades a gas or patient margin for energy near an alarm limit. When the period's lowest O2
reading is below ``purity_guard`` (default 0.90; the watchdog's LOW_PURITY alarm is at 0.87) or its mean valid SpO2
reading below ``spo2_guard`` (default 0.87; LOW_SPO2 at 0.85), the block neither lowers the pressure setpoint nor
lengthens the cycle, and while a setting is still on the economy side of nominal (offset < 0 or scale > 1) it does
not hold either: it raises the pressure or shortens the cycle, whichever the network prefers of the two that still
moves its setting (a step at its limit would hold). At any time the
setpoint stays at or above ``p_guard_barg`` (default 0.6 bar(g); the watchdog's LOW_PRESSURE alarm is at 0.5): a
"pressure down" that would cross it is not permitted, and the output is floored there when the schedule falls.
The watchdog is unchanged and still clamps whatever results. The ``action`` input (``policy`` = ''; training) is
applied unguarded: the shipped network was trained without the guard. ``guard_overrides`` counts the decisions
where the guard replaced the network's greedy action.

The ``.npz`` Q-network (written by ``orchestrator.rl.export``): arrays ``W0, b0, W1, b1, ...`` of a fully connected
network with ReLU between layers (``W`` of shape (inputs, outputs)), ``n_obs`` and ``n_actions``, and
``features`` (the FEATURES names it was trained on; a mismatch is refused).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.errors import SystemDefinitionError
from orchestrator.paths import POLICIES_DIR
from orchestrator.units import P_ATM_PA, k_to_degc, m3s_to_slpm, pa_to_barg

#: The actions, by index (the Q-network's outputs in this order).
ACTIONS = ("hold", "pressure_up", "pressure_down", "cycle_longer", "cycle_shorter")

#: The observation, by index: each a measured quantity over the last period, normalised to about -1..1.
FEATURES = (
    "purity_mean",  # (mean O2 reading - 0.90) / 0.05
    "purity_min",  # (lowest O2 reading - 0.90) / 0.05
    "purity_trend",  # (mean O2 reading - the previous period's) / 0.01
    "p_feed_mean",  # (mean feed pressure reading, bar(g) - 1.0) / 0.5
    "flow_mean",  # (mean product flow reading, L/min - 2.5) / 2.5
    "flow_setpoint",  # (flow commanded by the watchdog, L/min - 2.5) / 2.5
    "spo2_error",  # (mean valid SpO2 reading - target middle) / target half-width; 0 without a reading
    "spo2_valid",  # share of samples with a valid SpO2 reading
    "t_head",  # (compressor head temperature, degC - 45) / 20
    "duty_mean",  # (mean applied compressor duty - 0.5) / 0.5
    "alarm",  # share of samples with any alarm active
    "p_offset",  # the supervisor's pressure offset / its largest magnitude
    "cycle_scale",  # (the supervisor's cycle-time scale - 1) / 0.3
)
#: Every feature is clipped to +-OBS_LIMIT (the Gymnasium observation space's bounds).
OBS_LIMIT = 10.0


class QNetwork:
    """A fully connected Q-network (ReLU hidden layers, linear output) evaluated with numpy."""

    def __init__(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        if len(weights) != len(biases) or not weights:
            raise ValueError("a Q-network needs as many bias vectors as weight matrices, at least one")
        self.weights = [np.ascontiguousarray(w, dtype=np.float64) for w in weights]
        self.biases = [np.ascontiguousarray(b, dtype=np.float64) for b in biases]
        self.n_obs = self.weights[0].shape[0]
        self.n_actions = self.weights[-1].shape[1]

    @classmethod
    def load(cls, path: Path) -> QNetwork:
        """Read a network written by orchestrator.rl.export (see the module docstring for the format)."""
        with np.load(path, allow_pickle=False) as data:
            n_layers = sum(1 for key in data.files if key.startswith("W"))
            net = cls([data[f"W{i}"] for i in range(n_layers)], [data[f"b{i}"] for i in range(n_layers)])
            features = tuple(str(f) for f in data["features"]) if "features" in data.files else ()
        if features != FEATURES or net.n_actions != len(ACTIONS):
            raise ValueError(
                f"{path}: trained on features {features} and {net.n_actions} actions; this block has {FEATURES} and "
                f"{len(ACTIONS)} actions (retrain with `o2twin train dqn`)"
            )
        return net

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q-values of every action for one observation (or a batch, rows)."""
        x = np.asarray(obs, dtype=np.float64)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w + b
            if i < last:
                np.maximum(x, 0.0, out=x)
        return x

    def act(self, obs: np.ndarray) -> int:
        """The greedy action (the first of equal maxima, as torch's argmax)."""
        return int(np.argmax(self.q_values(obs)))


def allowed_actions(
    *,
    near_alarm: bool,
    p_offset_bar: float,
    cycle_scale: float,
    p_setpoint_after_down_barg: float,
    p_guard_barg: float,
    p_offset_max_bar: float,
    scale_min: float,
) -> np.ndarray:
    """Which ACTIONS the guard permits (a boolean per action; see the module docstring). Never all False: with an
    economy on (offset < 0 <= p_offset_max_bar, or scale > 1 >= scale_min) a move that gives it back exists."""
    allowed = np.ones(len(ACTIONS), dtype=bool)
    if p_setpoint_after_down_barg < p_guard_barg - 1e-9:  # (the tolerance: offsets are sums of steps)
        allowed[ACTIONS.index("pressure_down")] = False
    if near_alarm:
        allowed[ACTIONS.index("pressure_down")] = False
        allowed[ACTIONS.index("cycle_longer")] = False
        if p_offset_bar < 0.0 or cycle_scale > 1.0:  # an economy is on: give margin back (a move at its limit holds)
            allowed[ACTIONS.index("hold")] = False
            allowed[ACTIONS.index("pressure_up")] = p_offset_bar < p_offset_max_bar - 1e-9
            allowed[ACTIONS.index("cycle_shorter")] = cycle_scale > scale_min + 1e-9
    return allowed


def guarded_action(q_values: np.ndarray, allowed: np.ndarray) -> int:
    """The best permitted action by Q-value (the first of equal maxima)."""
    return int(np.argmax(np.where(allowed, q_values, -np.inf)))


def policy_path(name: str) -> Path:
    """The file a ``policy`` parameter names: a .npz under policies/, never a path elsewhere."""
    candidate = (POLICIES_DIR / name).resolve()
    if not name.endswith(".npz") or Path(name).is_absolute() or POLICIES_DIR.resolve() not in candidate.parents:
        raise SystemDefinitionError(
            f"policy {name!r}: name a .npz file under {POLICIES_DIR} (e.g. 'dqn/policy.npz'), not a path elsewhere"
        )
    if not candidate.is_file():
        raise SystemDefinitionError(f"policy {name!r}: no such file {candidate} (train one with `o2twin train dqn`)")
    return candidate


class _PeriodStats:
    """Running statistics of the measured signals over the current supervisory period."""

    def __init__(self) -> None:
        self.n = 0
        self.o2_sum = self.o2_min = self.p_sum = self.q_sum = self.duty_sum = 0.0
        self.spo2_sum = 0.0
        self.spo2_n = self.alarm_n = 0
        self.o2_min = math.inf

    def add(self, u: Mapping[str, float]) -> None:
        self.n += 1
        o2 = u["sensor_O2"]
        self.o2_sum += o2
        self.o2_min = min(self.o2_min, o2)
        self.p_sum += u["p_feed"]
        self.q_sum += u["sensor_Q"]
        self.duty_sum += u["duty"]
        spo2, quality = u["spo2"], u["signal_quality"]
        if math.isfinite(spo2) and 0.0 < spo2 <= 1.0 and quality >= 0.5:
            self.spo2_sum += spo2
            self.spo2_n += 1
        if u["alarm_code"] != 0.0:
            self.alarm_n += 1


class DQNSupervisor(PythonBlock):
    """Measured signals in; the feed-pressure setpoint and the cycle-time scale out (see the module docstring)."""

    INPUTS = (
        Variable("p_schedule", "input", unit="Pa", start=P_ATM_PA + 0.8e5, description="scheduled setpoint, abs"),
        Variable("p_feed", "input", unit="Pa", start=P_ATM_PA, description="feed pressure reading, abs"),
        Variable("sensor_O2", "input", unit="1", start=0.21, description="product O2 reading"),
        Variable("sensor_Q", "input", unit="m3/s", start=0.0, description="product flow reading (standard)"),
        Variable("Q_set", "input", unit="m3/s", start=0.0, description="flow commanded by the watchdog"),
        Variable("spo2", "input", unit="1", start=math.nan, description="oximeter display (NaN: no reading)"),
        Variable("signal_quality", "input", unit="1", start=0.0, description="oximeter signal quality"),
        Variable("T_head", "input", unit="K", start=298.15, description="compressor head temperature"),
        Variable("duty", "input", unit="1", start=0.0, description="compressor duty applied by the watchdog"),
        Variable("alarm_code", "input", unit="1", start=0.0, description="watchdog alarm bit mask"),
        Variable("action", "input", unit="1", start=0.0, description="external action index (policy = '')"),
    )
    OUTPUTS = (
        Variable("p_setpoint", "output", unit="Pa", start=P_ATM_PA + 0.8e5, description="feed pressure setpoint"),
        Variable("cycle_time_scale", "output", unit="1", start=1.0, description="PSA cycle-time scale"),
        Variable("p_offset_bar", "output", unit="bar", start=0.0, description="offset on the scheduled setpoint"),
        Variable("last_action", "output", unit="1", start=0.0, description="index of the last action taken"),
        Variable("decisions", "output", unit="1", start=0.0, description="decisions taken so far"),
        Variable("guard_overrides", "output", unit="1", start=0.0, description="decisions the guard changed"),
        *(Variable(f"obs_{i}", "output", unit="1", start=0.0, description=name) for i, name in enumerate(FEATURES)),
    )
    PARAMETERS = (
        Variable("policy", "parameter", type="String", start="", description="policies/ file; '' = action input"),
        Variable("period_s", "parameter", unit="s", start=7.5, description="supervisory period"),
        Variable("start_s", "parameter", unit="s", start=240.0, description="first decision (after the cold start)"),
        Variable("p_step_bar", "parameter", unit="bar", start=0.05, description="pressure offset per action"),
        Variable("p_offset_min_bar", "parameter", unit="bar", start=-0.4, description="lowest pressure offset"),
        Variable("p_offset_max_bar", "parameter", unit="bar", start=0.4, description="highest pressure offset"),
        Variable("p_setpoint_min_barg", "parameter", unit="bar", start=0.3, description="setpoint floor"),
        Variable("p_setpoint_max_barg", "parameter", unit="bar", start=2.4, description="setpoint ceiling (<= 2.4)"),
        Variable("scale_step", "parameter", unit="1", start=0.05, description="cycle-time scale per action"),
        Variable("scale_min", "parameter", unit="1", start=0.7, description="lowest cycle-time scale"),
        Variable("scale_max", "parameter", unit="1", start=1.3, description="highest cycle-time scale"),
        Variable("spo2_target_low", "parameter", unit="1", start=0.88, description="SpO2 target, lower edge"),
        Variable("spo2_target_high", "parameter", unit="1", start=0.92, description="SpO2 target, upper edge"),
        Variable("p_ambient", "parameter", unit="Pa", start=P_ATM_PA, description="reference of gauge pressure"),
        Variable("guard", "parameter", unit="1", start=1.0, description="1: the guard on the policy's actions; 0: off"),
        Variable("purity_guard", "parameter", unit="1", start=0.90, description="guard: lowest O2 reading below"),
        Variable("spo2_guard", "parameter", unit="1", start=0.87, description="guard: mean valid SpO2 below"),
        Variable("p_guard_barg", "parameter", unit="bar", start=0.6, description="guard: no pressure down below"),
    )

    @classmethod
    def referenced_files(cls, parameters: Mapping[str, Any]) -> list[Path]:
        """The policy file (policies/...npz) the ``policy`` parameter names; none for the external action input."""
        policy = parameters.get("policy", "")
        return [policy_path(policy)] if isinstance(policy, str) and policy else []

    def validate_parameters(self) -> None:
        p = self.p
        for name, value in p.items():
            if name == "policy":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise SystemDefinitionError(f"{self.name}: parameter '{name}' must be a finite number, got {value!r}")
        ts = self.sample_time
        for name in ("period_s", "start_s"):
            ratio = p[name] / ts
            if p[name] < 0 or abs(ratio - round(ratio)) > 1e-6 or (name == "period_s" and round(ratio) < 1):
                raise SystemDefinitionError(
                    f"{self.name}: {name} = {p[name]} s must be a non-negative whole number of sample times ({ts} s)"
                )
        if not p["p_offset_min_bar"] <= 0.0 <= p["p_offset_max_bar"] or not p["p_step_bar"] > 0:
            raise SystemDefinitionError(f"{self.name}: need p_offset_min_bar <= 0 <= p_offset_max_bar, p_step_bar > 0")
        if not 0.0 < p["p_setpoint_min_barg"] < p["p_setpoint_max_barg"] <= 2.4:
            raise SystemDefinitionError(
                f"{self.name}: need 0 < p_setpoint_min_barg < p_setpoint_max_barg <= 2.4 bar(g) (the relief valve)"
            )
        if not 0.5 <= p["scale_min"] <= 1.0 <= p["scale_max"] <= 2.0 or not p["scale_step"] > 0:
            raise SystemDefinitionError(f"{self.name}: need 0.5 <= scale_min <= 1 <= scale_max <= 2, scale_step > 0")
        if not 0.0 < p["spo2_target_low"] < p["spo2_target_high"] <= 1.0:
            raise SystemDefinitionError(f"{self.name}: need 0 < spo2_target_low < spo2_target_high <= 1")
        if p["guard"] not in (0.0, 1.0) or not 0.0 < p["purity_guard"] < 1.0 or not 0.0 < p["spo2_guard"] < 1.0:
            raise SystemDefinitionError(f"{self.name}: need guard 0 or 1, 0 < purity_guard < 1, 0 < spo2_guard < 1")
        if not isinstance(p["policy"], str):
            raise SystemDefinitionError(f"{self.name}: policy must be a file name under policies/ or ''")
        if p["policy"]:
            path = policy_path(p["policy"])
            try:
                self._network: QNetwork | None = QNetwork.load(path)
            except (ValueError, KeyError, OSError) as err:
                raise SystemDefinitionError(f"{self.name}: policy {p['policy']!r}: {err}") from err
        else:
            self._network = None

    def reset(self) -> None:
        p = self.p
        self._n_period = round(p["period_s"] / self.sample_time)
        self._n_start = round(p["start_s"] / self.sample_time)
        self._stats = _PeriodStats()
        self._previous_purity = math.nan
        self._offset_bar = 0.0
        self._scale = 1.0
        self._obs = np.zeros(len(FEATURES))
        self._out: dict[str, float] = {v.name: float(v.start) for v in self.OUTPUTS}  # type: ignore[arg-type]
        self._decisions = 0
        self._overrides = 0
        self._guarded = self._network is not None and bool(self.p["guard"])

    def update(self, t: float, inputs: Mapping[str, float]) -> Mapping[str, float]:
        n = round((t - self._t0) / self.sample_time)
        phase = (n - self._n_start) % self._n_period
        if phase == 0 and self._stats.n > 0:
            if n >= self._n_start:
                action = self._choose(inputs)
                self._apply(action)
            self._previous_purity = self._stats.o2_sum / self._stats.n
            self._stats = _PeriodStats()
        self._stats.add(inputs)
        if phase == self._n_period - 1:  # the period's last sample: its observation, held through the next period
            self._obs = self._features(inputs)
            for i, value in enumerate(self._obs):
                self._out[f"obs_{i}"] = float(value)
        return self._outputs(inputs)

    def _choose(self, inputs: Mapping[str, float]) -> int:
        if self._network is not None:
            q = self._network.q_values(self._obs)
            if not self._guarded:
                return int(np.argmax(q))
            chosen = guarded_action(q, self._allowed(inputs))
            self._overrides += chosen != int(np.argmax(q))
            return chosen
        action = inputs["action"]
        if not math.isfinite(action) or round(action) not in range(len(ACTIONS)):
            return 0  # an unusable external action is "hold"
        return round(action)

    def _allowed(self, inputs: Mapping[str, float]) -> np.ndarray:
        """The guard's permitted actions for the period that just ended (module docstring)."""
        p, s = self.p, self._stats
        low_purity = s.o2_min < p["purity_guard"]
        low_spo2 = s.spo2_n > 0 and s.spo2_sum / s.spo2_n < p["spo2_guard"]
        schedule_barg = pa_to_barg(inputs["p_schedule"], p["p_ambient"])
        after_down_barg = schedule_barg + self._offset_bar - p["p_step_bar"]  # before the floor: the request itself
        return allowed_actions(
            near_alarm=low_purity or low_spo2,
            p_offset_bar=self._offset_bar,
            cycle_scale=self._scale,
            p_setpoint_after_down_barg=after_down_barg if math.isfinite(after_down_barg) else -math.inf,
            p_guard_barg=p["p_guard_barg"],
            p_offset_max_bar=p["p_offset_max_bar"],
            scale_min=p["scale_min"],
        )

    def _setpoint_pa(self, u: Mapping[str, float], offset_bar: float) -> float:
        """The feed-pressure setpoint (Pa, absolute) for an offset on the schedule, within the floor and ceiling."""
        p = self.p
        amb = p["p_ambient"]
        floor_barg = p["p_setpoint_min_barg"]
        if self._guarded:
            floor_barg = max(floor_barg, p["p_guard_barg"])
        lo, hi = amb + floor_barg * 1e5, amb + p["p_setpoint_max_barg"] * 1e5
        base = u["p_schedule"] if math.isfinite(u["p_schedule"]) else lo
        return min(max(base + offset_bar * 1e5, lo), hi)

    def _apply(self, action: int) -> None:
        p = self.p
        name = ACTIONS[action]
        if name == "pressure_up":
            self._offset_bar = min(self._offset_bar + p["p_step_bar"], p["p_offset_max_bar"])
        elif name == "pressure_down":
            self._offset_bar = max(self._offset_bar - p["p_step_bar"], p["p_offset_min_bar"])
        elif name == "cycle_longer":
            self._scale = min(self._scale + p["scale_step"], p["scale_max"])
        elif name == "cycle_shorter":
            self._scale = max(self._scale - p["scale_step"], p["scale_min"])
        self._decisions += 1
        self._out["last_action"] = float(action)

    def _features(self, u: Mapping[str, float]) -> np.ndarray:
        p, s = self.p, self._stats
        purity = s.o2_sum / s.n
        mid = 0.5 * (p["spo2_target_low"] + p["spo2_target_high"])
        half = 0.5 * (p["spo2_target_high"] - p["spo2_target_low"])
        spo2_error = (s.spo2_sum / s.spo2_n - mid) / half if s.spo2_n else 0.0
        trend = (purity - self._previous_purity) / 0.01 if math.isfinite(self._previous_purity) else 0.0
        offset_span = max(abs(p["p_offset_min_bar"]), abs(p["p_offset_max_bar"]), 1e-9)
        values = (
            (purity - 0.90) / 0.05,
            (s.o2_min - 0.90) / 0.05,
            trend,
            (pa_to_barg(s.p_sum / s.n, p["p_ambient"]) - 1.0) / 0.5,
            (m3s_to_slpm(s.q_sum / s.n) - 2.5) / 2.5,
            (m3s_to_slpm(u["Q_set"]) - 2.5) / 2.5,
            spo2_error,
            s.spo2_n / s.n,
            (k_to_degc(u["T_head"]) - 45.0) / 20.0,
            (s.duty_sum / s.n - 0.5) / 0.5,
            s.alarm_n / s.n,
            self._offset_bar / offset_span,
            (self._scale - 1.0) / 0.3,
        )
        obs = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=OBS_LIMIT, neginf=-OBS_LIMIT)
        return np.clip(obs, -OBS_LIMIT, OBS_LIMIT)

    def _outputs(self, u: Mapping[str, float]) -> Mapping[str, float]:
        out = self._out
        out["p_setpoint"] = self._setpoint_pa(u, self._offset_bar)
        out["cycle_time_scale"] = self._scale
        out["p_offset_bar"] = self._offset_bar
        out["decisions"] = float(self._decisions)
        out["guard_overrides"] = float(self._overrides)
        return out
