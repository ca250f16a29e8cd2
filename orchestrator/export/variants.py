"""Model variants: a Modelica class with parameter values bound at export, e.g. the PSA unit with 30 cells per bed.

Structural parameters (array sizes such as nCells) cannot change after export, so a different value needs another
FMU. A variant is written in Modelica's own modifier syntax, `O2Twin.CoSim.PSAUnit(nCells=30)`, or given as
`parameters={"nCells": 30}` (`o2twin export O2Twin.CoSim.PSAUnit --param nCells=30`). It is exported from the
wrapper class `model <wrapper> extends O2Twin.CoSim.PSAUnit(nCells = 30); end <wrapper>;`, so the values are bound
with ordinary Modelica semantics (a `final` parameter cannot be changed: pymoca reports it). The FMU file name and
modelIdentifier carry the values (`O2Twin_CoSim_PSAUnit__nCells_30`), the manifest keys the entry by the variant
(`O2Twin.CoSim.PSAUnit(nCells=30)`) and records the values. Values are numbers or booleans only: nothing in them is
evaluated.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.errors import ModelError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_PARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIANT = re.compile(r"^\s*(?P<model>[^()\s]+)\s*\((?P<modifiers>[^()]*)\)\s*$")

#: A parameter value bound at export (Modelica Integer, Real or Boolean).
Value = int | float | bool


@dataclass(frozen=True)
class ModelVariant:
    """A Modelica class and the parameter values bound at export (sorted by name; empty for the class itself)."""

    model: str
    parameters: tuple[tuple[str, Value], ...] = ()

    @property
    def key(self) -> str:
        """The variant in Modelica modifier syntax: the manifest key and what a scenario may name."""
        if not self.parameters:
            return self.model
        return f"{self.model}({', '.join(f'{k}={modelica_literal(v)}' for k, v in self.parameters)})"

    @property
    def identifier(self) -> str:
        """FMI modelIdentifier and FMU file stem: dots become underscores, each value appends __name_value."""
        suffix = "".join(f"__{k}_{_identifier_part(v)}" for k, v in self.parameters)
        return self.model.replace(".", "_") + suffix

    def wrapper_class(self) -> tuple[str, str]:
        """(name, Modelica source) of the class that binds the values by extending the model."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:12]
        name = f"O2TwinExportVariant_{digest}"
        modifiers = ", ".join(f"{k} = {modelica_literal(v)}" for k, v in self.parameters)
        text = f'model {name} "{self.key}"\n  extends {self.model}({modifiers});\nend {name};\n'
        return name, text


def modelica_literal(value: Value) -> str:
    """A Modelica literal for a value: true/false, an integer, or a real that reads back to the same float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _identifier_part(value: Value) -> str:
    return modelica_literal(value).replace("-", "m").replace("+", "").replace(".", "p")


def parse_value(name: str, text: str) -> Value:
    """A value from its text (command line, modifier): an integer, a finite real, or true/false."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ModelError(
            f"export parameter {name} = {text!r}: give a number (e.g. {name}=30 or {name}=0.5) or true/false"
        )
    return value


def _checked(name: str, value: object) -> Value:
    if not _PARAMETER.match(name):
        raise ModelError(f"export parameter {name!r} is not a parameter name (letters, digits and _)")
    if isinstance(value, str):
        return parse_value(name, value)
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ModelError(f"export parameter {name} = {value!r}: give a number or true/false")


def parse_variant(model: str, parameters: Mapping[str, object] | None = None) -> ModelVariant:
    """The variant named by ``model`` (a class name, or `Class(p=v, ...)`) with ``parameters`` added.

    Raises ModelError for a malformed name or modifier, a value that is not a number or boolean, or a parameter
    given twice."""
    values: dict[str, Value] = {}
    match = _VARIANT.match(model)
    if match:
        model = match["model"]
        for item in filter(None, (part.strip() for part in match["modifiers"].split(","))):
            name, eq, text = item.partition("=")
            if not eq:
                raise ModelError(f"'{item}' in {match.string.strip()!r} is not NAME=VALUE")
            values[name.strip()] = _checked(name.strip(), text)
    if not _NAME.match(model):
        raise ModelError(f"'{model}' is not a Modelica class name (Package.Model, optionally with (name=value, ...))")
    for name, value in (parameters or {}).items():
        if name in values:
            raise ModelError(f"export parameter {name} is given twice for {model}")
        values[name] = _checked(name, value)
    return ModelVariant(model, tuple(sorted(values.items())))
