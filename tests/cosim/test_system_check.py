"""System.check(): each definition error is one SystemDefinitionError naming the connection and the fix."""

from __future__ import annotations

import pytest

from orchestrator.cosim.master import MasterOptions, Simulation
from orchestrator.cosim.slaves.base import Variable
from orchestrator.cosim.slaves.fmu import FmuCoSimSlave
from orchestrator.cosim.system import System
from orchestrator.errors import SystemDefinitionError
from tests.support.cosim_blocks import Accumulator, Ramp


class Counter(Ramp):
    OUTPUTS = (Variable("n", "output", type="Integer", start=0),)


class Switch(Accumulator):
    INPUTS = (Variable("on", "input", type="Boolean", start=False),)


@pytest.fixture
def system(oscillator_fmus) -> System:
    m1, m2 = oscillator_fmus()
    s = System()
    s.add(FmuCoSimSlave("mass1", m1))
    s.add(FmuCoSimSlave("mass2", m2))
    s.add(Accumulator("acc", 0.1))
    s.add(Ramp("ramp", 0.1))
    return s


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (
            "mass1.xx",
            "mass2.x_other",
            r"connection mass1.xx -> mass2.x_other: mass1 has no variable 'xx' \(did you mean 'x'\?\)",
        ),
        ("mas1.x", "mass2.x_other", r"there is no slave 'mas1' \(did you mean 'mass1'\?\)"),
        ("mass1.x_other", "mass2.x_other", r"mass1.x_other is an input, not an output"),
        ("mass1.x", "mass2.v", r"mass2.v is an output, not an input"),
        ("mass1.x", "mass2.A[1,1]", r"is a parameter, not an input.*parameters instead"),
        ("ramp.y", "mass2.x_other", None),
        ("mass1", "mass2.x_other", r"'mass1' is not a 'slave.variable' name"),
    ],
)
def test_connection_errors(system, source, target, message):
    system.connect(source, target)
    if message is None:
        system.check()  # same unit 'm' on both sides: fine
    else:
        with pytest.raises(SystemDefinitionError, match=message):
            system.check()


def test_unit_mismatch_needs_conversion(system):
    system.connect("mass1.v", "mass2.x_other")
    with pytest.raises(
        SystemDefinitionError, match=r"unit mismatch, mass1.v is in 'm/s' but mass2.x_other expects 'm'.*gain"
    ):
        system.check()
    system.connections.clear()
    system.connect("mass1.v", "mass2.x_other", gain=2.0)
    warnings = system.check()
    assert any("converts 'm/s' to 'm' with gain 2" in w for w in warnings)


def test_input_driven_twice(system):
    system.connect("mass1.x", "mass2.x_other")
    system.connect("ramp.y", "mass2.x_other")
    with pytest.raises(SystemDefinitionError, match=r"input mass2.x_other is already driven by mass1.x"):
        system.check()


def test_type_mismatch(system):
    system.add(Counter("counter", 0.1))
    system.add(Switch("switch", 0.1))
    system.connect("counter.n", "acc.u")  # Integer -> Real is fine
    system.check()
    system.connect("mass1.x", "switch.on")
    with pytest.raises(SystemDefinitionError, match=r"type mismatch, mass1.x is Real but switch.on is Boolean"):
        system.check()


def test_unconnected_inputs_warn_and_use_start(system):
    """An unconnected input warns and keeps its declared start; one given a start value explicitly is intended."""
    system.start_values["mass2.x_other"] = 0.25
    warnings = system.check()
    assert not any("mass2.x_other" in w for w in warnings)
    assert "input mass1.x_other is not connected; its start value 0.0 is used" in warnings
    sim = Simulation(system, MasterOptions(step=0.1, stop_time=0.1))
    assert sim.get("mass2.x_other") == 0.25
    sim.finish()


def test_parameter_and_duplicate_errors(system, oscillator_fmus):
    with pytest.raises(SystemDefinitionError, match="slave name 'mass1' is used twice"):
        system.add(FmuCoSimSlave("mass1", oscillator_fmus()[0]))
    system.parameters["mass1"] = {"fail_tme": 1.0}
    with pytest.raises(SystemDefinitionError, match=r"mass1 has no variable 'fail_tme' \(did you mean 'fail_time'\?\)"):
        system.check()
    system.parameters["mass1"] = {"x": 1.0}
    with pytest.raises(SystemDefinitionError, match=r"parameter mass1.x: is an output"):
        system.check()


def test_master_option_errors(system):
    with pytest.raises(SystemDefinitionError, match=r"\[master\] algorithm = 'rk4' is invalid: jacobi \| gauss-seidel"):
        Simulation(system, MasterOptions(algorithm="rk4"))
    with pytest.raises(SystemDefinitionError, match=r"\[master\] step = -0.1 is invalid"):
        Simulation(system, MasterOptions(step=-0.1))
    with pytest.raises(SystemDefinitionError, match=r"rates: there is no slave 'nope'"):
        Simulation(system, MasterOptions(rates={"nope": 2}))
