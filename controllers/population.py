"""A virtual patient population: healthy adults and COPD (GOLD 1-3: mild, moderate, severe), sampled by seed.

Each class has documented parameter distributions for the physiology of O2Twin.Patient.Adult (docs/physics-patients.md
lists them with their sources). ``sample_patient(kind, seed)`` draws one patient, the same one for the same kind and
seed on every machine (numpy's PCG64 generator); ``VirtualPatient.patient_parameters()`` gives the FMU parameters of
the patient slave and ``plant_parameters()`` those that put the concentrator at the patient's altitude (the room's
pressure is the compressor's and PSA unit's ``p_ambient`` and the gauge reference of the watchdog and the schedule).

    patient = sample_patient("copd_moderate", seed=3)
    run("default", overrides={**patient.patient_parameters(), **patient.plant_parameters()})

The breathing rate is not drawn: it is the rate that gives the drawn resting PaCO2 (the chemoreflexes set the
alveolar ventilation, PaCO2 = 0.863 VCO2/V_A), so the ventilation parameters of a sample are consistent.
Distributions are normal, truncated to the class's range (a draw outside is clipped), except the residence altitude:
80 % live at 0-300 m, 15 % at 300-1500 m, 5 % at 1500-2500 m (an assumption for a home-oxygen population, uniform
within each band). Values in the table are mean, standard deviation and range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Classes of the population, in a fixed order (the class index is part of the random stream's key).
KINDS = ("healthy", "copd_mild", "copd_moderate", "copd_severe")
MMHG_PA = 133.322387415

# (mean, sd, low, high) per class, in the units named by the key.
_DISTRIBUTIONS: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "paco2_mmhg": {
        "healthy": (40.0, 2.5, 35.0, 45.0),
        "copd_mild": (41.0, 3.0, 35.0, 48.0),
        "copd_moderate": (44.0, 4.0, 36.0, 52.0),
        "copd_severe": (50.0, 5.0, 40.0, 62.0),
    },
    "tidal_volume_l": {
        "healthy": (0.50, 0.06, 0.35, 0.70),
        "copd_mild": (0.48, 0.06, 0.33, 0.65),
        "copd_moderate": (0.46, 0.06, 0.32, 0.62),
        "copd_severe": (0.45, 0.06, 0.30, 0.60),
    },
    "dead_space_fraction": {
        "healthy": (0.30, 0.03, 0.22, 0.38),
        "copd_mild": (0.38, 0.04, 0.28, 0.48),
        "copd_moderate": (0.46, 0.05, 0.35, 0.58),
        "copd_severe": (0.56, 0.05, 0.45, 0.68),
    },
    "shunt_fraction": {
        "healthy": (0.03, 0.01, 0.01, 0.06),
        "copd_mild": (0.05, 0.015, 0.02, 0.10),
        "copd_moderate": (0.08, 0.02, 0.04, 0.14),
        "copd_severe": (0.15, 0.03, 0.08, 0.25),
    },
    "vq_mismatch_mmhg": {
        "healthy": (3.0, 1.5, 0.0, 8.0),
        "copd_mild": (10.0, 3.0, 3.0, 18.0),
        "copd_moderate": (18.0, 4.0, 8.0, 28.0),
        "copd_severe": (27.0, 5.0, 15.0, 40.0),
    },
    "diffusion_limitation_mmhg": {
        "healthy": (0.0, 0.0, 0.0, 0.0),
        "copd_mild": (5.0, 2.0, 0.0, 10.0),
        "copd_moderate": (10.0, 3.0, 3.0, 18.0),
        "copd_severe": (15.0, 4.0, 6.0, 25.0),
    },
    "hemoglobin_g_dl": {
        "healthy": (14.5, 1.3, 11.5, 17.5),
        "copd_mild": (14.2, 1.6, 10.0, 18.5),
        "copd_moderate": (14.0, 1.8, 10.0, 18.5),
        "copd_severe": (14.0, 1.9, 10.0, 19.0),
    },
    "vo2_ml_min": {
        "healthy": (250.0, 30.0, 180.0, 330.0),
        "copd_mild": (265.0, 30.0, 190.0, 350.0),
        "copd_moderate": (280.0, 30.0, 200.0, 370.0),
        "copd_severe": (300.0, 35.0, 220.0, 400.0),
    },
    "ventilatory_capacity_l_min": {
        "healthy": (120.0, 20.0, 80.0, 170.0),
        "copd_mild": (95.0, 15.0, 60.0, 130.0),
        "copd_moderate": (65.0, 12.0, 40.0, 90.0),
        "copd_severe": (35.0, 7.0, 22.0, 50.0),
    },
    "frc_l": {
        "healthy": (2.5, 0.4, 1.8, 3.4),
        "copd_mild": (3.0, 0.4, 2.2, 4.0),
        "copd_moderate": (3.5, 0.5, 2.5, 4.6),
        "copd_severe": (4.0, 0.5, 3.0, 5.2),
    },
    "cardiac_output_l_min": {
        "healthy": (5.0, 0.6, 3.8, 6.5),
        "copd_mild": (5.0, 0.6, 3.8, 6.5),
        "copd_moderate": (5.0, 0.7, 3.6, 6.6),
        "copd_severe": (5.0, 0.7, 3.5, 6.6),
    },
}
#: Residence altitude bands (m) and their shares.
ALTITUDE_BANDS = ((0.0, 300.0, 0.80), (300.0, 1500.0, 0.15), (1500.0, 2500.0, 0.05))


def barometric_pressure_pa(altitude_m: float) -> float:
    """International Standard Atmosphere (troposphere): p = 101325 (1 - 2.25577e-5 h)^5.25588 Pa."""
    return 101325.0 * (1.0 - 2.25577e-5 * altitude_m) ** 5.25588


@dataclass(frozen=True)
class VirtualPatient:
    """One sampled patient: the class, the seed and the physiology (display units; SI in the FMU parameters)."""

    kind: str
    seed: int
    paco2_mmhg: float
    tidal_volume_l: float
    dead_space_fraction: float
    shunt_fraction: float
    vq_mismatch_mmhg: float
    diffusion_limitation_mmhg: float
    hemoglobin_g_dl: float
    vo2_ml_min: float
    ventilatory_capacity_l_min: float
    frc_l: float
    cardiac_output_l_min: float
    altitude_m: float

    @property
    def copd(self) -> bool:
        return self.kind != "healthy"

    @property
    def respiratory_rate_per_min(self) -> float:
        """The rate that gives the sampled PaCO2 (alveolar ventilation equation, RQ 0.8), within 8-35 /min."""
        alveolar_l = self.tidal_volume_l * (1.0 - self.dead_space_fraction)
        rate = 0.863 * 0.8 * self.vo2_ml_min / (self.paco2_mmhg * alveolar_l)
        return min(max(rate, 8.0), 35.0)

    def patient_parameters(self, slave: str = "patient") -> dict[str, float]:
        """FMU parameters of O2Twin.CoSim.Patient (SI): the preset selector and that preset's values."""
        preset = "copd" if self.copd else "healthy"
        values = {
            "respiratory_rate": self.respiratory_rate_per_min / 60.0,
            "tidal_volume": self.tidal_volume_l * 1e-3,
            "dead_space": self.dead_space_fraction * self.tidal_volume_l * 1e-3,
            "VO2": self.vo2_ml_min * 1e-6 / 60.0,
            "shunt_fraction": self.shunt_fraction,
            "dPO2_VQ": self.vq_mismatch_mmhg * MMHG_PA,
            "diffusion_limitation": self.diffusion_limitation_mmhg * MMHG_PA,
            "FRC": self.frc_l * 1e-3,
            "hemoglobin": self.hemoglobin_g_dl * 10.0,
            "cardiac_output": self.cardiac_output_l_min * 1e-3 / 60.0,
            "ventilatory_capacity": self.ventilatory_capacity_l_min * 1e-3 / 60.0,
        }
        out = {f"{slave}.copd": 1.0 if self.copd else 0.0, f"{slave}.P_baro": self.barometric_pressure_pa}
        out.update({f"{slave}.{name}_{preset}": _round(value) for name, value in values.items()})
        return out

    @property
    def barometric_pressure_pa(self) -> float:
        return _round(barometric_pressure_pa(self.altitude_m))

    def plant_parameters(
        self, ambient_slaves: tuple[str, ...] = ("compressor", "psa", "watchdog", "schedule")
    ) -> dict[str, float]:
        """The room's pressure at the patient's altitude for the concentrator's slaves (p_ambient)."""
        return {f"{slave}.p_ambient": self.barometric_pressure_pa for slave in ambient_slaves}

    def as_dict(self) -> dict[str, float | str | int]:
        return asdict(self)


def _round(value: float) -> float:
    """Nine significant digits: what a scenario file shows is exactly what runs."""
    return float(f"{value:.9g}")


def _truncated_normal(rng: np.random.Generator, mean: float, sd: float, low: float, high: float) -> float:
    return float(min(max(rng.normal(mean, sd), low), high)) if sd > 0 else mean


def _altitude(rng: np.random.Generator) -> float:
    u, pick = rng.random(), rng.random()
    cumulative = 0.0
    for low, high, share in ALTITUDE_BANDS:
        cumulative += share
        if u < cumulative:
            return float(low + pick * (high - low))
    low, high, _ = ALTITUDE_BANDS[-1]
    return float(low + pick * (high - low))


def sample_patient(kind: str, seed: int) -> VirtualPatient:
    """One patient of class ``kind`` (see KINDS); the same kind and seed always give the same patient."""
    if kind not in KINDS:
        raise ValueError(f"unknown patient class {kind!r}; choose one of {', '.join(KINDS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.Generator(np.random.PCG64([seed, KINDS.index(kind)]))
    values = {name: _truncated_normal(rng, *table[kind]) for name, table in _DISTRIBUTIONS.items()}
    return VirtualPatient(kind=kind, seed=seed, altitude_m=_altitude(rng), **values)


def distribution_table() -> list[dict[str, str]]:
    """The distributions as rows (quantity, then 'mean +- sd (low-high)' per class) for the docs."""
    rows = []
    for name, table in _DISTRIBUTIONS.items():
        row = {"quantity": name}
        for kind in KINDS:
            mean, sd, low, high = table[kind]
            row[kind] = f"{mean:g} +- {sd:g} ({low:g}-{high:g})" if sd > 0 else f"{mean:g}"
        rows.append(row)
    return rows


def resting_paco2_mmhg(patient: VirtualPatient) -> float:
    """Resting PaCO2 (mmHg) from the alveolar ventilation equation at the patient's breathing pattern."""
    alveolar_l_min = patient.respiratory_rate_per_min * patient.tidal_volume_l * (1.0 - patient.dead_space_fraction)
    return 0.863 * 0.8 * patient.vo2_ml_min / alveolar_l_min
