"""FixedFlow: the prescribed flow, changed by a set event (a nurse turning the knob), and its validation."""

from __future__ import annotations

import pytest

from controllers.manual import FixedFlow
from orchestrator.errors import SystemDefinitionError
from orchestrator.units import slpm_to_m3s


def test_fixed_flow_follows_the_dial():
    block = FixedFlow("manual", 1.0)
    block.setup(0.0, {"flow_slpm": 3.0})
    block.step(0.0, 1.0)
    assert block.get_outputs()["Q_set"] == pytest.approx(slpm_to_m3s(3.0))
    block.set_parameter("flow_slpm", 1.5)
    block.step(1.0, 1.0)
    assert block.get_outputs()["Q_set"] == pytest.approx(slpm_to_m3s(1.5))


@pytest.mark.parametrize("flow", [-1.0, 11.0, float("nan"), "2"])
def test_fixed_flow_rejects_a_flow_out_of_range(flow):
    block = FixedFlow("manual", 1.0)
    with pytest.raises(SystemDefinitionError, match="flow_slpm"):
        block.setup(0.0, {"flow_slpm": flow})


def test_a_flow_refused_during_the_run_leaves_the_dial_where_it_was():
    block = FixedFlow("manual", 1.0)
    block.setup(0.0, {"flow_slpm": 3.0})
    with pytest.raises(SystemDefinitionError, match="flow_slpm"):
        block.set_parameter("flow_slpm", 50.0)
    block.step(0.0, 1.0)
    assert block.p["flow_slpm"] == 3.0 and block.get_outputs()["Q_set"] == pytest.approx(slpm_to_m3s(3.0))
