"""Build small linear state-space FMUs (FMI 2.0, ME + CS) from lti_fmu.c, for the orchestrator tests.

They stand in for third-party FMUs: hand-written C, not our exporter, with switchable capabilities (no CS, no ME,
no rollback, no directional derivatives, input interpolation) so the master is shown not to rely on extras. The C
is compiled and the FMU zipped with the exporter's own build functions (orchestrator.export.build).
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from orchestrator.export.build import CUnit, compile_library, fmi2_header_paths, fmi_platform, package_fmu

HERE = Path(__file__).resolve().parent


def gcc_available() -> bool:
    return shutil.which("gcc") is not None


def _compile(
    build_dir: Path, binary: Path, nx: int, nu: int, ny: int, x0: list[float], p0: list[float], bounce: float | None
) -> None:
    (build_dir / "lti_start.h").write_text(
        f"static const double START_X[{nx + 1}] = {{{', '.join(map(repr, [*x0, 0.0]))}}};\n"
        f"static const double START_P[{len(p0)}] = {{{', '.join(map(repr, p0))}}};\n"
    )
    defines = {"NX": str(nx), "NU": str(nu), "NY": str(ny)}
    if bounce is not None:
        defines["BOUNCE"] = repr(bounce)
    headers = fmi2_header_paths()[0].parent
    compile_library([CUnit("lti_fmu.c", "-O2")], HERE, binary, include_dirs=[headers, build_dir], defines=defines)


def build_lti_fmu(
    out_dir: Path,
    identifier: str,
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
    D: Sequence[Sequence[float]],
    states: Sequence[str],
    inputs: Sequence[str],
    outputs: Sequence[str],
    x_start: Sequence[float],
    units: dict[str, str] | None = None,
    *,
    cs: bool = True,
    me: bool = True,
    can_rollback: bool = True,
    directional: bool = True,
    interpolate_inputs: bool = False,
    h_int: float = 1e-3,
    bounce: float | None = None,
) -> Path:
    """Write ``out_dir/identifier.fmu`` for der(x) = A x + B u, y = C x + D u and return its path."""
    A, B, C, D = (np.atleast_2d(np.asarray(M, dtype=float)) for M in (A, B, C, D))
    nx, nu, ny = len(states), len(inputs), len(outputs)
    A = A.reshape(nx, nx)
    B = B.reshape(nx, nu)
    C = C.reshape(ny, nx)
    D = D.reshape(ny, nu)
    units = units or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    build = out_dir / f"build_{identifier}"
    binary = build / "fmu" / "binaries" / fmi_platform() / f"{identifier}.so"
    binary.parent.mkdir(parents=True, exist_ok=True)

    rows: list[str] = []  # ScalarVariable elements, value reference = position
    index: dict[str, int] = {}

    def var(name: str, causality: str, variability: str, extra: str, inner: str) -> None:
        vr = len(rows)
        index[name] = vr + 1  # 1-based index for ModelStructure
        unit = f" unit={quoteattr(units[name])}" if name in units else ""
        rows.append(
            f'    <ScalarVariable name={quoteattr(name)} valueReference="{vr}" causality="{causality}" '
            f'variability="{variability}"{extra}>\n      <Real{unit}{inner}/>\n    </ScalarVariable>'
        )

    for name, x0 in zip(states, x_start, strict=True):
        var(name, "local", "continuous", ' initial="exact"', f' start="{x0!r}"')
    for i, name in enumerate(states):
        var(f"der({name})", "local", "continuous", ' initial="calculated"', f' derivative="{i + 1}"')
    for name in inputs:
        var(name, "input", "continuous", "", ' start="0.0"')
    for name in outputs:
        var(name, "output", "continuous", ' initial="calculated"', "")
    params: list[tuple[str, float]] = []
    for label, M in (("A", A), ("B", B), ("C", C), ("D", D)):
        for i in range(M.shape[0]):
            for j in range(M.shape[1]):
                params.append((f"{label}[{i + 1},{j + 1}]", float(M[i, j])))
    params += [("fail_time", -1.0), ("fail_status", 3.0), ("h_int", h_int), ("max_h", -1.0)]
    _compile(build, binary, nx, nu, ny, [float(v) for v in x_start], [v for _, v in params], bounce)
    for name, value in params:
        variability = "tunable" if name.startswith("fail") or name == "max_h" else "fixed"
        var(name, "parameter", variability, ' initial="exact"', f' start="{value!r}"')

    def deps(i_row: int, M_x: np.ndarray, M_u: np.ndarray) -> str:
        dep = [index[s] for j, s in enumerate(states) if M_x[i_row, j] != 0]
        dep += [index[u] for k, u in enumerate(inputs) if M_u[i_row, k] != 0]
        return " ".join(map(str, sorted(dep)))

    out_unknowns = "\n".join(
        f'      <Unknown index="{index[y]}" dependencies="{deps(i, C, D)}"/>' for i, y in enumerate(outputs)
    )
    der_unknowns = "\n".join(
        f'      <Unknown index="{index[f"der({s})"]}" dependencies="{deps(i, A, B)}"/>' for i, s in enumerate(states)
    )
    init_unknowns = "\n".join(
        f'      <Unknown index="{index[n]}"/>'
        for n in sorted([*outputs, *(f"der({s})" for s in states)], key=index.get)
    )
    flags = (
        f'canGetAndSetFMUstate="{str(can_rollback).lower()}" canSerializeFMUstate="{str(can_rollback).lower()}" '
        f'providesDirectionalDerivative="{str(directional).lower()}"'
    )
    cs_xml = (
        f'  <CoSimulation modelIdentifier="{identifier}" canHandleVariableCommunicationStepSize="true" '
        f'canInterpolateInputs="{str(interpolate_inputs).lower()}" maxOutputDerivativeOrder="0" {flags}/>\n'
        if cs
        else ""
    )
    me_xml = f'  <ModelExchange modelIdentifier="{identifier}" {flags}/>\n' if me else ""
    used_units = sorted(set(units.values()))
    unit_xml = (
        "  <UnitDefinitions>\n"
        + "".join(f"    <Unit name={quoteattr(u)}/>\n" for u in used_units)
        + "  </UnitDefinitions>\n"
        if used_units
        else ""
    )
    guid = "{" + str(uuid.UUID(hashlib.md5(f"{identifier}{A}{B}{C}{D}".encode()).hexdigest())) + "}"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<fmiModelDescription fmiVersion="2.0" modelName="{identifier}" guid="{guid}" '
        f'generationTool="o2twin tests lti_fmu" numberOfEventIndicators="{0 if bounce is None else 1}">\n'
        f"{me_xml}{cs_xml}{unit_xml}"
        "  <ModelVariables>\n" + "\n".join(rows) + "\n  </ModelVariables>\n"
        "  <ModelStructure>\n"
        + (f"    <Outputs>\n{out_unknowns}\n    </Outputs>\n" if outputs else "")
        + (f"    <Derivatives>\n{der_unknowns}\n    </Derivatives>\n" if states else "")
        + f"    <InitialUnknowns>\n{init_unknowns}\n    </InitialUnknowns>\n"
        "  </ModelStructure>\n</fmiModelDescription>\n"
    )
    (build / "fmu" / "modelDescription.xml").write_text(xml)
    return package_fmu(build / "fmu", out_dir / f"{identifier}.fmu")
