"""Small SSP archives for the import tests, written here (no network, no other tool's files).

``ssd(system, experiment)`` wraps a System element in an SSD with every SSP 1.0 namespace; ``write_ssp`` zips an SSD
with its resources. ``describe_only_fmu`` is an FMU holding only a modelDescription.xml (every variable type, an
enumeration, units): enough for what the import reads, not for a run (the tests that run use the compiled Lag FMU).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

NAMESPACES = (
    'xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
    'xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" '
    'xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues" '
    'xmlns:ssm="http://ssp-standard.org/SSP1/SystemStructureParameterMapping" '
    'xmlns:osp="http://opensimulationplatform.com/SSP/OSPAnnotations" '
    'xmlns:oms="https://raw.githubusercontent.com/OpenModelica/OMSimulator/master/schema/oms.xsd"'
)


def ssd(system: str, experiment: str = '<ssd:DefaultExperiment stopTime="1"/>', units: str = "") -> str:
    """An SSD document around one ssd:System element."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ssd:SystemStructureDescription {NAMESPACES} version="1.0" '
        f'name="case">{system}{units}{experiment}</ssd:SystemStructureDescription>'
    )


def ssv(parameters: str, units: str = "") -> str:
    """An .ssv parameter set; parameters: ssv:Parameter elements."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ssv:ParameterSet {NAMESPACES} version="1.0" name="set">'
        f"<ssv:Parameters>{parameters}</ssv:Parameters>{units}</ssv:ParameterSet>"
    )


def ssm(entries: str) -> str:
    """An .ssm parameter mapping; entries: ssm:MappingEntry elements."""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<ssm:ParameterMapping {NAMESPACES} version="1.0">{entries}</ssm:ParameterMapping>'


def real(name: str, value: float, unit: str | None = None) -> str:
    u = f' unit="{unit}"' if unit else ""
    return f'<ssv:Parameter name="{name}"><ssv:Real value="{value!r}"{u}/></ssv:Parameter>'


def param(name: str, kind: str, value: str) -> str:
    return f'<ssv:Parameter name="{name}"><ssv:{kind} value="{value}"/></ssv:Parameter>'


def inline(parameters: str, prefix: str = "", mapping: str = "") -> str:
    """A ParameterBinding with an inline parameter set (and optionally an inline mapping)."""
    p = f' prefix="{prefix}"' if prefix else ""
    mapped = (
        f'<ssd:ParameterMapping><ssm:ParameterMapping version="1.0">{mapping}</ssm:ParameterMapping>'
        "</ssd:ParameterMapping>"
        if mapping
        else ""
    )
    return (
        f'<ssd:ParameterBinding{p}><ssd:ParameterValues><ssv:ParameterSet version="1.0" name="inline">'
        f"<ssv:Parameters>{parameters}</ssv:Parameters></ssv:ParameterSet></ssd:ParameterValues>{mapped}"
        "</ssd:ParameterBinding>"
    )


def bindings(*items: str) -> str:
    return f"<ssd:ParameterBindings>{''.join(items)}</ssd:ParameterBindings>"


def component(name: str, source: str, inner: str = "", connectors: str = "") -> str:
    c = f"<ssd:Connectors>{connectors}</ssd:Connectors>" if connectors else ""
    return f'<ssd:Component name="{name}" source="{source}">{c}{inner}</ssd:Component>'


def connector(name: str, kind: str, unit: str | None = None, type_: str = "Real") -> str:
    u = f' unit="{unit}"' if unit else ""
    return f'<ssd:Connector name="{name}" kind="{kind}"><ssc:{type_}{u}/></ssd:Connector>'


def connection(start: str, end: str, inner: str = "") -> str:
    """start/end: "elem.connector" or ".connector" (the system's own)."""
    se, sc = start.split(".", 1)
    ee, ec = end.split(".", 1)
    s = f'startElement="{se}" ' if se else ""
    e = f'endElement="{ee}" ' if ee else ""
    return f'<ssd:Connection {s}startConnector="{sc}" {e}endConnector="{ec}">{inner}</ssd:Connection>'


def system(name: str, elements: str, connections: str = "", connectors: str = "", inner: str = "",
           annotations: str = "") -> str:  # fmt: skip
    """An ssd:System (element order as the schema wants: connectors, bindings, elements, connections, ...)."""
    c = f"<ssd:Connectors>{connectors}</ssd:Connectors>" if connectors else ""
    conns = f"<ssd:Connections>{connections}</ssd:Connections>" if connections else ""
    return (
        f'<ssd:System name="{name}">{c}{inner}<ssd:Elements>{elements}</ssd:Elements>{conns}{annotations}</ssd:System>'
    )


def write_ssp(path: Path, ssd_text: str, files: dict[str, bytes | str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("SystemStructure.ssd", ssd_text)
        for name, data in (files or {}).items():
            z.writestr(name, data)
    return path


DESCRIBED_MD = """<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="2.0" modelName="Described" guid="{00000000-0000-0000-0000-00000000d001}"
  variableNamingConvention="structured" numberOfEventIndicators="0">
  <CoSimulation modelIdentifier="Described" canHandleVariableCommunicationStepSize="true"/>
  <UnitDefinitions>
    <Unit name="K"><BaseUnit K="1"/></Unit>
    <Unit name="s"><BaseUnit s="1"/></Unit>
  </UnitDefinitions>
  <TypeDefinitions>
    <SimpleType name="Mode"><Enumeration>
      <Item name="off" value="1"/><Item name="slow" value="2"/><Item name="fast" value="3"/>
    </Enumeration></SimpleType>
  </TypeDefinitions>
  <DefaultExperiment startTime="0" stopTime="10" stepSize="{step}"/>
  <ModelVariables>
    <ScalarVariable name="u" valueReference="0" causality="input" variability="continuous"><Real start="0" unit="K"/></ScalarVariable>
    <ScalarVariable name="y" valueReference="1" causality="output" variability="continuous" initial="calculated"><Real unit="K"/></ScalarVariable>
    <ScalarVariable name="k" valueReference="2" causality="parameter" variability="tunable" initial="exact"><Real start="1"/></ScalarVariable>
    <ScalarVariable name="T" valueReference="3" causality="parameter" variability="fixed" initial="exact"><Real start="1" unit="s"/></ScalarVariable>
    <ScalarVariable name="x0" valueReference="4" causality="parameter" variability="fixed" initial="exact"><Real start="0" unit="K"/></ScalarVariable>
    <ScalarVariable name="mode" valueReference="5" causality="parameter" variability="fixed" initial="exact"><Enumeration declaredType="Mode" start="1"/></ScalarVariable>
    <ScalarVariable name="n" valueReference="6" causality="parameter" variability="fixed" initial="exact"><Integer start="1"/></ScalarVariable>
    <ScalarVariable name="on" valueReference="7" causality="parameter" variability="fixed" initial="exact"><Boolean start="false"/></ScalarVariable>
    <ScalarVariable name="label" valueReference="8" causality="parameter" variability="fixed" initial="exact"><String start="a"/></ScalarVariable>
    <ScalarVariable name="sub.gain" valueReference="9" causality="parameter" variability="fixed" initial="exact"><Real start="1"/></ScalarVariable>
    <ScalarVariable name="z" valueReference="10" causality="output" variability="continuous" initial="calculated"><Real/></ScalarVariable>
  </ModelVariables>
  <ModelStructure>
    <Outputs><Unknown index="2"/><Unknown index="11"/></Outputs>
    <InitialUnknowns><Unknown index="2"/><Unknown index="11"/></InitialUnknowns>
  </ModelStructure>
</fmiModelDescription>
"""


def describe_only_fmu(step: float = 0.01) -> bytes:
    """An FMU (as bytes) with a modelDescription.xml only: u, y (K), parameters k, T (s), x0 (K), mode
    (enumeration off/slow/fast = 1/2/3), n, on, label, sub.gain, and a calculated output z."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("modelDescription.xml", DESCRIBED_MD.replace("{step}", repr(step)))
    return buffer.getvalue()
