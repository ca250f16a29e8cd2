"""The run set-up form: a scenario (named, or a file in the scenario or results folders), a controller set (the
scenario's own controllers or a set from controller_sets/, applied as `o2twin compare` applies it), its patient and fault settings as --set overrides, a stop time and, for hardware in the loop, the device URL.

Everything is checked here, in the dashboard, the way `o2twin run` checks it (the scenario read and checked, the
overrides applied, the stop time): a mistake is shown at once, before any worker starts or results folder appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from orchestrator.dashboard.folders import Folders, check_device_url
from orchestrator.dashboard.protocol import RunRequest
from orchestrator.errors import O2TwinError

if TYPE_CHECKING:
    from orchestrator.scenario.spec import ScenarioSpec

#: Slave names whose parameters the form calls patient settings; the rest are plant, environment and faults.
PATIENT_SLAVES = ("patient",)


@dataclass
class Setup:
    """What the form gives: the request to start (None while something is missing or wrong)."""

    request: RunRequest | None
    spec: ScenarioSpec | None = None


def scenario_choice(folders: Folders, key: str) -> str | None:
    """The scenario the user picked: a name, or a checked file path; None (an error shown) if unusable."""
    source = st.radio("Scenario from", ["scenarios folder", "file"], horizontal=True, key=f"{key}-source")
    if source == "scenarios folder":
        names = folders.scenario_names()
        if not names:
            st.error("No scenarios found in " + ", ".join(str(d) for d in folders.scenarios))
            return None
        default = names.index("default") if "default" in names else 0
        return st.selectbox("Scenario", names, index=default, key=f"{key}-name")
    text = st.text_input(
        "Scenario file (.toml or .ssp inside scenarios/ or results/)", key=f"{key}-file", placeholder="scenarios/x.toml"
    )
    if not text:
        st.info("Type the path of a scenario file inside the scenario or results folders.")
        return None
    try:
        return str(folders.scenario_file(text))
    except O2TwinError as err:
        st.error(str(err))
        return None


def load(request: RunRequest) -> ScenarioSpec | None:
    """The scenario the request runs (under its controller set, if any); None with the error shown."""
    from orchestrator.results.run import load_scenario

    try:
        source = request.scenario_to_run()
        return source if not isinstance(source, str) else load_scenario(source)
    except O2TwinError as err:
        st.error(f"Scenario cannot be used: {err}")
        return None


def controller_set_choice(key: str) -> str | None:
    """The controller set to run the scenario under (controller_sets/, as `o2twin compare`); None: its own."""
    from orchestrator.scenario.controller_set import known_controller_sets

    own = "the scenario's own"
    chosen = st.selectbox("Controller set", [own, *known_controller_sets()], key=f"{key}-controllers")
    return None if chosen == own else chosen


def controllers_caption(spec: ScenarioSpec, controller_set: str | None) -> None:
    """The controllers (Python blocks) the run will have: the scenario's own or those under the chosen set."""
    blocks = [f"{n} ({s.block})" for n, s in spec.slaves.items() if s.block]
    whose = "the scenario's own" if controller_set is None else f"under controller set {controller_set}"
    st.caption(f"Controllers ({whose}): " + (", ".join(blocks) if blocks else "none"))


def parameter_overrides(spec: ScenarioSpec, key: str) -> dict[str, Any]:
    """Editable tables of the scenario's parameter values (patient; plant, environment and faults); the changed
    ones come back as overrides."""
    import pandas as pd

    from orchestrator.scenario.overrides import parse_assignment

    values = {f"{n}.{k}": v for n, s in spec.slaves.items() for k, v in s.parameters.items()}
    overrides: dict[str, Any] = {}
    groups = {
        "Patient": {k: v for k, v in values.items() if k.split(".", 1)[0] in PATIENT_SLAVES},
        "Plant, environment, faults and controller settings": {
            k: v for k, v in values.items() if k.split(".", 1)[0] not in PATIENT_SLAVES
        },
    }
    for title, group in groups.items():
        if not group:
            continue
        table = pd.DataFrame({"parameter": list(group), "value": [_text(v) for v in group.values()]})
        edited = st.data_editor(table, key=f"{key}-{title}", disabled=["parameter"], hide_index=True, width="stretch")
        st.caption(f"{title}: edit a value to override it (as `--set`)")
        for name, text in zip(edited["parameter"], edited["value"], strict=True):
            if str(text) != _text(group[name]):
                overrides.update([parse_assignment(f"{name}={text}")])
    return overrides


def _text(value: Any) -> str:
    """A parameter value as TOML spells it (what parse_assignment reads back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def extra_overrides(key: str) -> dict[str, Any]:
    from orchestrator.scenario.overrides import parse_assignments

    text = st.text_area("More --set overrides, one per line", key=f"{key}-set", placeholder="psa.blockage=0.5")
    return parse_assignments(line for line in text.splitlines() if line.strip())


def run_setup(folders: Folders, key: str, hil: bool) -> Setup:
    """The form; returns the checked request, or None with the reason shown."""
    scenario = scenario_choice(folders, key)
    if scenario is None:
        return Setup(None)
    controller_set = controller_set_choice(key)
    spec = load(RunRequest(scenario, controllers=controller_set))
    if spec is None:
        return Setup(None)
    st.caption(spec.description or spec.name)
    controllers_caption(spec, controller_set)
    stop_time = st.number_input(
        "Stop time [s] (0: the scenario's)", min_value=0.0, value=0.0, step=10.0, key=f"{key}-stop"
    )
    try:
        overrides = parameter_overrides(spec, key)
        overrides.update(extra_overrides(key))
        plant = None
        if hil:
            url = st.text_input("Device URL", key=f"{key}-device", placeholder="serial:///dev/ttyUSB0")
            if not url:
                st.info("Give the device's URL (docs/hil.md); `o2twin device --virtual` serves a virtual one.")
                return Setup(None, spec)
            plant = check_device_url(url)
        request = RunRequest(scenario, overrides, stop_time or None, plant, controller_set)
        check_request(spec, request)
    except O2TwinError as err:
        st.error(str(err))
        return Setup(None, spec)
    return Setup(request, spec)


def check_request(spec: ScenarioSpec, request: RunRequest) -> None:
    """Raise the error `o2twin run` would give for these overrides and this stop time (the device is checked when
    the run opens it)."""
    import dataclasses

    from orchestrator.results.run import prepare_spec

    prepare_spec(dataclasses.replace(spec, plant=None), stop_time=request.stop_time, overrides=request.overrides)
