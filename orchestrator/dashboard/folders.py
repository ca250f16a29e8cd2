"""The only folders the dashboard reads files from: the results folder and the scenario folders.

Whatever the browser sends (a scenario file, a run to open, a file to download) is a name that must resolve,
symbolic links followed, to a path inside one of these folders; anything else is refused with PathNotAllowed.
Device URLs for hardware in the loop must name a serial port (a terminal device such as /dev/ttyUSB0 or a
pseudo-terminal), not a file nor another device.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.errors import O2TwinError
from orchestrator.hil.link.ports import DEVICE_SCHEMES, SERIAL_DEVICE_PREFIXES
from orchestrator.results.run import RESULTS_ROOT
from orchestrator.scenario.load import scenario_dirs

SCENARIO_SUFFIXES = (".toml", ".ssp")


class PathNotAllowed(O2TwinError):
    """A path from the browser that leaves the results and scenario folders, or a device URL that is no device."""


@dataclass(frozen=True)
class Folders:
    """The results folder (where runs write, relative to the working directory as for `o2twin run`) and the
    folders scenario names are looked up in (./scenarios, then the repository's scenarios/)."""

    results: Path
    scenarios: tuple[Path, ...]

    @classmethod
    def current(cls) -> Folders:
        return cls(
            results=(Path.cwd() / RESULTS_ROOT).resolve(),
            scenarios=tuple(d.resolve() for d in scenario_dirs()),
        )

    def scenario_names(self) -> list[str]:
        """Names of the scenarios in the scenario folders (the first folder wins for a name found twice)."""
        seen: dict[str, Path] = {}
        for folder in self.scenarios:
            if folder.is_dir():
                for path in sorted(folder.glob("*.toml")):
                    seen.setdefault(path.stem, path)
        return sorted(seen)

    def scenario_file(self, text: str) -> Path:
        """A scenario file the user typed: a .toml or .ssp inside the scenario or results folders, that exists."""
        path = inside(text, (*self.scenarios, self.results), what="scenario file")
        if path.suffix.lower() not in SCENARIO_SUFFIXES:
            raise PathNotAllowed(f"scenario file '{text}': must end in .toml or .ssp")
        if not path.is_file():
            raise PathNotAllowed(f"scenario file '{text}' does not exist (looked at {path})")
        return path

    def result_path(self, text: str | os.PathLike) -> Path:
        """A run folder or a file in one, as named by the browser: must lie inside the results folder."""
        return inside(text, (self.results,), what="results path", base=self.results)


def inside(text: str | os.PathLike, roots: tuple[Path, ...], *, what: str, base: Path | None = None) -> Path:
    """``text`` as a resolved path (relative ones from ``base``, default the working directory) that lies inside one
    of ``roots`` once symbolic links are followed; PathNotAllowed otherwise."""
    raw = os.fspath(text)
    if not raw or "\0" in raw or not raw.isprintable():
        raise PathNotAllowed(f"{what} {raw!r}: not a usable path")
    path = Path(raw)  # no ~ expansion: a name from the browser is taken literally
    if not path.is_absolute():
        path = (base if base is not None else Path.cwd()) / path
    try:
        resolved = path.resolve()
    except (RuntimeError, OSError) as err:  # a loop of symbolic links
        raise PathNotAllowed(f"{what} '{raw}': cannot be resolved ({err})") from None
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise PathNotAllowed(f"{what} '{raw}' is outside the folders the dashboard may read ({allowed})")


def check_device_url(url: str) -> str:
    """A device URL for hardware in the loop (docs/hil.md): a pyserial URL whose serial path is a character device.

    A plain path counts as serial://PATH. Raises PathNotAllowed for anything else (a regular file, a folder).
    """
    url = url.strip()
    if not url or not url.isprintable():
        raise PathNotAllowed("device URL: empty or unprintable; e.g. serial:///dev/ttyUSB0")
    parts = urlsplit(url)
    scheme = parts.scheme or "serial"
    if scheme not in DEVICE_SCHEMES:
        raise PathNotAllowed(f"device URL '{url}': scheme '{scheme}' is not one of {', '.join(DEVICE_SCHEMES)}")
    if scheme != "serial":
        return url
    device = parts.path if parts.scheme else url
    try:
        mode = os.stat(device).st_mode
    except OSError as err:
        raise PathNotAllowed(f"device URL '{url}': {device} cannot be opened ({err.strerror})") from None
    real = os.path.realpath(device)
    if not stat.S_ISCHR(mode) or not real.startswith(SERIAL_DEVICE_PREFIXES):
        raise PathNotAllowed(
            f"device URL '{url}': {device} is not a serial device (a terminal device: "
            f"{', '.join(p + '*' for p in SERIAL_DEVICE_PREFIXES)}, or a link to one)"
        )
    return url
