"""Find and read scenario files: a path or a name in scenarios/ -> a checked ScenarioSpec (format in docs/scenarios.md).

Also the canonical text of a spec (saved with the results) and its hash.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from orchestrator.errors import SystemDefinitionError
from orchestrator.paths import SCENARIOS_DIR
from orchestrator.scenario.exchange import import_ssp
from orchestrator.scenario.parse import parse_scenario, safe_name
from orchestrator.scenario.spec import ScenarioSpec
from orchestrator.scenario.toml import dumps_scenario

DEFAULT_SCENARIO = "default"


def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: ./scenarios (if it exists), then the repository's scenarios/."""
    dirs = []
    local = Path.cwd() / "scenarios"
    if local.is_dir():
        dirs.append(local)
    if SCENARIOS_DIR.resolve() not in [d.resolve() for d in dirs]:
        dirs.append(SCENARIOS_DIR)
    return dirs


def resolve_scenario_path(name_or_path: str | Path | None) -> Path:
    """A scenario argument -> its .toml file: an existing path, or NAME -> scenarios/NAME.toml; None -> default."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCENARIO
    candidate = Path(name_or_path)
    if candidate.suffix.lower() in (".toml", ".ssp") or candidate.exists():
        if not candidate.is_file():
            raise SystemDefinitionError(f"scenario file '{candidate}' does not exist")
        return candidate
    for folder in scenario_dirs():
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    known = sorted({p.stem for d in scenario_dirs() if d.is_dir() for p in d.glob("*.toml")})
    listing = ", ".join(known) if known else "none"
    raise SystemDefinitionError(
        f"no scenario '{name_or_path}': not a file and not in {SCENARIOS_DIR} (scenarios: {listing}); "
        "give a path to a .toml file or one of the names `o2twin scenarios` lists"
    )


def load_scenario(name_or_path: str | Path | None) -> ScenarioSpec:
    """Read and check a scenario (.toml by path or name, or an .ssp system); raises SystemDefinitionError."""
    path = resolve_scenario_path(name_or_path)
    if path.suffix.lower() == ".ssp":
        return import_ssp(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SystemDefinitionError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise SystemDefinitionError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    return parse_scenario(raw, source=str(path), default_name=safe_name(path.stem))


def describe_scenario_file(path: Path) -> str:
    """The one-line description of a scenario file (or the reason it cannot be read)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        head = raw.get("scenario", {})
        return str(head.get("description", "")) if isinstance(head, dict) else ""
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        return f"(unreadable: {err})"


def scenario_text(spec: ScenarioSpec) -> str:
    """The canonical TOML of a spec (what is hashed and saved with the results)."""
    return dumps_scenario(spec)


def scenario_hash(spec: ScenarioSpec) -> str:
    """sha256 of the canonical TOML: the same scenario gives the same hash whatever its formatting."""
    return hashlib.sha256(scenario_text(spec).encode("utf-8")).hexdigest()
