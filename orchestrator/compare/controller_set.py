"""Controller sets, as the comparison uses them: defined in orchestrator.scenario.controller_set (one definition,
shared with `o2twin run --controllers` and the dashboard, which sit beside or below this package)."""

from orchestrator.scenario.controller_set import (
    ControllerSet,
    apply_controller_set,
    apply_to_table,
    controller_set_dirs,
    known_controller_sets,
    load_controller_set,
    parse_controller_set,
    resolve_controller_set,
)

__all__ = [
    "ControllerSet",
    "apply_controller_set",
    "apply_to_table",
    "controller_set_dirs",
    "known_controller_sets",
    "load_controller_set",
    "parse_controller_set",
    "resolve_controller_set",
]
