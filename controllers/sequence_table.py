"""The PSA valve sequence as data: a table of steps (valve openings, duration, opening and closing ramps).

A sequence is either built from the PSASequencer's parameters (the shipped six-step Skarstrom cycle) or read from a
TOML file (data only: nothing in it is imported or executed). A file is named by the sequencer's ``pattern``
parameter: a plain name (``feed_end_equalization``) is a file shipped in ``controllers/sequences/``; a relative
``.toml`` path is looked up in the scenario file's folder and must stay inside it (no absolute paths, ``..``,
backslashes or links out of the folder), as for every file a scenario names (docs/scenarios.md).

File format (docs/controllers.md, "Sequence tables")::

    [sequence]
    name = "feed_end_equalization"
    description = "..."
    ramp_s = 0.15            # default opening ramp of every step (s, full stroke); 0: instantaneous
    close_ramp_s = 0.0       # default closing ramp (s)

    [[steps]]
    name = "A adsorption, B blowdown and purge"
    duration_s = 3.2
    open = { feed_A = 1.0, vent_B = 1.0 }    # valves not named are closed
    # ramp_s, close_ramp_s: optional per-step overrides
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from orchestrator.errors import SystemDefinitionError

#: The valve commands the sequencer drives (PSAUnit inputs), and their short names in a sequence file.
VALVES = ("cmd_feed_A", "cmd_feed_B", "cmd_vent_A", "cmd_vent_B", "cmd_equalize")
SHORT_NAMES = ("feed_A", "feed_B", "vent_A", "vent_B", "equalize")
#: Folder of the shipped sequence files.
SHIPPED_DIR = Path(__file__).resolve().parent / "sequences"
MAX_STEPS = 64
MAX_FILE_BYTES = 64 * 1024
MAX_RAMP_S = 10.0
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEQUENCE_KEYS = {"name", "description", "ramp_s", "close_ramp_s"}
_STEP_KEYS = {"name", "duration_s", "open", "ramp_s", "close_ramp_s"}


@dataclass(frozen=True)
class Step:
    """One step: valve openings 0..1 (in the order of VALVES) held for duration_s; ramps are full-stroke times."""

    name: str
    duration_s: float
    openings: tuple[float, ...]
    ramp_s: float = 0.0
    close_ramp_s: float = 0.0


@dataclass(frozen=True)
class SequenceTable:
    """A full PSA cycle as a list of steps."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""
    source: str = ""  #: the file it was read from ("" when built from parameters)

    @functools.cached_property
    def cycle_time_s(self) -> float:
        """Full-cycle time at scale 1 (s); computed once (the table is immutable; the sequencer asks every sample)."""
        return sum(step.duration_s for step in self.steps)


def skarstrom_table(
    t_blowdown: float, t_purge: float, t_equalize: float, purge_opening: float, feed_during_equalize: bool
) -> SequenceTable:
    """The sequencer's built-in six-step cycle (three steps per bed, mirrored), from its parameters."""
    feed_eq = 1.0 if feed_during_equalize else 0.0
    rows = (
        ("A pressurisation/adsorption, B blowdown", t_blowdown, (1.0, 0.0, 0.0, 1.0, 0.0)),
        ("A adsorption, B purge", t_purge, (1.0, 0.0, 0.0, 1.0, purge_opening)),
        ("equalisation A -> B", t_equalize, (0.0, feed_eq, 0.0, 0.0, 1.0)),
        ("B pressurisation/adsorption, A blowdown", t_blowdown, (0.0, 1.0, 1.0, 0.0, 0.0)),
        ("B adsorption, A purge", t_purge, (0.0, 1.0, 1.0, 0.0, purge_opening)),
        ("equalisation B -> A", t_equalize, (feed_eq, 0.0, 0.0, 0.0, 1.0)),
    )
    steps = tuple(Step(name, float(d), tuple(float(v) for v in row)) for name, d, row in rows)
    return SequenceTable("skarstrom (parameters)", steps)


def sequence_file(pattern: str, folder: Path | None, where: str) -> Path:
    """The file a ``pattern`` parameter names: a shipped name, or a relative .toml path inside ``folder``."""
    if _NAME_RE.match(pattern):
        path = SHIPPED_DIR / f"{pattern}.toml"
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem for p in SHIPPED_DIR.glob("*.toml")))
            raise SystemDefinitionError(f"{where}: pattern = '{pattern}' is no shipped sequence (shipped: {shipped})")
        return path
    rel = PurePath(pattern)
    if not pattern.endswith(".toml") or rel.is_absolute() or ".." in rel.parts or "\\" in pattern:
        raise SystemDefinitionError(
            f"{where}: pattern = '{pattern}' must be a shipped sequence name or a relative .toml path inside the "
            "scenario's folder"
        )
    base = (folder if folder is not None else Path.cwd()).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise SystemDefinitionError(f"{where}: pattern = '{pattern}' leads outside the scenario's folder {base}")
    if not path.is_file():
        raise SystemDefinitionError(f"{where}: pattern = '{pattern}': {path} does not exist")
    return path


def load_sequence(path: Path) -> SequenceTable:
    """Read and check a sequence file; one SystemDefinitionError naming the file and the key otherwise."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SystemDefinitionError(f"{where}: cannot read the sequence file: {err}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SystemDefinitionError(f"{where}: a sequence file is at most {MAX_FILE_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SystemDefinitionError(f"{where}: not a valid TOML sequence file: {err}") from None
    return parse_sequence(data, where)


def parse_sequence(data: Mapping[str, Any], where: str) -> SequenceTable:
    """The SequenceTable a parsed sequence file describes (see the module docstring for the format)."""
    _only_keys(data, {"sequence", "steps"}, where)
    head = data.get("sequence", {})
    if not isinstance(head, Mapping):
        raise SystemDefinitionError(f"{where}: [sequence] must be a table")
    _only_keys(head, _SEQUENCE_KEYS, f"{where}: [sequence]")
    name = _text(head.get("name", Path(where).stem), f"{where}: [sequence] name")
    description = _text(head.get("description", ""), f"{where}: [sequence] description")
    ramp = _ramp(head.get("ramp_s", 0.0), f"{where}: [sequence] ramp_s")
    close_ramp = _ramp(head.get("close_ramp_s", 0.0), f"{where}: [sequence] close_ramp_s")
    rows = data.get("steps")
    if not isinstance(rows, list) or not rows:
        raise SystemDefinitionError(f"{where}: give the cycle as [[steps]] tables (at least one)")
    if len(rows) > MAX_STEPS:
        raise SystemDefinitionError(f"{where}: at most {MAX_STEPS} [[steps]], got {len(rows)}")
    steps = tuple(_step(row, ramp, close_ramp, f"{where}: [[steps]] #{k + 1}") for k, row in enumerate(rows))
    return SequenceTable(name, steps, description, where)


def _step(row: Any, ramp: float, close_ramp: float, where: str) -> Step:
    if not isinstance(row, Mapping):
        raise SystemDefinitionError(f"{where}: a step must be a table")
    _only_keys(row, _STEP_KEYS, where)
    duration = row.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not (0 < duration < math.inf):
        raise SystemDefinitionError(f"{where}: duration_s must be a positive number of seconds, got {duration!r}")
    opened = row.get("open", {})
    if not isinstance(opened, Mapping):
        raise SystemDefinitionError(f"{where}: open must be a table such as {{ feed_A = 1.0, vent_B = 1.0 }}")
    unknown = sorted(set(opened) - set(SHORT_NAMES))
    if unknown:
        raise SystemDefinitionError(f"{where}: open names unknown valves {unknown} (valves: {', '.join(SHORT_NAMES)})")
    openings = []
    for short in SHORT_NAMES:
        value = opened.get(short, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (0.0 <= value <= 1.0):
            raise SystemDefinitionError(f"{where}: open.{short} must be an opening in 0..1, got {value!r}")
        openings.append(float(value))
    return Step(
        name=_text(row.get("name", ""), f"{where}: name"),
        duration_s=float(duration),
        openings=tuple(openings),
        ramp_s=_ramp(row.get("ramp_s", ramp), f"{where}: ramp_s"),
        close_ramp_s=_ramp(row.get("close_ramp_s", close_ramp), f"{where}: close_ramp_s"),
    )


def _only_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SystemDefinitionError(f"{where}: unknown key(s) {unknown} (allowed: {', '.join(sorted(allowed))})")


def _ramp(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0.0 <= value <= MAX_RAMP_S):
        raise SystemDefinitionError(f"{where} must be a ramp time in 0..{MAX_RAMP_S:g} s, got {value!r}")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 200 or any(ord(ch) < 32 for ch in value):
        raise SystemDefinitionError(f"{where} must be a one-line text of at most 200 characters, got {value!r}")
    return value
