"""The scenario format: the documented example parses, every bad input gives its message, TOML round trip."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cosim.master.options import MasterOptions
from orchestrator.cosim.system import Connection
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.load import load_scenario, resolve_scenario_path, scenario_hash
from orchestrator.scenario.parse import parse_scenario
from orchestrator.scenario.spec import (
    EventSpec,
    InputSpec,
    OutputsSpec,
    ScenarioSpec,
    SlaveSpec,
)
from orchestrator.scenario.toml import dumps_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"

MINIMAL = """
[scenario]
stop_time = 1.0
[slaves.a]
block = "m:Block"
[slaves.b]
fmu = "b.fmu"
"""


def _parse(text: str, source: str = "x.toml") -> ScenarioSpec:
    return parse_scenario(tomllib.loads(text), source=source, default_name="x")


def test_documented_example_parses_and_round_trips():
    example = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    spec = _parse(example, "docs.toml")
    assert spec.name == "default"
    assert spec.master.algorithm == "gauss-seidel" and spec.master.step == 0.1
    assert spec.slaves["compressor"].kind == "fmu" and not spec.slaves["compressor"].fmu_is_path
    assert spec.slaves["psa"].fmu_is_path
    assert spec.slaves["pid"].block == "controllers.pid:PressurePID"
    assert spec.connections[0] == Connection("psa.sensor_p_feed", "pid.p_measured", 1.0, 0.0)
    # events are sorted by time: drift at 60, override at 120, release at 180, set at 300
    assert [(e.time, e.action) for e in spec.events] == [
        (60, "drift"),
        (120, "override"),
        (180, "release"),
        (300, "set"),
    ]
    assert spec.events[0].value == -1e-4
    assert spec.plant.replaces == ["compressor", "psa"]
    assert _parse(dumps_scenario(spec), "docs.toml") == spec


def test_minimal_defaults():
    spec = _parse(MINIMAL)
    assert spec.name == "x" and spec.start_time == 0.0 and spec.seed == 0
    assert spec.master == MasterOptions()
    assert spec.slaves["a"].sample_time is None and spec.slaves["b"].interface == "cs"
    assert spec.outputs == OutputsSpec()


BAD = [
    ("[scenario]\nstop_time = 1.0\n", "[slaves]: a scenario needs at least one slave"),
    ("[slaves.a]\nblock = 'm:B'\n", "[scenario]: missing 'stop_time'"),
    (
        MINIMAL + "[[connections]]\nfrom = 'a.y'\nto = 'pid'\n",
        "[[connections]] #1: 'to' must be 'slave.variable', got 'pid'",
    ),
    (MINIMAL + "[[connections]]\nfrom = 'a.y'\n", "[[connections]] #1: missing 'to'"),
    (
        MINIMAL + "[[connections]]\nfrom = 'a.y'\nto = 'c.u'\n",
        "[[connections]] #1: 'to' = 'c.u' names unknown slave 'c'",
    ),
    (
        MINIMAL + "[[connections]]\nfrom = 'a.y'\nto = 'b.u'\n[[connections]]\nfrom = 'a.z'\nto = 'b.u'\n",
        "[[connections]] #2: input 'b.u' is already driven by connection #1",
    ),
    (MINIMAL + "[[connections]]\nfrom = 'a.y'\nto = 'b.u'\ngain = 'x'\n", "'gain' must be a number"),
    (MINIMAL + "[master]\nalgorithm = 'newton'\n", "[master]: 'algorithm' must be one of jacobi, gauss-seidel"),
    (MINIMAL + "[master]\nstep = 0\n", "[master]: 'step' must be > 0"),
    (MINIMAL + "[master]\nextrapolation = 2\n", "[master]: 'extrapolation' must be one of 0, 1"),
    (MINIMAL + "[master]\nstepsize = 0.1\n", "[master]: unknown key 'stepsize'"),
    (MINIMAL + "[mastr]\nstep = 0.1\n", "[mastr]: unknown table"),
    (MINIMAL + "[slaves.c]\nrate = 2\n", "[slaves.c]: give exactly one of 'fmu'"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\nblock = 'm:C'\n", "[slaves.c]: give exactly one of 'fmu'"),
    (MINIMAL + "[slaves.c]\nblock = 'controllers/pid.py'\n", "[slaves.c]: 'block' must be a registered block name"),
    (
        MINIMAL + "[slaves.c]\nblock = 'a:b:c'\n",
        "[slaves.c]: 'block' must be a registered block name or 'module:Class'",
    ),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\nsample_time = 0.1\n", "'sample_time' is for Python blocks"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\ninterface = 'xx'\n", "'interface' must be one of cs, me"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\nrate = 0\n", "'rate' must be >= 1"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\nmethod = 'BDF'\n", "'method' sets the Model Exchange integrator"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\ninterface = 'me'\nmethod = 'Euler'\n", "'method' must be one of BDF"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\ntolerance = 0\n", "'tolerance' must be > 0"),
    (MINIMAL + "[slaves.c]\nblock = 'm:C'\ntolerance = 1e-6\n", "[slaves.c]: 'tolerance' is for FMUs only"),
    (MINIMAL + "[slaves.c]\nfmu = 'x.fmu'\n[slaves.c.parameters]\nk = [1, 2]\n", "[slaves.c.parameters]: 'k' must be"),
    (MINIMAL + "[[events]]\nset = { 'a.k' = 1.0 }\n", "[[events]] #1: missing 'time'"),
    (MINIMAL + "[[events]]\ntime = 0.5\n", "[[events]] #1: nothing to do"),
    (MINIMAL + "[[events]]\ntime = 5.0\nset = { 'a.k' = 1.0 }\n", "outside [start_time, stop_time]"),
    (MINIMAL + "[[events]]\ntime = 0.5\ndrift = { 'b.y' = 1.0 }\n", "[[events]] #1 drift 'b.y': must be a table"),
    (MINIMAL + "[[events]]\ntime = 0.5\nrelease = 'b.y'\n", "'release' must be a list"),
    (MINIMAL + "[[events]]\ntime = 0.5\noverride = { 'bu' = 1.0 }\n", "must be 'slave.variable', got 'bu'"),
    (MINIMAL + "[outputs]\ninterval = 0.15\n", "[outputs]: 'interval' (0.15 s) must be a multiple of master.step"),
    (MINIMAL + "[outputs]\nrecord = 'a.y'\n", "[outputs]: 'record' must be a list"),
    (MINIMAL + "[[plots]]\ntitle = 'p'\nsignals = []\n", "[[plots]] #1: 'signals' must be a non-empty list"),
    (MINIMAL + "[[plots]]\ntitle = 'p'\nsignals = ['a.y']\nunit = 'psi'\n", "[[plots]] #1: 'unit' must be one of"),
    (MINIMAL + "[[plots]]\ntitle = 'p'\nsignals = ['q.y']\n", "[[plots]] #1: signal 'q.y' names unknown slave 'q'"),
    (MINIMAL + "[plant]\nreplaces = ['b']\n", "[plant]: missing 'device'"),
    (
        MINIMAL + "[plant]\ndevice = 'serial:///dev/x'\nreplaces = ['zz']\n",
        "[plant]: 'replaces' entry 'zz' names unknown slave",
    ),
    (MINIMAL + "[safety]\nwatchdog = 'wd'\n", "[safety]: 'watchdog' names unknown slave 'wd'"),
    (
        MINIMAL + "[metrics]\nsummary = 'no colon'\n",
        "[metrics]: 'summary' must be a registered name or 'module:function'",
    ),
    ("[scenario]\nstop_time = 1.0\nstart_time = 2.0\n[slaves.a]\nblock = 'm:B'\n", "must be after 'start_time'"),
    ("[scenario]\nstop_time = 1.0\ndescription = \"a\\nb\"\n[slaves.a]\nblock = 'm:B'\n", "must be one printable line"),
    # a scenario or SSD name becomes results/NAME/: never a path (issue 10)
    (
        "[scenario]\nname = '../../..'\nstop_time = 1.0\n[slaves.a]\nblock = 'm:B'\n",
        "[scenario]: 'name' = '../../..' names",
    ),
    ("[scenario]\nname = '/tmp/x'\nstop_time = 1.0\n[slaves.a]\nblock = 'm:B'\n", "not a path"),
    ("[scenario]\nname = '..'\nstop_time = 1.0\n[slaves.a]\nblock = 'm:B'\n", "not a path"),
    # a NUL anywhere (a name, a key, a value) is one clear error, not a crash in the file system or an FMU
    ("[scenario]\nname = \"a\\u0000b\"\nstop_time = 1.0\n[slaves.a]\nblock = 'm:B'\n", "'scenario.name': holds"),
    (MINIMAL + "[[connections]]\nfrom = \"a.y\\u0000\"\nto = 'b.u'\n", "control character '\\x00'"),
    ("[scenario]\nstop_time = 1.0\n[slaves.\"a\\u0000\"]\nblock = 'm:B'\n", "'slaves.a\\x00': holds"),
    ("[scenario]\nstop_time = 1.0\n[slaves.'a-b']\nblock = 'm:B'\n", "[slaves.a-b]: a slave name must be"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_scenario_names_file_table_and_key(text, message):
    with pytest.raises(SystemDefinitionError) as info:
        _parse(text, "scenarios/x.toml")
    assert str(info.value).startswith("scenarios/x.toml: ")
    assert message in str(info.value)


def test_load_by_name_and_path(tmp_path, monkeypatch):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "quick.toml").write_text(MINIMAL)
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario_path("quick") == folder / "quick.toml"
    spec = load_scenario("quick")
    assert spec.name == "quick" and spec.source.endswith("quick.toml")
    assert load_scenario(folder / "quick.toml") == spec
    with pytest.raises(SystemDefinitionError, match=r"no scenario 'nope'.*quick"):
        load_scenario("nope")
    with pytest.raises(SystemDefinitionError, match="does not exist"):
        load_scenario(tmp_path / "missing.toml")


def test_invalid_toml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[scenario]\nstop_time = = 1\n")
    with pytest.raises(SystemDefinitionError, match=r"broken.toml: not valid TOML: .*line 2"):
        load_scenario(path)


def test_hash_ignores_formatting_but_not_content():
    a = _parse(MINIMAL)
    b = _parse(MINIMAL.replace("stop_time = 1.0", "stop_time   =   1.0   # comment"))
    c = _parse(MINIMAL.replace("stop_time = 1.0", "stop_time = 2.0"))
    assert scenario_hash(a) == scenario_hash(b) != scenario_hash(c)


_names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


def _text(max_size: int) -> st.SearchStrategy[str]:
    """Printable text: control characters (NUL, newlines) are refused anywhere in a scenario."""
    return st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=max_size)


_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    _text(8),
)


@st.composite
def _specs(draw):
    names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    slaves = {}
    for n in names:
        params = draw(st.dictionaries(_names, _values, max_size=3))
        if draw(st.booleans()):
            slaves[n] = SlaveSpec(
                n,
                fmu=draw(st.sampled_from(["M.A", "x/y.fmu"])),
                interface=draw(st.sampled_from(["cs", "me"])),
                rate=draw(st.integers(1, 4)),
                parameters=params,
            )
        else:
            slaves[n] = SlaveSpec(
                n, block="pkg.mod:Cls", sample_time=draw(st.none() | st.floats(0.01, 10)), parameters=params
            )
    stop = draw(st.floats(1.0, 1e4))
    conns, targets = [], set()
    for _ in range(draw(st.integers(0, 4))):
        src, dst = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        out, inp = draw(_names), draw(_names)
        if f"{dst}.{inp}" in targets:
            continue
        targets.add(f"{dst}.{inp}")
        conns.append(Connection(f"{src}.{out}", f"{dst}.{inp}", draw(st.floats(-1e3, 1e3)), draw(st.floats(-1e3, 1e3))))
    events = []
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["set", "override", "release", "drift"]))
        value = None if action == "release" else draw(st.floats(-10, 10))
        events.append(
            EventSpec(
                draw(st.floats(0, stop)),
                action,
                draw(st.sampled_from(names)),
                draw(_names),
                value,
                draw(_text(10)),
            )
        )
    events.sort(key=lambda e: e.time)
    inputs = []
    for i in range(draw(st.integers(0, 2))):
        times = sorted(draw(st.lists(st.floats(0, stop), min_size=1, max_size=4)))
        target = f"{draw(st.sampled_from(names))}.in_{i}"
        if target in targets:
            continue
        targets.add(target)
        rows = [[t, draw(st.floats(-1e6, 1e6))] for t in times]
        inputs.append(InputSpec(f"T{i}", {"v": target}, rows=rows, columns=["v"],
                                interpolation=draw(st.sampled_from(["auto", "linear", "hold"]))))  # fmt: skip
    return ScenarioSpec(
        name=draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,11}", fullmatch=True)),
        stop_time=stop,
        description=draw(_text(20)),
        seed=draw(st.integers(0, 2**31)),
        master=MasterOptions(
            algorithm=draw(st.sampled_from(["jacobi", "gauss-seidel"])),
            step=0.5,
            extrapolation=draw(st.sampled_from([0, 1])),
        ),
        slaves=slaves,
        connections=conns,
        events=events,
        inputs=inputs,
        outputs=OutputsSpec(record=[f"{names[0]}.v"], interval=draw(st.none() | st.sampled_from([0.5, 1.0, 2.5]))),
        source="gen.toml",
    )


@settings(max_examples=60, deadline=None)
@given(_specs())
def test_toml_round_trip(spec):
    assert parse_scenario(tomllib.loads(dumps_scenario(spec)), source="gen.toml") == spec


def test_fmu_solver_settings_reach_the_fmu_slaves(tmp_path, lag_fmu):
    """[slaves.NAME] tolerance (both interfaces), method/rtol/atol (Model Exchange) are the FMU slave's arguments."""
    from orchestrator.paths import FMUS_DIR
    from orchestrator.scenario.build import build_system

    patient = FMUS_DIR / "O2Twin_CoSim_Patient.fmu"
    fmu = str(patient) if patient.is_file() else "O2Twin.CoSim.Patient"  # exported on demand
    path = tmp_path / "solver.toml"
    path.write_text(f"""
[scenario]
stop_time = 1.0
[slaves.cs]
fmu = "{lag_fmu}"
tolerance = 1e-7
[slaves.me]
fmu = "{fmu}"
interface = "me"
method = "Radau"
rtol = 1e-5
atol = 1e-9
""")
    spec = load_scenario(path)
    assert parse_scenario(tomllib.loads(dumps_scenario(spec)), source=spec.source, default_name="solver") == spec
    system = build_system(spec)
    try:
        cs, me = system.slaves["cs"], system.slaves["me"]
        assert cs.tolerance == 1e-7  # type: ignore[attr-defined]
        assert (me.method, me.rtol, me.atol) == ("Radau", 1e-5, 1e-9)  # type: ignore[attr-defined]
    finally:
        for slave in system.slaves.values():
            slave.terminate()
