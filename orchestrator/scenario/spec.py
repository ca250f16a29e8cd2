"""The scenario as data: dataclasses of a parsed, checked scenario (format in docs/scenarios.md).

orchestrator.scenario.parse turns a raw TOML table into these; orchestrator.scenario.build turns them into a
System. Where the co-simulation has the concept already (the master's options, a connection, the event actions),
the scenario uses its definition. Nothing here reads files or imports code by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.cosim.master.events import EVENT_TYPES
from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.system import Connection

ParameterValue = float | int | bool | str

INTERFACES = ("cs", "me")
#: The integrators a Model Exchange FMU may use (scipy.integrate.solve_ivp's methods; stiff ones first).
ME_METHODS = ("BDF", "Radau", "LSODA", "RK45", "RK23", "DOP853")
#: [slaves.NAME] keys that set up an FMU's solver: tolerance (both interfaces), method/rtol/atol (Model Exchange).
FMU_SOLVER_KEYS = ("tolerance", "method", "rtol", "atol")
#: The event actions a scenario may schedule (the master's event classes by name, in file-format order).
EVENT_ACTIONS = tuple(EVENT_TYPES)
#: The [master] table's keys: the MasterOptions fields a scenario sets (the run's start/stop time come from
#: [scenario], the rates from the slaves and the record interval from [outputs]).
MASTER_KEYS = (
    "algorithm",
    "step",
    "extrapolation",
    "error_control",
    "tolerance",
    "min_step",
    "max_step",
    "loop_solver",
    "loop_tolerance",
    "loop_max_iterations",
)


@dataclass
class SlaveSpec:
    """One co-simulation unit ([slaves.NAME] table): an FMU or a Python block."""

    name: str
    fmu: str | None = None  #: a Modelica class name (exported on demand) or a path to a .fmu
    block: str | None = None  #: a registered block: entry point name or value, or MODULE:Class of an allowed module
    interface: Literal["cs", "me"] = "cs"  #: FMU only
    rate: int = 1  #: steps every rate * master.step
    sample_time: float | None = None  #: s, Python blocks only (None: master.step)
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    #: FMU only: relative tolerance for fmi2SetupExperiment (and the ME integrator); None: the FMU's default
    tolerance: float | None = None
    method: str | None = None  #: Model Exchange only: the integrator (ME_METHODS; None: BDF)
    rtol: float | None = None  #: Model Exchange only: integrator tolerances (None: from tolerance)
    atol: float | None = None

    @property
    def kind(self) -> Literal["fmu", "block"]:
        return "fmu" if self.fmu is not None else "block"

    @property
    def fmu_is_path(self) -> bool:
        """True when `fmu` names a .fmu file rather than a Modelica class."""
        return self.fmu is not None and self.fmu.lower().endswith(".fmu")


@dataclass
class EventSpec:
    """One scheduled action at an exact time ([[events]] entries are split into one EventSpec per variable).

    action: "set" (value), "override" (hold the variable at value until released), "release" (end an override
    or drift; value None), "drift" (value = rate per second added to the output from `time` on).
    """

    time: float
    action: Literal["set", "override", "release", "drift"]
    slave: str
    variable: str
    value: ParameterValue | None = None
    description: str = ""

    @property
    def target(self) -> str:
        return f"{self.slave}.{self.variable}"


INTERPOLATIONS = ("auto", "linear", "hold")


@dataclass
class InputSpec:
    """One [[inputs]] entry: a time table (CSV file or inline) that feeds slave inputs, e.g. a measured profile.

    Each value column feeds one input; between time points the value is interpolated linearly or held ("auto": as
    FMI 2.0 treats inputs, linear for continuous Real inputs, held for discrete ones and other types).
    """

    name: str  #: the table's slave name (its columns are recorded as NAME.COLUMN)
    targets: dict[str, str] = field(default_factory=dict)  #: column -> "slave.input"
    slave: str | None = None  #: instead of targets: every column feeds this slave's input of the same name
    file: str | None = None  #: a CSV file (header "time,col,...") relative to the scenario, inside its folder
    rows: list[list[float]] | None = None  #: inline table: [time, value, ...] per row
    columns: list[str] = field(default_factory=list)  #: the value columns used (inline: their names, in order)
    interpolation: Literal["auto", "linear", "hold"] = "auto"


@dataclass
class OutputsSpec:
    """What is recorded ([outputs] table); every connected signal is recorded in any case."""

    record: list[str] = field(default_factory=list)  #: "slave.variable"
    interval: float | None = None  #: s between recorded points (None: master.step)


@dataclass
class PlotSpec:
    """One standard plot ([[plots]] entry): a group of signals on one axis."""

    title: str
    signals: list[str]
    #: display unit ("bar(g)", "degC", "L/min", "%"), "SI" to keep the FMU unit, or None for automatic
    unit: str | None = None
    file: str | None = None  #: PNG file name in the results dir (None: derived from the title)


@dataclass
class PlantSpec:
    """Hardware in the loop ([plant] table): replace plant slaves by a device (see orchestrator.hil.host.plant)."""

    device: str
    replaces: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  #: any further keys, for the HIL adapter


@dataclass
class ScenarioSpec:
    """A parsed, checked scenario: everything needed to build and run a co-simulation."""

    name: str
    stop_time: float
    description: str = ""
    start_time: float = 0.0
    seed: int = 0
    #: the [master] table (MASTER_KEYS of the master's own options; the rest is filled in when the run is built)
    master: MasterOptions = field(default_factory=MasterOptions)
    slaves: dict[str, SlaveSpec] = field(default_factory=dict)
    #: [[connections]]: to = gain * from + offset, as the co-simulation's own Connection ("slave.var" names)
    connections: list[Connection] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    inputs: list[InputSpec] = field(default_factory=list)
    outputs: OutputsSpec = field(default_factory=OutputsSpec)
    plots: list[PlotSpec] = field(default_factory=list)
    plant: PlantSpec | None = None
    watchdog: str | None = None  #: [safety] watchdog = "<slave>"
    summary: str | None = None  #: [metrics] summary = "module:function"
    #: where the scenario came from (a .toml or .ssp path; "" when built in code); relative paths resolve here
    source: str = ""
