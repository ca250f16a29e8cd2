"""Find and read scenario files: a path or a name in scenarios/ -> a checked ScenarioSpec (format in docs/scenarios.md).

A file may start from another with ``extends = "default"`` (its tables merged over the base's, see merge_tables).
Also the canonical text of a spec (saved with the results) and its hash.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    raw = read_scenario_table(path)
    return parse_scenario(raw, source=str(path), default_name=safe_name(path.stem))


#: How deep `extends` may chain (a scenario extending one that extends another ...).
MAX_EXTENDS_DEPTH = 8


def read_scenario_table(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw table of a scenario file with its `extends` resolved: the base file's table, merged with this one's."""
    raw = _read_toml(path)
    base_ref = raw.pop("extends", None)
    if base_ref is None:
        return raw
    if not isinstance(base_ref, str) or not base_ref:
        raise SystemDefinitionError(f"{path}: 'extends' must be a scenario name or a .toml file, got {base_ref!r}")
    chain = (*_chain, path.resolve())
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise SystemDefinitionError(f"{path}: 'extends' chains more than {MAX_EXTENDS_DEPTH} files deep")
    base_path = resolve_base(base_ref, path)
    if base_path.resolve() in chain:
        raise SystemDefinitionError(f"{path}: 'extends' = '{base_ref}' makes a cycle ({base_path} extends {path})")
    base = read_scenario_table(base_path, chain)
    head = base.get("scenario")
    if isinstance(head, dict):
        head.pop("name", None)  # a scenario is named by its own file (or its own [scenario] name)
    return merge_tables(base, raw)


def resolve_base(reference: str, child: Path) -> Path:
    """The file an `extends` names: NAME -> NAME.toml beside the child, else in the scenario folders; or a relative
    path to a .toml inside the child's folder (never an absolute path or one leaving that folder)."""
    folder = child.resolve().parent
    ref = Path(reference)
    if ref.suffix.lower() == ".toml" or "/" in reference or "\\" in reference:
        if ref.is_absolute() or ".." in ref.parts or "\\" in reference or ref.suffix.lower() != ".toml":
            raise SystemDefinitionError(
                f"{child}: 'extends' = '{reference}' must be a scenario name or a .toml path inside {folder}"
            )
        candidate = folder / ref
        if not candidate.is_file():
            raise SystemDefinitionError(f"{child}: 'extends' = '{reference}': {candidate} does not exist")
        if not candidate.resolve().is_relative_to(folder):
            raise SystemDefinitionError(
                f"{child}: 'extends' = '{reference}' leads out of {folder} (a link); copy the file there"
            )
        return candidate
    for directory in (folder, *scenario_dirs()):
        candidate = directory / f"{reference}.toml"
        if candidate.is_file() and candidate.resolve() != child.resolve():
            return candidate
    raise SystemDefinitionError(
        f"{child}: 'extends' = '{reference}': no {reference}.toml beside it or in "
        f"{', '.join(str(d) for d in scenario_dirs())}"
    )


#: Keys of which a table holds only one: a child that sets one drops the base's other (a block becomes an FMU).
_EXCLUSIVE = {"fmu": "block", "block": "fmu"}


def merge_tables(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: tables merge key by key, arrays of tables ([[events]], [[connections]], [[plots]])
    are appended to the base's, every other value replaces the base's."""
    merged = dict(base)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            merged[key] = merge_tables(old, value)
        elif isinstance(old, list) and _is_table_array(old) and _is_table_array(value):
            merged[key] = [*old, *value]
        else:
            merged[key] = value
        partner = _EXCLUSIVE.get(key)
        if partner is not None and partner not in child:
            merged.pop(partner, None)
    return merged


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SystemDefinitionError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise SystemDefinitionError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    except OSError as err:
        raise SystemDefinitionError(f"{path}: cannot read it ({err.strerror or err})") from None


def describe_scenario_file(path: Path) -> str:
    """The one-line description of a scenario file (or the reason it cannot be read)."""
    try:
        head = read_scenario_table(path).get("scenario", {})
        return str(head.get("description", "")) if isinstance(head, dict) else ""
    except SystemDefinitionError as err:
        return f"(unreadable: {err})"


def scenario_text(spec: ScenarioSpec) -> str:
    """The canonical TOML of a spec (what is hashed and saved with the results)."""
    return dumps_scenario(spec)


def scenario_hash(spec: ScenarioSpec) -> str:
    """sha256 of the canonical TOML: the same scenario gives the same hash whatever its formatting."""
    return hashlib.sha256(scenario_text(spec).encode("utf-8")).hexdigest()
