"""An FMU's model variables as the master sees them: scalar ``Variable``s, each with the value reference, FMI type
and array element it is read and written through.

FMI 2.0 variables are scalars. FMI 3.0 adds sized types (Float32/Float64, Int8 ... UInt64), Binary, Clock and arrays:
an array becomes one scalar variable per element, named as Modelica and FMI 2.0 flatten arrays (``y[2]``,
``A[1,3]``; 1-based, row-major as FMI 3.0 serialises them), so connections, parameters, SSP bindings and recorders
work on elements. The master's types are Real (Float32/Float64), Integer (the integer types and enumerations),
Boolean, String and Binary. What the master cannot use is refused here, naming the variable: clocks (the master
does not activate clocks), and changing a structural parameter that sizes arrays is refused when the slave is set
up (``check_structural``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from orchestrator.cosim.slaves.base import Causality, Variable, VarType
from orchestrator.errors import SystemDefinitionError

#: FMI type -> the master's type.
MASTER_TYPE: dict[str, str] = {
    "Real": "Real",
    "Float32": "Real",
    "Float64": "Real",
    "Integer": "Integer",
    "Enumeration": "Integer",
    **{t: "Integer" for t in ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64")},
    "Boolean": "Boolean",
    "String": "String",
    "Binary": "Binary",
}

#: Ranges of the integer types whose values are set (FMI 2.0's Integer is 32 bits).
INTEGER_RANGE: dict[str, tuple[int, int]] = {
    "Integer": (-(2**31), 2**31 - 1),
    "Int8": (-(2**7), 2**7 - 1),
    "UInt8": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}


@dataclass(frozen=True)
class ValueRef:
    """Where a master variable lives in the FMU: value reference, FMI type of the get/set calls, element."""

    vr: int
    #: the type the FMI calls use: FMI 2.0 Real/Integer/Boolean/String; FMI 3.0 Float64, Int32, ..., Binary
    kind: str
    #: the element in the variable's row-major values (0 for a scalar)
    index: int = 0
    #: the number of values of the whole variable (1 for a scalar)
    size: int = 1
    #: the FMI variable's name (the array's name for an element)
    fmi_name: str = ""


@dataclass
class FmuVariables:
    """The variables of one FMU for the master, with their value references."""

    variables: dict[str, Variable]
    refs: dict[str, ValueRef]
    #: for an array (by value reference): its element names in row-major order
    arrays: dict[int, list[str]] = field(default_factory=dict)
    #: a structural parameter sizing arrays -> the arrays it sizes
    sizes: dict[str, list[str]] = field(default_factory=dict)
    #: output -> the inputs it depends on directly (no entry: all inputs)
    feedthrough: dict[str, frozenset[str]] = field(default_factory=dict)


def fmu_variables(md: Any, what: str) -> FmuVariables:
    """The master's view of the variables of model description md (fmpy's); ``what`` names the FMU in errors."""
    fmi3 = md.fmiVersion.startswith("3")
    variables: dict[str, Variable] = {}
    refs: dict[str, ValueRef] = {}
    arrays: dict[int, list[str]] = {}
    elements: dict[str, list[str]] = {}  # FMI variable name -> its master names
    for v in md.modelVariables:
        if v.type == "Clock":
            raise SystemDefinitionError(
                f"{what} declares the clock '{v.name}' (FMI 3.0 clocks): the master does not activate clocks, "
                "so the FMU's clocked partitions would never run; use an FMU without clocks"
            )
        kind = _call_type(v.type, fmi3)
        shape = tuple(int(n) for n in (v.shape or ())) if fmi3 else ()
        names = element_names(v.name, shape)
        starts = _element_starts(v, len(names), what)
        for index, (name, start) in enumerate(zip(names, starts, strict=True)):
            variables[name] = _to_variable(v, name, start)
            refs[name] = ValueRef(v.valueReference, kind, index, len(names), v.name)
        if shape:
            arrays[v.valueReference] = names
        elements[v.name] = names
    sizes: dict[str, list[str]] = {}
    for v in md.modelVariables:
        for dim in getattr(v, "dimensions", None) or ():
            if dim.variable is not None:
                sizes.setdefault(dim.variable.name, []).append(v.name)
    return FmuVariables(variables, refs, arrays, sizes, _direct_feedthrough(md, elements))


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """The master's names of a variable's values: ``name`` for a scalar, ``name[i,j]`` (1-based) for an array."""
    if not shape:
        return [name]
    return [f"{name}[{','.join(str(i + 1) for i in index)}]" for index in itertools.product(*(range(n) for n in shape))]


def _call_type(fmi_type: str, fmi3: bool) -> str:
    if fmi_type == "Enumeration":
        return "Int64" if fmi3 else "Integer"
    if fmi_type not in MASTER_TYPE:
        raise SystemDefinitionError(f"unknown FMI variable type {fmi_type!r}")
    return fmi_type


def _element_starts(v: Any, count: int, what: str) -> list[Any]:
    """The start value of each element (None where there is none)."""
    start = v.start
    if start is None or count == 1:
        return [start] * count
    parts = str(start).split()
    if len(parts) == 1:
        return parts * count
    if len(parts) != count:
        raise SystemDefinitionError(
            f"{what}: variable '{v.name}' has {len(parts)} start values for its {count} elements"
        )
    return parts


def _to_variable(v: Any, name: str, start: Any) -> Variable:
    unit = v.unit or (v.declaredType.unit if v.declaredType is not None else None)
    kind = MASTER_TYPE.get(v.type, "Real")
    start = _typed_start(start, kind)
    causality = v.causality or "local"
    if causality == "structuralParameter":
        causality = "parameter"
    return Variable(
        name=name,
        causality=cast(Causality, causality),
        type=cast(VarType, kind),
        unit=unit,
        start=start,
        description=v.description or "",
        min=_float_or_none(v.min),
        max=_float_or_none(v.max),
        variability=v.variability or ("continuous" if kind == "Real" else "discrete"),
    )


def _typed_start(start: Any, kind: str) -> Any:
    if start is None:
        return None
    try:
        if kind == "Real":
            return float(start)
        if kind == "Integer":
            return int(start)
        if kind == "Boolean":
            return start in ("true", "1", True)
        if kind == "Binary":
            return bytes.fromhex(str(start))
    except ValueError:
        pass
    return start


def _direct_feedthrough(md: Any, elements: Mapping[str, list[str]]) -> dict[str, frozenset[str]]:
    """Output -> inputs it depends on directly, from ModelStructure/Outputs (no entry: depends on all inputs).

    Array outputs and inputs depend element-wise as whole arrays (FMI 3.0 dependencies name variables)."""
    inputs = {v.name for v in md.modelVariables if v.causality == "input"}
    result: dict[str, frozenset[str]] = {}
    for unknown in md.outputs:
        if unknown.dependencies is None:
            continue  # no dependencies attribute = depends on everything
        depends = frozenset(e for d in unknown.dependencies if d.name in inputs for e in elements.get(d.name, ()))
        for name in elements.get(unknown.variable.name, ()):
            result[name] = depends
    return result


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def coerce(ref: ValueRef, value: Any, qualified: str) -> Any:
    """value as the FMI type of ref wants it; SystemDefinitionError naming the variable when it does not fit.

    Integers travel through the master as floats, which are exact to 2**53: a value beyond the type's range by no
    more than that rounding (INT64_MAX read from a CSV file is 2**63 as a float) is taken as the range's end.
    """
    kind = ref.kind
    if kind in ("Real", "Float64", "Float32"):
        return float(value)
    if kind in INTEGER_RANGE:
        return _integer(value, kind, qualified)
    if kind == "Boolean":
        return bool(value)
    if kind == "String":
        return str(value)
    if kind == "Binary":
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        try:
            return bytes.fromhex(str(value))
        except ValueError:
            raise SystemDefinitionError(
                f"{qualified} is Binary; give bytes or hexadecimal text such as '666f6f', got {value!r}"
            ) from None
    raise SystemDefinitionError(f"{qualified}: unknown FMI type {kind}")


def _integer(value: Any, kind: str, qualified: str) -> int:
    low, high = INTEGER_RANGE[kind]
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        x = float(value)
        if not math.isfinite(x):
            raise SystemDefinitionError(f"{qualified} is {kind}; {value!r} is not a finite number")
        number = round(x)
        if low <= number <= high:
            return number
        slack = max(1, 2 ** (math.frexp(x)[1] - 53))  # one unit in the last place of x
        if number > high and number - high <= slack:
            return high
        if number < low and low - number <= slack:
            return low
    if not low <= number <= high:
        raise SystemDefinitionError(f"{qualified} is {kind} ({low} to {high}); {value!r} is out of range")
    return number
