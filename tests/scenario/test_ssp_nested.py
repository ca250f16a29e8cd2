"""Nested SSP systems run flattened: components in sub-systems become slaves "SUB_COMP", connections are followed
through system connectors (composing each hop's unit conversion and transformation), bindings on nested elements
apply with SSP's precedence. Step hints are read from OSP and OMSimulator annotations and the FMUs."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator import run
from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.exchange import import_ssp
from orchestrator.scenario.ssp.read import read_ssp, read_ssp_system
from tests.support.ssp_cases import (
    bindings,
    component,
    connection,
    connector,
    describe_only_fmu,
    inline,
    real,
    ssd,
    system,
    write_ssp,
)

FMU = "resources/D.fmu"


def _archive(tmp_path, system_xml: str, experiment: str = '<ssd:DefaultExperiment stopTime="1"/>', step=0.01):
    return write_ssp(tmp_path / "n.ssp", ssd(system_xml, experiment), {FMU: describe_only_fmu(step)})


def _plant(inner_bindings: str = "") -> str:
    """Sub-system 'plant': input connector u_in (degC) -> lag.u (K), lag.y -> output y_out (scaled by 2)."""
    return system(
        "plant",
        component("lag", FMU),
        connection(".u_in", "lag.u") + connection("lag.y", ".y_out", '<ssc:LinearTransformation factor="2"/>'),
        connectors=connector("u_in", "input", "degC") + connector("y_out", "output", "K"),
        inner=inner_bindings,
    )


def test_nested_system_is_flattened_through_its_connectors(tmp_path):
    root = system(
        "root",
        component("ctrl", FMU) + _plant(bindings(inline(real("lag.k", 3.0) + real("lag.T", 9.0)))),
        connection("ctrl.y", "plant.u_in", '<ssc:LinearTransformation factor="0.5" offset="1"/>')
        + connection("plant.y_out", "ctrl.u"),
        inner=bindings(inline(real("plant.lag.T", 0.2))),  # the higher level wins over plant's own T
    )
    raw = read_ssp(_archive(tmp_path, root), tmp_path / "f")
    assert list(raw["slaves"]) == ["ctrl", "plant_lag"]
    conns = {(c["from"], c["to"]): (c.get("gain", 1.0), c.get("offset", 0.0)) for c in raw["connections"]}
    # ctrl.y [K] -> u_in [degC]: converted first (x - 273.15), then 0.5 (.) + 1; u_in -> lag.u [K]: + 273.15
    assert conns[("ctrl.y", "plant_lag.u")] == pytest.approx((0.5, 0.5 * -273.15 + 1 + 273.15))
    assert conns[("plant_lag.y", "ctrl.u")] == pytest.approx((2.0, 0.0))
    assert raw["slaves"]["plant_lag"]["parameters"] == {"k": 3.0, "T": 0.2}


def test_two_levels_deep_and_a_parameter_through_sub_system_connectors(tmp_path):
    """A root parameter connector feeds a parameter connector of a sub-sub-system, which feeds a component."""
    inner = system(
        "inner",
        component("c", FMU, connectors=connector("k", "parameter")),
        connection(".gain", "c.k"),
        connectors=connector("gain", "parameter"),
    )
    mid = system("mid", inner, connection(".g", "inner.gain", '<ssc:LinearTransformation factor="10"/>'),
                 connectors=connector("g", "parameter"))  # fmt: skip
    root = system("root", mid, connection(".k1", "mid.g"), connectors=connector("k1", "parameter"),
                  inner=bindings(inline(real("k1", -20.0))))  # fmt: skip
    raw = read_ssp(_archive(tmp_path, root), tmp_path / "f")
    assert raw["slaves"]["mid_inner_c"]["parameters"] == {"k": -200.0}


def test_flattened_names_must_not_collide(tmp_path):
    root = system("root", component("plant_lag", FMU) + _plant())
    with pytest.raises(SystemDefinitionError, match=r"'plant_lag' and 'plant.lag' both flatten to the slave name"):
        read_ssp(_archive(tmp_path, root), tmp_path / "f")


@pytest.mark.parametrize(
    ("experiment", "annotations", "step", "origin"),
    [
        (
            '<ssd:DefaultExperiment stopTime="1"><ssd:Annotations><ssc:Annotation type="com.opensimulationplatform">'
            '<osp:Algorithm><osp:FixedStepAlgorithm baseStepSize="1e-3"/></osp:Algorithm></ssc:Annotation>'
            "</ssd:Annotations></ssd:DefaultExperiment>",
            "",
            1e-3,
            "archive",
        ),
        (
            '<ssd:DefaultExperiment stopTime="1"/>',
            '<ssd:Annotations><ssc:Annotation type="org.openmodelica"><oms:Annotations><oms:SimulationInformation>'
            '<oms:FixedStepMaster description="oms-ma" stepSize="0.002"/></oms:SimulationInformation>'
            "</oms:Annotations></ssc:Annotation></ssd:Annotations>",
            2e-3,
            "archive",
        ),
        ('<ssd:DefaultExperiment stopTime="1"/>', "", 0.01, "fmu"),
    ],
)
def test_step_hints(tmp_path, experiment, annotations, step, origin):
    root = system("root", component("a", FMU), annotations=annotations)
    read = read_ssp_system(_archive(tmp_path, root, experiment), tmp_path / "f")
    assert read.raw["master"]["step"] == step and read.step.origin == origin


def test_component_step_size_hints_set_the_step_and_rates(tmp_path):
    def hinted(name: str, value: float) -> str:
        return component(name, FMU, '<ssd:Annotations><ssc:Annotation type="com.opensimulationplatform">'
                         f'<osp:StepSizeHint value="{value}"/></ssc:Annotation></ssd:Annotations>')  # fmt: skip

    read = read_ssp_system(_archive(tmp_path, system("root", hinted("fast", 0.001) + hinted("slow", 0.004))),
                           tmp_path / "f")  # fmt: skip
    assert read.raw["master"]["step"] == 0.001 and read.raw["slaves"]["slow"]["rate"] == 4
    assert "rate" not in read.raw["slaves"]["fast"]


def test_a_nested_archive_runs_like_the_flat_one(tmp_path, lag_fmu):
    """The same two-lag ring, once flat and once with b inside sub-system 'plant' behind its connectors (with a
    gain of 1 split over the two hops as 4 and 0.25): the runs give the same signals."""
    lag = "resources/Lag.fmu"
    a = component("a", lag, bindings(inline(real("x0", 1.0) + real("k", -0.5))))
    flat = system("root", a + component("b", lag, bindings(inline(real("k", 2.0)))),
                  connection("a.y", "b.u") + connection("b.y", "a.u"))  # fmt: skip
    plant = system(
        "plant",
        component("b", lag),
        connection(".u_in", "b.u", '<ssc:LinearTransformation factor="0.25"/>') + connection("b.y", ".y_out"),
        connectors=connector("u_in", "input") + connector("y_out", "output"),
        inner=bindings(inline(real("b.k", 2.0))),
    )
    nested = system("root", a + plant, connection("a.y", "plant.u_in", '<ssc:LinearTransformation factor="4"/>')
                    + connection("plant.y_out", "a.u"))  # fmt: skip
    runs = {}
    for name, sys_xml in (("flat", flat), ("nested", nested)):
        path = write_ssp(tmp_path / f"{name}.ssp", ssd(sys_xml, '<ssd:DefaultExperiment stopTime="3"/>'),
                         {lag: lag_fmu.read_bytes()})  # fmt: skip
        spec = import_ssp(path, check_step=False)
        runs[name] = run(spec, out=tmp_path / name, plots=False).signals
    assert list(runs["nested"].columns) == ["a.y", "plant_b.y"] and len(runs["flat"]) == len(runs["nested"])
    np.testing.assert_allclose(runs["nested"]["a.y"], runs["flat"]["a.y"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(runs["nested"]["plant_b.y"], runs["flat"]["b.y"], rtol=1e-12, atol=1e-15)
