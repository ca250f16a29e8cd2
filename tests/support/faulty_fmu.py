"""Build the Faulty FMU (faulty_fmu.c): an FMI 2.0 Co-Simulation FMU that fails fmi2SetReal, fmi2GetReal or
fmi2DoStep once, on demand, so the master's failure paths (Python, compiled, lean) can be compared.

x' = u, y = x + w (y depends directly on w: a feedthrough slave). Parameters: fail_call (FAIL_CALLS: 1 fmi2SetReal,
2 fmi2GetReal, 3 fmi2DoStep, 4 fmi2SetRealInputDerivatives, taken with canInterpolateInputs), fail_time (s), fail_skip (matching calls let pass first), fail_status (2 Discard,
3 Error, 4 Fatal). Compiled and packed with the exporter's build functions, like lti_fmu.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.export.build import CUnit, compile_library, fmi2_header_paths, fmi_platform, package_fmu

HERE = Path(__file__).resolve().parent
#: fail_call's values, by the FMI call they make fail
FAIL_CALLS = {"fmi2SetReal": 1, "fmi2GetReal": 2, "fmi2DoStep": 3, "fmi2SetRealInputDerivatives": 4}


def _real(name: str, vr: int, causality: str, start: str | None, text: str) -> str:
    variability = "fixed" if causality == "parameter" else "continuous"
    initial = ' initial="exact"' if causality == "parameter" else ""
    start_attr = f' start="{start}"' if start is not None else ""
    return (f'    <ScalarVariable name="{name}" valueReference="{vr}" causality="{causality}" '
            f'variability="{variability}"{initial} description="{text}"><Real{start_attr}/></ScalarVariable>\n')  # fmt: skip


MODEL_DESCRIPTION = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<fmiModelDescription fmiVersion="2.0" modelName="Faulty" guid="{5f0c7d2e-61a4-4c1b-9d4e-faa17f0c0001}" '
    'generationTool="o2twin tests (hand-written)" variableNamingConvention="flat" numberOfEventIndicators="0">\n'
    '  <CoSimulation modelIdentifier="Faulty" canHandleVariableCommunicationStepSize="true" '
    'canInterpolateInputs="true"/>\n'
    "  <ModelVariables>\n"
    + _real("u", 0, "input", "0", "rate of the state")
    + _real("w", 1, "input", "0", "added to the output directly")
    + '    <ScalarVariable name="y" valueReference="2" causality="output" variability="continuous" '
    'initial="calculated" description="x + w"><Real/></ScalarVariable>\n'
    + _real(
        "fail_call", 3, "parameter", "0", "0 none, 1 fmi2SetReal, 2 fmi2GetReal, 3 fmi2DoStep, 4 its input derivatives"
    )
    + _real("fail_time", 4, "parameter", "1e300", "the call fails once the FMU's time reached this")
    + _real("fail_skip", 5, "parameter", "0", "matching calls let pass before the failing one")
    + _real("fail_status", 6, "parameter", "3", "2 fmi2Discard, 3 fmi2Error, 4 fmi2Fatal")
    + "  </ModelVariables>\n"
    '  <ModelStructure>\n    <Outputs><Unknown index="3" dependencies="2"/></Outputs>\n'
    '    <InitialUnknowns><Unknown index="3" dependencies="2"/></InitialUnknowns>\n  </ModelStructure>\n'
    "</fmiModelDescription>\n"
)


def build_faulty_fmu(out_dir: Path) -> Path:
    """Compile faulty_fmu.c and pack out_dir/Faulty.fmu (skips the test when no C compiler is found)."""
    if not (shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")):
        pytest.skip("no C compiler (gcc/cc) on PATH to build the test FMU")
    work = out_dir / "faulty_build"
    binary = work / "binaries" / fmi_platform() / "Faulty.so"
    binary.parent.mkdir(parents=True, exist_ok=True)
    (work / "modelDescription.xml").write_text(MODEL_DESCRIPTION)
    compile_library([CUnit("faulty_fmu.c", "-O1")], HERE, binary, include_dirs=[fmi2_header_paths()[0].parent])
    return package_fmu(work, out_dir / "Faulty.fmu")
