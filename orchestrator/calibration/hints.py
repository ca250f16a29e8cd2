"""What would determine a parameter of the twin that a calibration could not pin down: the signals and experiments
that carry it (physics of docs/physics*.md), added to identifiability warnings."""

from __future__ import annotations

from collections.abc import Iterable

#: (a fragment of the "slave.parameter" name, the advice); the first match wins.
HINTS: tuple[tuple[str, str], ...] = (
    (
        "k_LDF",
        "its mass-transfer rate shows in transients: add a cold start (window from 0 s) with time_to features "
        "on the O2 reading, or a change of cycle time or product flow",
    ),
    (
        ".k1[",
        "the isotherm's capacity shows in purity and bed pressure swing across operating points: add a trace "
        "part at another product flow or cycle time, and weigh the O2 reading",
    ),
    (
        "eta_v0",
        "the compressor's delivery: map a compressor outlet or tank outlet flow, or add a cold start whose "
        "pressure rise carries it",
    ),
    (
        "V_tank",
        "the tank volume shows in the tank's pressure rise: add a cold start or a product flow step with the "
        "tank pressure mapped",
    ),
    ("eta_is", "map the compressor's electrical power (a cycle_mean feature)"),
    ("J_rotor", "map the compressor speed through start and duty steps"),
    ("d_purge", "the purge orifice shows in the product-end pressures: map the bed pressures and the tank pressure"),
    (".d_", "an orifice shows in the pressure waveform within a step: map the bed pressures, sampled fast"),
)


def hint_for(targets: Iterable[str]) -> str | None:
    """The advice for a fitted value that sets these parameters, or None."""
    for fragment, advice in HINTS:
        if any(fragment in t for t in targets):
            return advice
    return None
