"""The one place where SI values (inside models and FMUs) meet the units users read on a device.

Models and FMUs use SI: Pa, K, kg/s, m3/s, mole fractions. Users read bar(g), deg C, L/min (standard litres,
0 degC and 101325 Pa), % O2 and % SpO2.
"""

from collections.abc import Callable
from typing import Any

P_ATM_PA = 101_325.0
T_ZERO_C_K = 273.15
#: Standard conditions for "standard litres" (SLPM): 0 degC, 1 atm (ISO 8778 uses 20 degC; medical flow meters
#: in the seed are calibrated at 0 degC).
P_STD_PA = P_ATM_PA
T_STD_K = T_ZERO_C_K
R_GAS = 8.314462618  # J/(mol K)
#: Molar volume of an ideal gas at standard conditions, m3/mol.
MOLAR_VOLUME_STD_M3 = R_GAS * T_STD_K / P_STD_PA


def pa_to_barg(pressure_pa: float, ambient_pa: float = P_ATM_PA) -> float:
    """Absolute pressure in Pa -> gauge pressure in bar."""
    return (pressure_pa - ambient_pa) / 1e5


def barg_to_pa(pressure_barg: float, ambient_pa: float = P_ATM_PA) -> float:
    """Gauge pressure in bar -> absolute pressure in Pa."""
    return pressure_barg * 1e5 + ambient_pa


def k_to_degc(temperature_k: float) -> float:
    return temperature_k - T_ZERO_C_K


def degc_to_k(temperature_degc: float) -> float:
    return temperature_degc + T_ZERO_C_K


def m3s_to_slpm(flow_m3s_std: float) -> float:
    """Standard volumetric flow m3/s -> standard litres per minute."""
    return flow_m3s_std * 60_000.0


def slpm_to_m3s(flow_slpm: float) -> float:
    """Standard litres per minute -> standard m3/s."""
    return flow_slpm / 60_000.0


def mol_s_to_slpm(flow_mol_s: float) -> float:
    """Molar flow mol/s -> standard litres per minute."""
    return flow_mol_s * MOLAR_VOLUME_STD_M3 * 60_000.0


def fraction_to_percent(fraction: float) -> float:
    return fraction * 100.0


def percent_to_fraction(percent: float) -> float:
    return percent / 100.0


#: Display conversions keyed by the SI unit declared in an FMU: (display unit, function).
DISPLAY_UNITS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "Pa": ("bar(g)", pa_to_barg),
    "K": ("degC", k_to_degc),
    "m3/s": ("L/min", m3s_to_slpm),
    "1": ("%", fraction_to_percent),
}
