"""Build the co-simulation a ScenarioSpec describes: slaves, connections, parameters, events, recorded signals and
the master's options; every error names the scenario file.

FMU slaves are a Modelica class (exported on demand) or a .fmu path; Python blocks come from the block registry
(orchestrator.scenario.registry), never from an import of a name the scenario gives.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cosim.master.events import EVENT_CAUSALITIES
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.slaves.base import Slave, Variable
from orchestrator.cosim.slaves.python_block import PythonBlock
from orchestrator.cosim.system import article, did_you_mean, split_name
from orchestrator.errors import O2TwinError, SystemDefinitionError
from orchestrator.paths import MODELICA_CLASS_RE, PROJECT_ROOT
from orchestrator.scenario.inputs import (
    Table,
    TimeTableSlave,
    describe_table,
    interpolates_linearly,
    make_table,
    read_csv_table,
    table_file,
)
from orchestrator.scenario.registry import BlockRegistry, check_safety
from orchestrator.scenario.spec import EventSpec, InputSpec, ScenarioSpec, SlaveSpec

if TYPE_CHECKING:
    from orchestrator.cosim.master.events import ScheduledEvent
    from orchestrator.cosim.master.simulation import Simulation
    from orchestrator.cosim.system import System

log = logging.getLogger(__name__)


# hooks


def apply_hooks(spec: ScenarioSpec, registry: BlockRegistry | None = None) -> ScenarioSpec:
    """The checks a scenario's blocks run on it before anything is built: the [safety] watchdog's topology check.

    It runs on the system as written (FMU plant); hardware in the loop (orchestrator.results.run) replaces the
    plant slaves afterwards and keeps every connection to and from the plant, so the watchdog guards the device too.
    """
    check_safety(spec, registry if registry is not None else BlockRegistry())
    return spec


# ---------------------------------------------------------------------------------------------------------------
# building


def _where(spec: ScenarioSpec, table: str) -> str:
    return f"{spec.source or '<scenario>'}: {table}"


def resolve_fmu(slave: SlaveSpec, spec: ScenarioSpec) -> Path:
    """The .fmu file of an FMU slave: a path (next to the scenario, else the working dir) or an exported class."""
    table = f"[slaves.{slave.name}]"
    fmu = str(slave.fmu)
    if slave.fmu_is_path:
        given = Path(fmu)
        candidates = [given] if given.is_absolute() else []
        if not given.is_absolute():
            if spec.source:
                candidates.append(Path(spec.source).resolve().parent / given)
            candidates.append(Path.cwd() / given)
            candidates.append(PROJECT_ROOT / given)
        for c in candidates:
            if c.is_file():
                return c
        tried = ", ".join(str(c) for c in candidates)
        raise SystemDefinitionError(f"{_where(spec, table)}: FMU file '{slave.fmu}' not found (looked at {tried})")
    try:
        from orchestrator.export import export_model
    except ImportError:
        raise SystemDefinitionError(
            f"{_where(spec, table)}: 'fmu' = '{slave.fmu}' is a Modelica class, but the exporter "
            "(orchestrator.export.export_model) is not available; give a path to a .fmu instead"
        ) from None
    try:
        result = export_model(fmu)
    except O2TwinError as err:
        raise type(err)(f"{_where(spec, table)}: exporting '{slave.fmu}' failed: {err}") from None
    path = Path(getattr(result, "path", result))
    if not path.is_file():
        raise SystemDefinitionError(f"{_where(spec, table)}: the exporter returned no FMU for '{slave.fmu}'")
    return path


def build_slave(
    slave: SlaveSpec, spec: ScenarioSpec, tolerance: float | None = None, registry: BlockRegistry | None = None
) -> Slave:
    """Construct (not set up) the slave a [slaves.NAME] table describes."""
    table = f"[slaves.{slave.name}]"
    try:
        if slave.kind == "fmu":
            return _fmu_slave(slave, spec, tolerance)
        registry = registry if registry is not None else BlockRegistry()
        block = registry.block(str(slave.block), _where(spec, table))
        sample_time = slave.sample_time if slave.sample_time is not None else spec.master.step * slave.rate
        export_prediction_models(block, slave, spec)
        made = block(slave.name, sample_time)  # type: ignore[call-arg]  # blocks are made as Class(name, sample_time)
        if isinstance(made, PythonBlock) and spec.source:
            made.data_folder = Path(spec.source).resolve().parent  # data files its parameters name live here
        return made
    except SystemDefinitionError as err:
        message = str(err)
        raise SystemDefinitionError(
            message if message.startswith(_where(spec, "")) else f"{_where(spec, table)}: {err}"
        ) from None


def prediction_model_names(block: type, slave: SlaveSpec) -> list[str]:
    """The Modelica classes a block predicts with (its MODELICA_MODELS, or the class its ``model`` parameter names)."""
    models = getattr(block, "MODELICA_MODELS", None)
    if not models:
        return []
    chosen = slave.parameters.get("model")
    return [chosen] if isinstance(chosen, str) and chosen else list(models)


def export_prediction_models(block: type, slave: SlaveSpec, spec: ScenarioSpec) -> list[Path]:
    """Blocks that predict with a Modelica model (MODELICA_MODELS, e.g. the MPC) get its CasADi functions exported
    next to the FMUs (orchestrator.export.functions; a no-op when up to date). A block parameter ``model`` names
    another class of models/ instead. Returns the exported .casadi files."""
    names = prediction_model_names(block, slave)
    if not names:
        return []
    from orchestrator.export.functions import export_functions

    for name in names:  # a scenario's text, read as a file name below: a class name of models/, never a path
        if not MODELICA_CLASS_RE.match(name):
            raise SystemDefinitionError(
                f"{_where(spec, f'[slaves.{slave.name}.parameters]')}: model = {name!r} is not a Modelica class name; "
                f"name a class of models/ (e.g. {getattr(block, 'MODELICA_MODELS', ['O2Twin.Package.Model'])[0]})"
            )
    paths = []
    for name in names:
        try:
            paths.append(export_functions(name))
        except O2TwinError as err:
            raise type(err)(f"{_where(spec, f'[slaves.{slave.name}]')}: exporting '{name}' failed: {err}") from None
    return paths


def _fmu_slave(slave: SlaveSpec, spec: ScenarioSpec, tolerance: float | None) -> Slave:
    """The FMU slave with its [slaves.NAME] solver settings (tolerance; ME: method, rtol, atol)."""
    from orchestrator.cosim.slaves.fmu import FmuCoSimSlave, FmuModelExchangeSlave

    path = resolve_fmu(slave, spec)
    tol = slave.tolerance if slave.tolerance is not None else tolerance
    if slave.interface == "cs":
        return FmuCoSimSlave(slave.name, path, tolerance=tol)
    return FmuModelExchangeSlave(
        slave.name, path, tolerance=tol, method=slave.method or "BDF", rtol=slave.rtol, atol=slave.atol
    )


def check_value(qualified: str, var: Variable, value: Any, where: str) -> None:
    """A parameter or start value must fit its variable: type (a text only for a String), and the min/max the
    FMU (from the Modelica source) or the block declares. SystemDefinitionError naming the value and the range."""
    unit = f" {var.unit}" if var.unit and var.unit != "1" else ""
    if var.type == "String":
        if not isinstance(value, str):
            raise SystemDefinitionError(f"{where}: {qualified} is a String; give a text in quotes, got {value!r}")
        return
    if isinstance(value, str):
        raise SystemDefinitionError(f"{where}: {qualified} is {article(var.type)}; got the text {value!r}")
    if var.type == "Integer" and not isinstance(value, bool) and float(value) != int(value):
        raise SystemDefinitionError(f"{where}: {qualified} is an Integer; got {value!r}")
    if var.type == "Boolean" and not isinstance(value, bool) and value not in (0, 1):
        raise SystemDefinitionError(f"{where}: {qualified} is a Boolean; give true or false, got {value!r}")
    if var.min is not None and value < var.min:
        raise SystemDefinitionError(
            f"{where}: {qualified} = {value!r}{unit} is below its minimum {var.min:g}{unit} (declared by the slave)"
        )
    if var.max is not None and value > var.max:
        raise SystemDefinitionError(
            f"{where}: {qualified} = {value!r}{unit} is above its maximum {var.max:g}{unit} (declared by the slave)"
        )


def check_parameters(spec: ScenarioSpec, slave_spec: SlaveSpec, slave: Slave) -> None:
    """Every value in [slaves.NAME.parameters] against the slave's declared variable (unknown names are left to
    System.check, which suggests the closest)."""
    where = _where(spec, f"[slaves.{slave_spec.name}.parameters]")
    for key, value in slave_spec.parameters.items():
        var = slave.variables.get(key)
        if var is not None:
            check_value(f"{slave_spec.name}.{key}", var, value, where)


def _check_variable(
    spec: ScenarioSpec, slaves: dict[str, Slave], qualified: str, table: str, causalities: tuple[str, ...] | None = None
) -> Any:
    slave_name, var = split_name(qualified)
    slave = slaves[slave_name]
    v = slave.variables.get(var)
    if v is None:
        hint = did_you_mean(var, slave.variables)
        raise SystemDefinitionError(f"{_where(spec, table)}: {slave_name} has no variable '{var}'{hint}")
    if causalities is not None and v.causality not in causalities:
        raise SystemDefinitionError(
            f"{_where(spec, table)}: '{qualified}' is a {v.causality}; expected {' or '.join(causalities)}"
        )
    return v


def check_event_targets(spec: ScenarioSpec, slaves: dict[str, Slave]) -> None:
    """Events must name variables the slaves have, with a causality the action can act on (the master's rules;
    the master also checks each value, naming the event)."""
    for e in spec.events:
        table = f"[[events]] t={e.time:g} s {e.action}"
        _check_variable(spec, slaves, e.target, table, EVENT_CAUSALITIES[e.action])


def add_input_table(system: System, spec: ScenarioSpec, table: InputSpec, where: str) -> None:
    """An [[inputs]] time table as a source slave connected to its target inputs (orchestrator.scenario.inputs)."""
    if table.file is not None:
        path = table_file(spec.source, table.file, where)
        data = read_csv_table(path, table.columns or list(table.targets), where)
    else:
        path = None
        data = make_table(table.rows or [], table.columns, where)
    columns = list(table.targets) if table.targets else list(data.columns)
    targets = table.targets or {c: f"{table.slave}.{c}" for c in columns}
    variables: dict[str, Variable] = {}
    for column in columns:
        if column not in data.columns:
            raise SystemDefinitionError(f"{where}: 'to' names column '{column}', which the table does not have")
        slave_name, var_name = split_name(targets[column])
        var = system.slaves[slave_name].variables.get(var_name)
        if var is None:
            hint = did_you_mean(var_name, [v.name for v in system.slaves[slave_name].inputs()])
            raise SystemDefinitionError(f"{where}: column '{column}': {slave_name} has no input '{var_name}'{hint}")
        if var.causality != "input":
            raise SystemDefinitionError(
                f"{where}: column '{column}': '{targets[column]}' is {article(var.causality)}; a table feeds inputs"
            )
        variables[column] = var
    linear = {c: interpolates_linearly(v, table.interpolation) for c, v in variables.items()}
    source = TimeTableSlave(table.name, Table(data.times, {c: data.columns[c] for c in columns}), variables, linear)
    system.add(source)
    for column in columns:
        system.connect(f"{table.name}.{column}", targets[column])
    log.debug("%s: %s feeds %s", where, describe_table(path, data), ", ".join(targets.values()))


def recorded_signals(spec: ScenarioSpec, connected: list[str]) -> list[str]:
    """Every connected signal, then the [outputs] record entries and plotted signals not already among them."""
    seen = dict.fromkeys(connected)
    for name in spec.outputs.record:
        seen.setdefault(name, None)
    for plot in spec.plots:
        for name in plot.signals:
            seen.setdefault(name, None)
    return list(seen)


def scheduled_events(spec: ScenarioSpec, units: Mapping[str, str | None] | None = None) -> list[ScheduledEvent]:
    """The master's ScheduledEvent objects: one per (time, action), targets in file order; ``units`` ("slave.var"
    -> unit) makes the event log show each value with its unit."""
    from orchestrator.cosim.master.events import DriftEvent, OverrideEvent, ReleaseEvent, SetEvent

    grouped: dict[tuple[float, str], list[EventSpec]] = defaultdict(list)
    order: list[tuple[float, str]] = []
    for e in spec.events:
        key = (e.time, e.action)
        if key not in grouped:
            order.append(key)
        grouped[key].append(e)
    events: list[ScheduledEvent] = []
    for time, action in order:
        items = grouped[(time, action)]
        shown = {e.target: (units or {}).get(e.target) for e in items}
        if action == "set":
            events.append(SetEvent(time, {e.target: e.value for e in items}, shown))
        elif action == "override":
            events.append(OverrideEvent(time, {e.target: e.value for e in items}, shown))
        elif action == "release":
            events.append(ReleaseEvent(time, tuple(e.target for e in items)))
        else:
            events.append(DriftEvent(time, {e.target: float(e.value or 0.0) for e in items}, shown))
    return events


def master_options(spec: ScenarioSpec) -> MasterOptions:
    """The master's MasterOptions: the [master] table plus the start/stop time, slave rates and [outputs] interval."""
    options = dataclasses.replace(
        spec.master,
        start_time=spec.start_time,
        stop_time=spec.stop_time,
        rates={name: s.rate for name, s in spec.slaves.items() if s.rate != 1},
        record_interval=spec.outputs.interval,
    )
    try:
        options.validate()
    except SystemDefinitionError as err:
        raise SystemDefinitionError(f"{_where(spec, '[master]')}: {err}") from None
    return options


def build_system(spec: ScenarioSpec, check: bool = True, registry: BlockRegistry | None = None) -> System:
    """The System (slaves, connections, parameters) of a spec, checked; variable errors name the scenario file.

    Slaves are constructed but not set up; on an error every FMU built so far is released. check=False leaves
    System.check() (connections, causality, units) to the caller, e.g. the Simulation, which runs it anyway.
    Blocks come from ``registry`` (default: the installed entry points only).
    """
    from orchestrator.cosim.system import System

    system = System()
    try:
        for slave_spec in spec.slaves.values():
            slave = build_slave(slave_spec, spec, registry=registry)
            system.add(slave)  # added first, so an error below still releases it
            check_parameters(spec, slave_spec, slave)
            # values of inputs are start values (used while unconnected); the rest are parameters
            inputs = {k: v for k, v in slave_spec.parameters.items() if k in {i.name for i in slave.inputs()}}
            params = {k: v for k, v in slave_spec.parameters.items() if k not in inputs}
            seed_var = slave.variables.get("seed")
            if seed_var is not None and seed_var.causality == "parameter" and "seed" not in params:
                params["seed"] = spec.seed  # [scenario] seed reaches every slave that declares a seed parameter
            if params:
                system.parameters.setdefault(slave.name, {}).update(params)
            start_values: dict[str, Any] = {f"{slave_spec.name}.{k}": v for k, v in inputs.items()}
            system.start_values.update(start_values)
        for i, c in enumerate(spec.connections, 1):
            try:
                system.connect(c.source, c.target, c.gain, c.offset)
            except SystemDefinitionError as err:
                raise SystemDefinitionError(f"{_where(spec, f'[[connections]] #{i}')}: {err}") from None
        for i, table in enumerate(spec.inputs, 1):
            add_input_table(system, spec, table, _where(spec, f"[[inputs]] #{i}"))
        if check:
            try:
                system.check()
            except SystemDefinitionError as err:
                raise SystemDefinitionError(f"{spec.source or '<scenario>'}: {err}") from None
        for name in spec.outputs.record:
            _check_variable(spec, system.slaves, name, "[outputs] record")
        for i, plot in enumerate(spec.plots, 1):
            for name in plot.signals:
                _check_variable(spec, system.slaves, name, f"[[plots]] #{i}")
        check_event_targets(spec, system.slaves)
    except BaseException:
        for slave in system.slaves.values():
            try:
                slave.terminate()
            except Exception as err:  # best effort: the build error raised below is what the user needs
                log.debug("terminate %s after a build error failed: %s", slave.name, err)
        raise
    return system


def signal_units(system: System, names: list[str]) -> dict[str, str | None]:
    """Declared unit of each "slave.var" (None where the slave declares none)."""
    units = {}
    for name in names:
        slave_name, var = name.split(".", 1)
        v = system.slaves[slave_name].variables.get(var)
        units[name] = v.unit if v is not None else None
    return units


def signal_descriptions(system: System, names: list[str]) -> dict[str, str]:
    """Declared description of each "slave.var" (empty where the slave gives none)."""
    out = {}
    for name in names:
        slave_name, var = name.split(".", 1)
        v = system.slaves[slave_name].variables.get(var)
        out[name] = v.description if v is not None else ""
    return out


#: Variables stored with the results as constants (Dymola's result files hold every parameter the same way).
_PARAMETER_CAUSALITIES = ("parameter", "calculatedParameter")


def parameter_values(system: System, spec: ScenarioSpec) -> dict[str, float]:
    """Every numeric parameter of every slave as "slave.param" -> value at the start of the run: read from the
    slaves once they are set up, else the scenario's value or the declared start value."""
    out: dict[str, float] = {}
    for name, slave in system.slaves.items():
        wanted = [
            v.name for v in slave.variables.values()
            if v.causality in _PARAMETER_CAUSALITIES and v.type in ("Real", "Integer", "Boolean")
        ]  # fmt: skip
        if not wanted:
            continue
        try:
            values: Mapping[str, Any] = slave.get_outputs(wanted)
        except Exception as err:  # not set up (a failed start) or a slave that cannot report them: declared values
            log.debug("parameters of %s from the scenario and declarations (%s)", name, err)
            given = spec.slaves[name].parameters if name in spec.slaves else {}
            values = {p: given.get(p, slave.variables[p].start) for p in wanted}
        for key in wanted:
            value = values.get(key)
            if isinstance(value, bool | int | float) and math.isfinite(float(value)):
                out[f"{name}.{key}"] = float(value)
    return out


def build_simulation(spec: ScenarioSpec, recorders: Any = (), registry: BlockRegistry | None = None) -> Simulation:
    """The steppable orchestrator.cosim.master.Simulation of a spec (hooks are not applied here: see apply_hooks)."""
    from orchestrator.cosim.master.simulation import Simulation

    system = build_system(
        spec, check=False, registry=registry
    )  # the Simulation checks the system (once, with its warnings)
    try:
        options = master_options(spec)
        record = [n for n in recorded_signals(spec, []) if n not in system.connected_signals()]
        events = scheduled_events(spec, signal_units(system, [e.target for e in spec.events]))
        return Simulation(system, options, events, list(recorders), record)
    except SystemDefinitionError as err:
        for slave in system.slaves.values():
            slave.terminate()
        message = str(err)
        if spec.source and not message.startswith(spec.source):
            message = f"{spec.source}: {message}"
        raise SystemDefinitionError(message) from None
