"""List the scenarios in scenarios/ with their one-line descriptions (names for `o2twin run NAME`)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "scenarios"
HELP = "list the named scenarios (scenarios/*.toml) with their descriptions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", action="store_true", help="show each scenario's file path too")


def run(args: argparse.Namespace) -> int:
    from orchestrator.scenario.load import describe_scenario_file, scenario_dirs

    seen: dict[str, Path] = {}
    for folder in scenario_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    if not seen:
        print("no scenarios found (looked in: " + ", ".join(str(d) for d in scenario_dirs()) + ")")
        return 0
    width = max(len(n) for n in seen)
    for name, path in seen.items():
        line = f"{name:<{width}}  {describe_scenario_file(path)}"
        print(f"{line}  [{path}]" if args.paths else line)
    return 0
