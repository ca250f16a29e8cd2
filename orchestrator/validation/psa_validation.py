"""Validation runs of the PSA unit (O2Twin.CoSim.PSAUnit): cycles, cyclic steady state, balances, performance.

Drives the two-bed cycle with a small fixed timing (the real sequencer is a controller, controllers/), simulates
the Modelica model directly (orchestrator.validation.modelica_sim; pymoca + CasADi + CVODES) and reduces the results to the
figures checked against /work/shared/reference/physics.md: purity, recovery, specific energy, mass balance,
cyclic steady state (CSS) and cold-start times.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.validation.fmu_sim import FMUModel, FMUSimulator, load_fmu
from orchestrator.validation.modelica_sim import CompiledModel, Simulator, compile_model

LOG = logging.getLogger(__name__)

MODEL = "O2Twin.CoSim.PSAUnit"
SPECIES = ("N2", "O2", "Ar")
PSA_OUTPUTS = [
    "p_feed",
    "p_bed_A",
    "p_bed_B",
    "p_tank",
    "y_O2_product",
    "Q_product",
    "T_bed_A",
    "T_bed_B",
    "sensor_O2",
    *[f"N_{kind}[{i}]" for kind in ("feed", "product", "vent", "inventory") for i in (1, 2, 3)],
]
#: Molar volume of an ideal gas at standard conditions (0 degC, 101325 Pa), m3/mol.
MOLAR_VOLUME_STD_M3 = 8.314462618 * 273.15 / 101325.0
#: Rated operating point of the reference design (docs/physics.md).
RATED_FLOW_SLPM = 5.0
RATED_FEED_KG_S = 1.28e-3
ARGON_LIMIT = 0.2095 / (0.2095 + 0.00934)


@dataclass(frozen=True)
class CycleTiming:
    """Two-bed Skarstrom cycle with top-to-top pressure equalisation; durations in seconds.

    Half cycle for bed A producing: (1) feed A + vent B for t_adsorption (the purge orifice, always open, purges B
    with product from A); (2) feed A + equalise valve open for t_equalize. Then the mirror image for bed B.
    """

    t_adsorption_s: float = 3.0
    t_equalize_s: float = 0.5

    @property
    def period_s(self) -> float:
        return 2.0 * (self.t_adsorption_s + self.t_equalize_s)

    def steps(self) -> list[tuple[float, dict[str, float]]]:
        """The four steps of one cycle: (duration_s, valve commands)."""
        closed = {"cmd_feed_A": 0.0, "cmd_feed_B": 0.0, "cmd_vent_A": 0.0, "cmd_vent_B": 0.0, "cmd_equalize": 0.0}
        return [
            (self.t_adsorption_s, closed | {"cmd_feed_A": 1.0, "cmd_vent_B": 1.0}),
            (self.t_equalize_s, closed | {"cmd_feed_A": 1.0, "cmd_equalize": 1.0}),
            (self.t_adsorption_s, closed | {"cmd_feed_B": 1.0, "cmd_vent_A": 1.0}),
            (self.t_equalize_s, closed | {"cmd_feed_B": 1.0, "cmd_equalize": 1.0}),
        ]


@dataclass(frozen=True)
class OperatingPoint:
    """Inputs held over a run: feed air mass flow (kg/s), product setpoint (standard L/min), feed temperature."""

    m_flow_feed_kg_s: float = RATED_FEED_KG_S
    q_set_slpm: float = RATED_FLOW_SLPM
    t_feed_k: float = 298.15


@dataclass
class CycleRecord:
    """Figures of one full cycle (moles are per cycle, per species N2, O2, Ar)."""

    index: int
    t_end_s: float
    n_feed: np.ndarray
    n_product: np.ndarray
    n_vent: np.ndarray
    d_inventory: np.ndarray
    y_O2_end: float
    p_feed_max_pa: float
    p_feed_mean_pa: float
    p_bed_min_pa: float
    p_bed_max_pa: float
    p_tank_mean_pa: float
    t_bed_mean_k: float
    steps: int

    @property
    def purity_O2(self) -> float:
        """O2 mole fraction of the gas delivered during the cycle."""
        total = float(self.n_product.sum())
        return float(self.n_product[1] / total) if total > 0 else float("nan")

    @property
    def recovery_O2(self) -> float:
        """O2 delivered / O2 fed over the cycle."""
        return float(self.n_product[1] / self.n_feed[1])

    def balance_error(self) -> np.ndarray:
        """(in - out - accumulation)/in per species over this cycle."""
        return (self.n_feed - self.n_product - self.n_vent - self.d_inventory) / self.n_feed


@dataclass
class CSSResult:
    """Outcome of running until the cycle-to-cycle change falls below the tolerance."""

    converged: bool
    cycles: int
    tolerance: float
    last_change: float
    records: list[CycleRecord] = field(default_factory=list)

    def report(self) -> str:
        last = self.records[-1]
        state = "reached" if self.converged else "NOT reached"
        return (
            f"cyclic steady state {state} after {self.cycles} cycles ({last.t_end_s:.0f} s): "
            f"cycle-to-cycle change {self.last_change:.2e} (tolerance {self.tolerance:.0e}); "
            f"purity {100 * last.purity_O2:.2f} % O2, recovery {100 * last.recovery_O2:.1f} %"
        )


def compile_psa(n_cells: int = 10, **parameters: float) -> CompiledModel:
    """The PSAUnit model with n_cells per bed and any parameter modifiers (e.g. y_feed_Ar=0)."""
    return compile_model(MODEL, PSA_OUTPUTS, {"nCells": n_cells, **parameters})


def psa_fmu(**parameters: float) -> FMUModel:
    """The exported PSAUnit FMU (fmus/O2Twin_CoSim_PSAUnit.fmu, built or refreshed by the exporter) with parameters."""
    from orchestrator.export import export_model

    return load_fmu(export_model(MODEL), PSA_OUTPUTS, parameters)


#: (t, state): a state vector (direct simulation) or a serialized FMU state
Snapshot = tuple[float, Any]


class PSARun:
    """A PSAUnit simulation driven cycle by cycle with a fixed CycleTiming.

    model: the exported FMU (FMUModel, run with fmpy) or the directly compiled model (CompiledModel, CVODES).
    """

    def __init__(self, model: CompiledModel | FMUModel, timing: CycleTiming | None = None, rel_tol: float = 1e-6):
        self.model = model
        self.timing = timing or CycleTiming()
        self.sim = FMUSimulator(model, rel_tol) if isinstance(model, FMUModel) else Simulator(model, rel_tol=rel_tol)
        self._out = {name: i for i, name in enumerate(model.output_names)}
        self._inp = {name: i for i, name in enumerate(model.input_names)}
        self.records: list[CycleRecord] = []
        self.samples: list[tuple[float, np.ndarray]] = []

    def index(self, name: str) -> int:
        """Position of output `name` in the vectors returned by sim.outputs and stored in samples."""
        return self._out[name]

    def inputs(self, op: OperatingPoint, commands: dict[str, float]) -> np.ndarray:
        """The input vector for an operating point and valve commands."""
        u = np.zeros(len(self.model.input_names))
        u[self._inp["m_flow_feed"]] = op.m_flow_feed_kg_s
        u[self._inp["T_feed"]] = op.t_feed_k
        u[self._inp["Q_set"]] = op.q_set_slpm / 60000.0
        for name, value in commands.items():
            u[self._inp[name]] = value
        return u

    def snapshot(self) -> Snapshot:
        """(t, state) to start another run of the same model from (restore)."""
        return self.sim.t, self.sim.x

    def restore(self, snapshot: Snapshot) -> None:
        self.sim.reset(snapshot[1], snapshot[0])

    def output(self, values: np.ndarray, name: str) -> float:
        return float(values[self._out[name]])

    def _counters(self, y: np.ndarray, kind: str) -> np.ndarray:
        return np.array([y[self._out[f"N_{kind}[{i}]"]] for i in (1, 2, 3)])

    def run_cycle(self, op: OperatingPoint, sample_dt_s: float = 0.25) -> CycleRecord:
        """Simulate one full cycle; outputs are sampled every sample_dt_s for the pressure/temperature figures."""
        steps_before = self.sim.steps
        u0 = self.inputs(op, self.timing.steps()[0][1])
        y_start = self.sim.outputs(u0)
        cycle_samples = []
        for duration, commands in self.timing.steps():
            u = self.inputs(op, commands)
            n = max(1, math.ceil(duration / sample_dt_s - 1e-9))
            for _ in range(n):
                self.sim.step(duration / n, u)
                y = self.sim.outputs(u)
                cycle_samples.append(y)
                self.samples.append((self.sim.t, y))
        y_end = cycle_samples[-1]
        arr = np.array(cycle_samples)
        p_bed = np.concatenate([arr[:, self._out["p_bed_A"]], arr[:, self._out["p_bed_B"]]])
        record = CycleRecord(
            index=len(self.records),
            t_end_s=self.sim.t,
            n_feed=self._counters(y_end, "feed") - self._counters(y_start, "feed"),
            n_product=self._counters(y_end, "product") - self._counters(y_start, "product"),
            n_vent=self._counters(y_end, "vent") - self._counters(y_start, "vent"),
            d_inventory=self._counters(y_end, "inventory") - self._counters(y_start, "inventory"),
            y_O2_end=self.output(y_end, "y_O2_product"),
            p_feed_max_pa=float(arr[:, self._out["p_feed"]].max()),
            p_feed_mean_pa=float(arr[:, self._out["p_feed"]].mean()),
            p_bed_min_pa=float(p_bed.min()),
            p_bed_max_pa=float(p_bed.max()),
            p_tank_mean_pa=float(arr[:, self._out["p_tank"]].mean()),
            t_bed_mean_k=float(arr[:, [self._out["T_bed_A"], self._out["T_bed_B"]]].mean()),
            steps=self.sim.steps - steps_before,
        )
        self.records.append(record)
        return record

    def run_cycles(self, op: OperatingPoint, n: int) -> list[CycleRecord]:
        return [self.run_cycle(op) for _ in range(n)]

    def run_to_css(self, op: OperatingPoint, tolerance: float = 5e-5, max_cycles: int = 500) -> CSSResult:
        """Run until CSS: the cycle-to-cycle change of purity, recovery and (relative) bed pressures < tolerance."""
        change = float("inf")
        start = len(self.records)
        for _ in range(max_cycles):
            rec = self.run_cycle(op)
            if len(self.records) - start >= 2:
                change = cycle_change(self.records[-2], rec)
                if change < tolerance:
                    return CSSResult(True, len(self.records), tolerance, change, self.records[start:])
        return CSSResult(False, len(self.records), tolerance, change, self.records[start:])


def cycle_change(previous: CycleRecord, current: CycleRecord) -> float:
    """Largest cycle-to-cycle change of purity, O2 recovery, bed pressure extremes (relative) and mean bed T (/100 K)."""
    return max(
        abs(current.purity_O2 - previous.purity_O2),
        abs(current.recovery_O2 - previous.recovery_O2),
        abs(current.p_bed_max_pa - previous.p_bed_max_pa) / previous.p_bed_max_pa,
        abs(current.p_bed_min_pa - previous.p_bed_min_pa) / previous.p_bed_min_pa,
        abs(current.t_bed_mean_k - previous.t_bed_mean_k) / 100.0,
    )


def total_balance_error(records: list[CycleRecord]) -> np.ndarray:
    """(in - out - accumulation)/in per species over all the records (cumulative counters vs inventory)."""
    n_feed = sum(r.n_feed for r in records)
    n_out = sum(r.n_product + r.n_vent for r in records)
    d_inv = sum(r.d_inventory for r in records)
    return (n_feed - n_out - d_inv) / n_feed


def compression_power_w(
    m_flow_kg_s: float,
    p_discharge_pa: float,
    t_in_k: float = 298.15,
    p_in_pa: float = 101325.0,
    efficiency: float = 0.5,
) -> float:
    """Electrical power of an adiabatic compressor: n R T gamma/(gamma-1) ((p2/p1)^((gamma-1)/gamma) - 1)/eta.

    efficiency: overall (isentropic x mechanical x motor) efficiency; 0.5 is typical of small oil-free
    piston compressors (documented substitute until the Compressor model's power is coupled here).
    """
    gamma = 1.4
    n_flow = m_flow_kg_s / 0.02897
    ratio = max(p_discharge_pa / p_in_pa, 1.0)
    work = n_flow * 8.314462618 * t_in_k * gamma / (gamma - 1) * (ratio ** ((gamma - 1) / gamma) - 1)
    return work / efficiency


def compressor_model_power_w(
    m_flow_kg_s: float, p_discharge_pa: float, t_ambient_k: float = 298.15
) -> dict[str, float]:
    """Electrical power of the compressor model (Compressor FMU, PHYS-CP) delivering m_flow at p_discharge.

    Finds the PWM duty that delivers m_flow at a steady discharge pressure by bisection (each trial runs the FMU
    for 20 s so that the motor speed settles; the head temperature keeps rising slowly and barely changes the
    power). Returns duty, m_flow, power. Raises ValueError when even full duty delivers less than m_flow.
    """
    from orchestrator.export import export_model

    model = load_fmu(export_model("O2Twin.CoSim.Compressor"), ["m_flow", "power"], {"T_ambient": t_ambient_k})

    def run(duty: float) -> tuple[float, float]:
        sim = FMUSimulator(model)
        inputs = {"duty": duty, "p_discharge": p_discharge_pa, "speed_set": 0.0}  # duty-driven (speed_set unused)
        u = np.array([inputs[n] for n in model.input_names])
        for _ in range(20):
            sim.step(1.0, u)
        flow, power = sim.outputs(u)
        sim.close()
        return float(flow), float(power)

    flow, power = run(1.0)
    if flow < m_flow_kg_s:
        raise ValueError(f"compressor delivers only {flow:.2e} kg/s at full duty and {p_discharge_pa:.0f} Pa")
    low, high = 0.0, 1.0
    for _ in range(14):
        mid = 0.5 * (low + high)
        flow, power = run(mid)
        low, high = (mid, high) if flow < m_flow_kg_s else (low, mid)
    flow, power = run(high)
    return {"duty": high, "m_flow": flow, "power": power}


def specific_energy_kwh_per_m3(
    record: CycleRecord, op: OperatingPoint, period_s: float, power_w: float | None = None
) -> float:
    """Compressor energy per standard m3 of product over one cycle (kWh/m3).

    power_w: the compressor's electrical power; default: adiabatic compression to the mean feed pressure at 50 %
    overall efficiency (compression_power_w).
    """
    if power_w is None:
        power_w = compression_power_w(op.m_flow_feed_kg_s, record.p_feed_mean_pa, op.t_feed_k)
    product_m3 = float(record.n_product.sum()) * MOLAR_VOLUME_STD_M3
    return power_w * period_s / 3.6e6 / product_m3


def cold_start_times(
    run: PSARun, op: OperatingPoint, thresholds: tuple[float, ...] = (0.85, 0.90), max_time_s: float = 900.0
) -> dict[float, float]:
    """Time (s) from a cold start (air-saturated beds) until the delivered O2 fraction first reaches each threshold."""
    if run.records:
        raise ValueError("cold_start_times needs a fresh PSARun")
    times: dict[float, float] = {}
    while run.sim.t < max_time_s and len(times) < len(thresholds):
        n_before = len(run.samples)
        run.run_cycle(op)
        for t, y in run.samples[n_before:]:
            purity = run.output(y, "y_O2_product")
            for threshold in thresholds:
                if threshold not in times and purity >= threshold:
                    times[threshold] = t
    return times


def purity_curve(
    model: CompiledModel | FMUModel,
    flows_slpm: list[float],
    m_flow_feed_kg_s: float = RATED_FEED_KG_S,
    timing: CycleTiming | None = None,
    start: Snapshot | None = None,
    tolerance: float = 5e-5,
    max_cycles: int = 500,
) -> list[dict[str, float]]:
    """Purity, recovery and specific energy at CSS for each product flow (standard L/min), same feed and cycle.

    start: a snapshot to start every point from (e.g. the rated CSS) to shorten the runs; None = cold start.
    """
    rows = []
    for flow in flows_slpm:
        op = OperatingPoint(m_flow_feed_kg_s, flow)
        run = PSARun(model, timing)
        if start is not None:
            run.restore(start)
        result = run.run_to_css(op, tolerance=tolerance, max_cycles=max_cycles)
        last = result.records[-1]
        rows.append(
            {
                "flow_slpm": flow,
                "purity_O2": last.purity_O2,
                "recovery_O2": last.recovery_O2,
                "specific_energy_adiabatic_kwh_m3": specific_energy_kwh_per_m3(last, op, run.timing.period_s),
                "p_bed_max_bar": last.p_bed_max_pa / 1e5,
                "p_tank_mean_bar": last.p_tank_mean_pa / 1e5,
                "cycles": float(result.cycles),
                "converged": float(result.converged),
            }
        )
        LOG.info("flow %.2f L/min: %s", flow, result.report())
    return rows
