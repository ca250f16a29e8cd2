"""The communication step an SSP archive suggests (SSP 1.0 itself has no step: tools put it in annotations).

Read, first found wins:
1. the Open Simulation Platform's annotation on the DefaultExperiment (type ``com.opensimulationplatform``,
   ``osp:Algorithm/osp:FixedStepAlgorithm`` with ``baseStepSize``, older files ``stepSize``);
2. OMSimulator's annotation on the root system (type ``org.openmodelica``, ``oms:FixedStepMaster stepSize``);
3. OSP step hints on components (``osp:StepSizeHint value``): the smallest is the master step, a component whose
   hint is a whole multiple of it steps at that rate;
4. the FMUs' own DefaultExperiment stepSize (the smallest).
None of these: the master's default step. Origins "archive" (1-3) and "fmu" (4) tell the import how far to trust it
(orchestrator/scenario/step_check.py checks a step that is not the archive's by step halving).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from orchestrator.scenario.ssp.common import NS

log = logging.getLogger(__name__)

OSP_ANNOTATION = "com.opensimulationplatform"
OMS_ANNOTATION = "org.openmodelica"


@dataclass(frozen=True)
class StepHint:
    """A master step and where it came from."""

    step: float | None  #: s; None: the master's default
    origin: str  #: "o2twin" (the scenario's own), "archive", "fmu" or "default"
    detail: str = ""  #: which annotation or FMU gave it
    rates: dict[str, int] = field(default_factory=dict)  #: slave -> rate, from component hints


def _positive(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def _annotations(element: etree._Element | None, kind: str) -> list[etree._Element]:
    if element is None:
        return []
    return [a for a in element.findall("ssd:Annotations/ssc:Annotation", NS) if a.get("type") == kind]


def _descendant(annotation: etree._Element, local_name: str) -> etree._Element | None:
    for el in annotation.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == local_name:
            return el
    return None


def system_step(root: etree._Element, system: etree._Element) -> tuple[float, str] | None:
    """(step, which annotation) from the DefaultExperiment (OSP) or the root system (OMSimulator)."""
    for a in _annotations(root.find("ssd:DefaultExperiment", NS), OSP_ANNOTATION):
        el = _descendant(a, "FixedStepAlgorithm")
        if el is not None:
            for attr in ("baseStepSize", "stepSize"):
                step = _positive(el.get(attr))
                if step is not None:
                    return step, f"OSP FixedStepAlgorithm {attr}"
    for a in _annotations(system, OMS_ANNOTATION):
        el = _descendant(a, "FixedStepMaster")
        step = _positive(el.get("stepSize")) if el is not None else None
        if step is not None:
            return step, "OMSimulator FixedStepMaster stepSize"
    return None


def component_step_hint(component: etree._Element, md: Any) -> tuple[float, str] | None:
    """(step, "archive" | "fmu") of one component: its OSP StepSizeHint, else its FMU's DefaultExperiment."""
    for a in _annotations(component, OSP_ANNOTATION):
        el = _descendant(a, "StepSizeHint")
        step = _positive(el.get("value")) if el is not None else None
        if step is not None:
            return step, "archive"
    experiment = getattr(md, "defaultExperiment", None)
    step = _positive(getattr(experiment, "stepSize", None)) if experiment is not None else None
    return (step, "fmu") if step is not None else None


def step_hint(root: etree._Element, system: etree._Element, components: dict[str, tuple[float, str]]) -> StepHint:
    """The archive's suggested master step (see the module docstring for the order)."""
    found = system_step(root, system)
    if found is not None:
        step, detail = found
        return StepHint(step, "archive", detail, _rates(step, components))
    osp = {n: s for n, (s, origin) in components.items() if origin == "archive"}
    if osp:
        step = min(osp.values())
        return StepHint(step, "archive", "OSP StepSizeHint of the components", _rates(step, components))
    fmu = {n: s for n, (s, _) in components.items()}
    if fmu:
        name = min(fmu, key=lambda n: fmu[n])
        return StepHint(fmu[name], "fmu", f"DefaultExperiment stepSize of {name}'s FMU")
    return StepHint(None, "default", "no step hint in the archive or its FMUs")


def _rates(step: float, components: dict[str, tuple[float, str]]) -> dict[str, int]:
    rates = {}
    for name, (hint, origin) in components.items():
        if origin != "archive":
            continue
        ratio = hint / step
        if round(ratio) > 1 and abs(ratio - round(ratio)) < 1e-9 * ratio:
            rates[name] = round(ratio)
        elif round(ratio) > 1:
            log.info("%s: step hint %g s is not a whole multiple of the master step %g s; it steps every step",
                     name, hint, step)  # fmt: skip
    return rates
