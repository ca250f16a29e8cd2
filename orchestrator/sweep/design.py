"""A study's design: which parameters vary and how (grid, random or Latin-hypercube samples, seeds) -> its cases.

Parameters are addressed as `--set` addresses them ("slave.parameter"). The cases are the product of the grid axes
(in the order given), the samples (one point each) and the seeds, seeds varying fastest. Fixed overrides (``set``)
apply to every case.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.spec import ParameterValue, ScenarioSpec
from orchestrator.sweep.case import Case

SAMPLING_METHODS = ("lhs", "random")
#: More cases than this in one study is almost surely a typo in a grid (say 0:1:1000 for 0:1:10).
MAX_CASES = 1_000_000


class SweepDefinitionError(SystemDefinitionError):
    """A study that cannot be run as written (a bad grid, range or sweep file); the message names the option or key."""


@dataclass
class Sampling:
    """``n`` points in the box ``ranges`` ("slave.parameter" -> (low, high)), by Latin hypercube or at random."""

    n: int
    ranges: dict[str, tuple[float, float]]
    method: Literal["lhs", "random"] = "lhs"
    seed: int = 0  #: of the sampler (not of the scenario)

    def points(self) -> list[dict[str, float]]:
        """The sample points, reproducible from ``seed`` (scipy.stats.qmc for the Latin hypercube)."""
        names = list(self.ranges)
        if not names or self.n == 0:
            return []
        low = np.array([self.ranges[k][0] for k in names], dtype=float)
        high = np.array([self.ranges[k][1] for k in names], dtype=float)
        rng = np.random.default_rng(self.seed)
        if self.method == "lhs":
            unit = _latin_hypercube(len(names), rng).random(self.n)
        else:
            unit = rng.random((self.n, len(names)))
        values = low + unit * (high - low)
        return [{k: float(v) for k, v in zip(names, row, strict=True)} for row in values]


def _latin_hypercube(d: int, rng: np.random.Generator) -> Any:
    from scipy.stats import qmc

    try:
        return qmc.LatinHypercube(d=d, rng=rng)  # scipy >= 1.15
    except TypeError:
        return qmc.LatinHypercube(d=d, seed=rng)


@dataclass
class SweepDesign:
    """Everything `o2twin sweep` varies; ``cases()`` lists the runs."""

    scenario: ScenarioSpec | str | Path | None = None
    name: str = ""
    grid: dict[str, list[ParameterValue]] = field(default_factory=dict)
    sampling: Sampling | None = None
    seeds: list[int] | None = None  #: None: every case keeps the scenario's own seed
    overrides: dict[str, ParameterValue] = field(default_factory=dict)  #: fixed, for every case
    stop_time: float | None = None

    def varied(self) -> list[str]:
        """The parameters that vary between cases, in table order (the seed last)."""
        names = [*self.grid, *(self.sampling.ranges if self.sampling else ())]
        return [*names, "seed"] if self.seeds is not None else names

    def cases(self) -> list[Case]:
        check_design(self)
        axes = list(self.grid.items())
        grid_points = [dict(zip([k for k, _ in axes], values, strict=True)) for values in _product(axes)]
        samples: list[dict[str, float]] = self.sampling.points() if self.sampling else [{}]
        seeds: Sequence[int | None] = self.seeds if self.seeds is not None else [None]
        return [
            Case(self.scenario, {**self.overrides, **point, **sample}, seed, self.stop_time)
            for point in grid_points
            for sample in samples
            for seed in seeds
        ]


def _product(axes: list[tuple[str, list[ParameterValue]]]) -> list[tuple[ParameterValue, ...]]:
    return list(itertools.product(*(values for _, values in axes)))


def check_design(design: SweepDesign, where: str = "") -> None:
    """Names addressed once each, non-empty axes, sane sizes; SweepDefinitionError naming what to fix."""
    prefix = f"{where}: " if where else ""
    seen: dict[str, str] = {}
    groups: dict[str, list[str]] = {
        "grid": list(design.grid),
        "samples": list(design.sampling.ranges) if design.sampling else [],
        "set": list(design.overrides),
    }
    for group, names in groups.items():
        for name in names:
            check_address(name, f"{prefix}{group}")
            if name in seen:
                raise SweepDefinitionError(f"{prefix}{name} is given in both {seen[name]} and {group}; keep one")
            seen[name] = group
    for name, values in design.grid.items():
        if not values:
            raise SweepDefinitionError(f"{prefix}grid {name}: no values")
    if design.sampling is not None:
        if design.sampling.n < 1:
            raise SweepDefinitionError(f"{prefix}samples: the number of samples must be at least 1")
        if not design.sampling.ranges:
            raise SweepDefinitionError(f"{prefix}samples: name the parameters to sample with their ranges")
    if design.seeds is not None and not design.seeds:
        raise SweepDefinitionError(f"{prefix}seeds: no seeds")
    size = math.prod(len(v) for v in design.grid.values())
    size *= design.sampling.n if design.sampling else 1
    size *= len(design.seeds) if design.seeds is not None else 1
    if size > MAX_CASES:
        raise SweepDefinitionError(f"{prefix}the study has {size} cases (more than {MAX_CASES}); check the grid")


def check_address(name: str, where: str) -> None:
    """A parameter address must be SLAVE.PARAMETER (as `--set` takes it)."""
    slave, dot, parameter = name.partition(".")
    if not dot or not slave or not parameter or not name.isprintable() or any(c.isspace() for c in name):
        raise SweepDefinitionError(
            f"{where}: '{name}' is not a parameter address; write SLAVE.PARAMETER, e.g. psa.blockage"
        )


# ---------------------------------------------------------------------------------------------------------------
# the command line's spellings


def _split_assignment(text: str, option: str, example: str) -> tuple[str, str]:
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not raw:
        raise SweepDefinitionError(f"{option} '{text}': expected SLAVE.PARAMETER=VALUES, e.g. {option} {example}")
    check_address(name, f"{option} '{text}'")
    return name, raw


def parse_value(raw: str, where: str) -> ParameterValue:
    """One value as `--set` reads it: TOML (1.5, true, "text"), else the plain text."""
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if not isinstance(value, bool | int | float | str):
        raise SweepDefinitionError(f"{where}: '{raw}' is not a number, true/false or a string")
    return value


def linspace(start: float, stop: float, num: int, where: str) -> list[float]:
    """``num`` evenly spaced values from start to stop, both included (numpy.linspace)."""
    if num < 1 or not (math.isfinite(start) and math.isfinite(stop)):
        raise SweepDefinitionError(f"{where}: START:STOP:NUM needs finite bounds and NUM >= 1")
    return [float(v) for v in np.linspace(start, stop, num)]


def parse_grid(text: str) -> tuple[str, list[ParameterValue]]:
    """'psa.blockage=0:0.5:6' (6 values from 0 to 0.5) or 'patient.copd=0,0.5,1' -> (name, values)."""
    name, raw = _split_assignment(text, "--grid", "psa.blockage=0:0.5:6")
    where = f"--grid '{text}'"
    if raw.count(":") == 2 and "," not in raw and not raw.startswith(("[", '"')):
        start, stop, num = raw.split(":")
        try:
            return name, list(linspace(float(start), float(stop), int(num), where))
        except ValueError:
            raise SweepDefinitionError(f"{where}: START:STOP:NUM must be two numbers and a whole number") from None
    if raw.startswith("["):
        try:
            values = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError as err:
            raise SweepDefinitionError(f"{where}: not a TOML list ({err})") from None
        return name, [_scalar(v, where) for v in values]
    return name, [parse_value(part.strip(), where) for part in raw.split(",") if part.strip()]


def _scalar(value: object, where: str) -> ParameterValue:
    if not isinstance(value, bool | int | float | str):
        raise SweepDefinitionError(f"{where}: {value!r} is not a number, true/false or a string")
    return value


def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    """'psa.blockage=0:0.5' -> ('psa.blockage', (0.0, 0.5)): the range a parameter is sampled in."""
    name, raw = _split_assignment(text, "--sample", "psa.blockage=0:0.5")
    return name, range_of(raw.split(":"), f"--sample '{text}'")


def range_of(bounds: Sequence[object], where: str) -> tuple[float, float]:
    """(low, high) from two numbers, low < high; SweepDefinitionError otherwise."""
    try:
        low, high = (float(b) for b in bounds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SweepDefinitionError(f"{where}: give the range as two numbers LOW:HIGH") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise SweepDefinitionError(f"{where}: the range {low:g}:{high:g} must be finite with LOW < HIGH")
    return low, high


MAX_SEED_COUNT = 10_000
"""The largest count --seeds takes: a larger number is almost always one seed written without its comma."""


def parse_seeds(text: str) -> list[int]:
    """'20' -> seeds 0..19; '3,7,11' -> those seeds (the scenario seed of each case); '1000000,' -> that one seed."""
    where = f"--seeds '{text}'"
    try:
        if "," in text:
            return check_seeds([int(p) for p in text.split(",") if p.strip()], where)
        count = int(text)
    except ValueError:
        raise SweepDefinitionError(f"{where}: give a count (20) or a list of seeds (3,7,11)") from None
    if count > MAX_SEED_COUNT:
        raise SweepDefinitionError(
            f"{where}: a count of {count} seeds (0..{count - 1}) is more than {MAX_SEED_COUNT}; "
            f"to run the one seed {count}, write it with a comma: --seeds {count},"
        )
    return check_seeds(list(range(count)), where)


def check_seeds(seeds: Sequence[object], where: str) -> list[int]:
    if not seeds:
        raise SweepDefinitionError(f"{where}: no seeds")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise SweepDefinitionError(f"{where}: seeds are whole numbers >= 0, got {s!r}")
        out.append(s)
    if len(set(out)) != len(out):
        raise SweepDefinitionError(f"{where}: a seed is listed twice")
    return out


def assignments_to_grid(texts: Sequence[str]) -> dict[str, list[ParameterValue]]:
    """Several --grid options -> one grid (each parameter once)."""
    grid: dict[str, list[ParameterValue]] = {}
    for text in texts:
        name, values = parse_grid(text)
        if name in grid:
            raise SweepDefinitionError(f"--grid {name} is given twice; list all its values in one --grid")
        grid[name] = values
    return grid


def ranges_from(texts: Sequence[str]) -> dict[str, tuple[float, float]]:
    ranges: dict[str, tuple[float, float]] = {}
    for text in texts:
        name, bounds = parse_range(text)
        if name in ranges:
            raise SweepDefinitionError(f"--sample {name} is given twice")
        ranges[name] = bounds
    return ranges


def grid_from_table(table: Mapping[str, object], where: str) -> dict[str, list[ParameterValue]]:
    """A sweep file's [grid]: "slave.param" = [values] or {start, stop, num}."""
    grid: dict[str, list[ParameterValue]] = {}
    for name, spec in table.items():
        key = f'{where}."{name}"'
        check_address(name, key)
        if isinstance(spec, list):
            grid[name] = [_scalar(v, key) for v in spec]
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"start", "stop", "num"}
            if unknown or set(spec) != {"start", "stop", "num"}:
                raise SweepDefinitionError(f"{key}: give a list of values or {{start = ..., stop = ..., num = ...}}")
            start, stop, num = spec["start"], spec["stop"], spec["num"]
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, stop)):
                raise SweepDefinitionError(f"{key}: start and stop must be numbers")
            if not isinstance(num, int) or isinstance(num, bool):
                raise SweepDefinitionError(f"{key}: num must be a whole number")
            grid[name] = list(linspace(float(start), float(stop), num, key))
        else:
            raise SweepDefinitionError(f"{key}: give a list of values or {{start = ..., stop = ..., num = ...}}")
    return grid
