"""``--set slave.parameter=value`` overrides: change a scenario's parameter values without editing its file.

The same addressing serves `o2twin run --set`, the Python API's ``overrides=`` and sweeps. A value is a number, a
boolean or a string (TOML's spelling: 1.5, true, "text"); the slave must exist, the parameter is checked against
the slave's variables when the system is built, like any value in the file.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import ParameterValue, ScenarioSpec


def parse_assignment(text: str) -> tuple[str, ParameterValue]:
    """'psa.blockage=0.3' -> ('psa.blockage', 0.3); the value is read as TOML, else kept as a plain string."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not raw:
        raise SystemDefinitionError(f"--set '{text}': expected SLAVE.PARAMETER=VALUE, e.g. --set psa.blockage=0.3")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if not isinstance(value, bool | int | float | str):
        raise SystemDefinitionError(f"--set '{text}': the value must be a number, true/false or a string")
    return name, value


def parse_assignments(texts: Iterable[str]) -> dict[str, ParameterValue]:
    """Several --set options -> one mapping (a later one wins)."""
    return dict(parse_assignment(t) for t in texts)


def apply_overrides(spec: ScenarioSpec, overrides: Mapping[str, Any]) -> ScenarioSpec:
    """A copy of spec with each "slave.parameter" = value set in that slave's [slaves.NAME.parameters]."""
    slaves = dict(spec.slaves)
    for qualified, value in overrides.items():
        slave_name, dot, parameter = str(qualified).partition(".")
        if not dot or not parameter:
            raise SystemDefinitionError(f"--set {qualified}: name a slave's parameter as SLAVE.PARAMETER")
        if not str(qualified).isprintable() or (isinstance(value, str) and not value.isprintable()):
            shown = str(qualified).encode("unicode_escape").decode("ascii")
            raise SystemDefinitionError(f"--set {shown}: names and values must be printable (no NUL or newline)")
        if slave_name not in slaves:
            known = ", ".join(sorted(slaves)) or "none"
            raise SystemDefinitionError(
                f"--set {qualified}: the scenario has no slave '{slave_name}' (slaves: {known})"
            )
        if not isinstance(value, bool | int | float | str):
            raise SystemDefinitionError(f"--set {qualified}: the value must be a number, a boolean or a string")
        slave = slaves[slave_name]
        slaves[slave_name] = dataclasses.replace(slave, parameters={**slave.parameters, parameter: value})
    return dataclasses.replace(spec, slaves=slaves)
