"""Modelica/FMI unit strings as SI base units, for the SSP Units table and unit conversion on SSP connections.

FMI and SSP describe a unit by its exponents of the SI base units (kg, m, s, A, K, mol, cd, rad) and a factor and
offset: value_in_base_units = factor * value + offset. FMUs often declare unit names without UnitDefinitions, so
this module derives them from the name, using the Modelica unit syntax (Modelica Language Spec. 19.1):
"kg.m/s2", "N.m", "J/(mol.K)", "m3/s", "bar", "degC", "1". Unknown names give None; callers leave them undefined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BASE = ("kg", "m", "s", "A", "K", "mol", "cd", "rad")


@dataclass(frozen=True)
class BaseUnit:
    """Exponents of the SI base units plus factor and offset (value_base = factor * value + offset)."""

    exponents: tuple[int, ...] = (0,) * len(BASE)
    factor: float = 1.0
    offset: float = 0.0

    def __mul__(self, other: BaseUnit) -> BaseUnit:
        return BaseUnit(
            tuple(a + b for a, b in zip(self.exponents, other.exponents, strict=True)), self.factor * other.factor
        )

    def power(self, n: int) -> BaseUnit:
        return BaseUnit(tuple(a * n for a in self.exponents), self.factor**n)

    def as_dict(self) -> dict[str, int]:
        return {name: e for name, e in zip(BASE, self.exponents, strict=True) if e}


def _u(factor: float = 1.0, offset: float = 0.0, **exps: int) -> BaseUnit:
    return BaseUnit(tuple(exps.get(b, 0) for b in BASE), factor, offset)


#: Unit symbols (without prefixes).
_SYMBOLS: dict[str, BaseUnit] = {
    "kg": _u(kg=1),
    "g": _u(1e-3, kg=1),
    "m": _u(m=1),
    "s": _u(s=1),
    "A": _u(A=1),
    "K": _u(K=1),
    "mol": _u(mol=1),
    "cd": _u(cd=1),
    "rad": _u(rad=1),
    "sr": _u(),
    "deg": _u(3.141592653589793 / 180.0, rad=1),
    "N": _u(kg=1, m=1, s=-2),
    "Pa": _u(kg=1, m=-1, s=-2),
    "bar": _u(1e5, kg=1, m=-1, s=-2),
    "J": _u(kg=1, m=2, s=-2),
    "W": _u(kg=1, m=2, s=-3),
    "Hz": _u(s=-1),
    "C": _u(A=1, s=1),
    "V": _u(kg=1, m=2, s=-3, A=-1),
    "Ohm": _u(kg=1, m=2, s=-3, A=-2),
    "F": _u(kg=-1, m=-2, s=4, A=2),
    "T": _u(kg=1, s=-2, A=-1),
    "Wb": _u(kg=1, m=2, s=-2, A=-1),
    "H": _u(kg=1, m=2, s=-2, A=-2),
    "l": _u(1e-3, m=3),
    "L": _u(1e-3, m=3),
    "min": _u(60.0, s=1),
    "h": _u(3600.0, s=1),
    "d": _u(86400.0, s=1),
    "degC": _u(1.0, 273.15, K=1),
    "degF": _u(5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0, K=1),
    "rpm": _u(2 * 3.141592653589793 / 60.0, rad=1, s=-1),
}
_PREFIXES = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2,
             "da": 1e1, "d": 1e-1, "c": 1e-2, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}  # fmt: skip
_FACTOR_RE = re.compile(r"^([A-Za-z]+)(-?\d+)?$")


def _operand(text: str) -> BaseUnit | None:
    m = _FACTOR_RE.match(text)
    if not m:
        return None
    symbol, exponent = m.group(1), int(m.group(2) or 1)
    unit = _SYMBOLS.get(symbol)
    if unit is None:
        for prefix in sorted(_PREFIXES, key=len, reverse=True):
            rest = symbol[len(prefix) :]
            if symbol.startswith(prefix) and rest in _SYMBOLS and rest != "kg":
                base = _SYMBOLS[rest]
                if base.offset:
                    return None  # no prefixes on affine units (kdegC is meaningless)
                unit = BaseUnit(base.exponents, base.factor * _PREFIXES[prefix])
                break
    if unit is None:
        return None
    if unit.offset and exponent != 1:
        return None
    return unit if exponent == 1 else unit.power(exponent)


def _product(text: str) -> BaseUnit | None:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        return parse_unit(text[1:-1])
    if text == "1":
        return BaseUnit()
    result = BaseUnit()
    parts = text.split(".")
    for part in parts:
        unit = _operand(part)
        if unit is None:
            return None
        if unit.offset:
            if len(parts) > 1:
                return None
            return unit
        result = result * unit
    return result


def parse_unit(text: str | None) -> BaseUnit | None:
    """Base units of a Modelica unit string ("kg.m/s2", "J/(mol.K)", "bar", "degC"); None if not understood."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    numerator, slash, denominator = text.partition("/")
    num = _product(numerator)
    if num is None:
        return None
    if not slash:
        return num
    den = _product(denominator)
    if den is None or den.offset or num.offset:
        return None
    return num * den.power(-1)


def conversion(source: BaseUnit, target: BaseUnit) -> tuple[float, float] | None:
    """(gain, offset) with target_value = gain * source_value + offset; None when the dimensions differ."""
    if source.exponents != target.exponents:
        return None
    gain = source.factor / target.factor
    offset = (source.offset - target.offset) / target.factor
    return gain, offset
