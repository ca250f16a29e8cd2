"""A small hand-written FMI 2.0 Co-Simulation FMU (C, compiled with the exporter's build functions) for the I/O tests.

It is deliberately not made by our exporter: a third-party-style FMU with only Co-Simulation, no state
get/set, and an injectable failure. Model "Lag": x' = (k*u - x)/T, y = x, stepped exactly (u held over a step).
Parameter fail_time: a doStep ending after it returns fmi2Error (fmi2Discard with discard = 1) with a logged
message (a failing FMU mid-run).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.export.build import CUnit, compile_library, fmi2_header_paths, fmi_platform, package_fmu

C_SOURCE = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fmi2Functions.h"

typedef struct {
    const fmi2CallbackFunctions *cb;
    fmi2String name;
    double v[7];  /* 0 u, 1 y, 2 k, 3 T, 4 fail_time, 5 x0, 6 discard */
    double t;
} Lag;

static fmi2Status fail_with(Lag *m, fmi2Status status, const char *msg) {
    if (m && m->cb && m->cb->logger) m->cb->logger(m->cb->componentEnvironment, m->name, status, "error", msg);
    return status;
}
static fmi2Status fail(Lag *m, const char *msg) { return fail_with(m, fmi2Error, msg); }

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }
fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on, size_t n, const fmi2String cat[]) { return fmi2OK; }

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                              const fmi2CallbackFunctions *cb, fmi2Boolean visible, fmi2Boolean logging) {
    if (type != fmi2CoSimulation || strcmp(guid, "{8c4e810f-3df3-4a00-8276-176fa3c9f000}") != 0) return NULL;
    Lag *m = (Lag *)calloc(1, sizeof(Lag));
    m->cb = cb;
    m->name = name;
    m->v[2] = 1.0; m->v[3] = 1.0; m->v[4] = 1e300; m->v[5] = 0.0;
    return m;
}
void fmi2FreeInstance(fmi2Component c) { free(c); }
fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean tolDef, fmi2Real tol, fmi2Real t0, fmi2Boolean stopDef,
                               fmi2Real stop) { ((Lag *)c)->t = t0; return fmi2OK; }
fmi2Status fmi2EnterInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    Lag *m = (Lag *)c;
    if (!(m->v[3] > 0)) return fail(m, "T must be > 0");
    m->v[1] = m->v[5];
    return fmi2OK;
}
fmi2Status fmi2Terminate(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Reset(fmi2Component c) { return fmi2Error; }

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real value[]) {
    Lag *m = (Lag *)c;
    for (size_t i = 0; i < n; i++) { if (vr[i] > 6) return fail(m, "bad value reference"); value[i] = m->v[vr[i]]; }
    return fmi2OK;
}
fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Real value[]) {
    Lag *m = (Lag *)c;
    for (size_t i = 0; i < n; i++) {
        if (vr[i] > 6 || vr[i] == 1) return fail(m, "cannot set that variable");
        m->v[vr[i]] = value[i];
    }
    return fmi2OK;
}
fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Integer v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Boolean v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2String v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2String v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate s) { return fmi2Error; }
fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s, size_t *n) { return fmi2Error; }
fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s, fmi2Byte b[], size_t n) { return fmi2Error; }
fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte b[], size_t n, fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference u[], size_t nu,
    const fmi2ValueReference z[], size_t nz, const fmi2Real dz[], fmi2Real dv[]) { return fmi2Error; }
fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
    const fmi2Integer order[], const fmi2Real value[]) { return fmi2Error; }
fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
    const fmi2Integer order[], fmi2Real value[]) { return fmi2Error; }

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean noSetPrior) {
    Lag *m = (Lag *)c;
    if (t + h > m->v[4] + 1e-12) {
        char msg[128];
        snprintf(msg, sizeof msg, "injected failure: step to t=%g passes fail_time=%g", t + h, m->v[4]);
        return fail_with(m, m->v[6] != 0.0 ? fmi2Discard : fmi2Error, msg);
    }
    double target = m->v[2] * m->v[0];
    m->v[1] = target + (m->v[1] - target) * exp(-h / m->v[3]);
    m->t = t + h;
    return fmi2OK;
}
fmi2Status fmi2CancelStep(fmi2Component c) { return fmi2Error; }
fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v) { return fmi2Error; }
fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *v) {
    if (s == fmi2LastSuccessfulTime) { *v = ((Lag *)c)->t; return fmi2OK; }
    return fmi2Error;
}
fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v) { return fmi2Error; }
fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v) { return fmi2Error; }
fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v) { return fmi2Error; }
"""

MODEL_DESCRIPTION = """<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="2.0" modelName="Lag" guid="{8c4e810f-3df3-4a00-8276-176fa3c9f000}"
  generationTool="o2twin tests (hand-written)" variableNamingConvention="flat" numberOfEventIndicators="0">
  <CoSimulation modelIdentifier="Lag" canHandleVariableCommunicationStepSize="true"/>
  <UnitDefinitions>
    <Unit name="K"><BaseUnit K="1"/></Unit>
    <Unit name="s"><BaseUnit s="1"/></Unit>
  </UnitDefinitions>
  <DefaultExperiment startTime="0" stopTime="10" stepSize="0.1"/>
  <ModelVariables>
    <ScalarVariable name="u" valueReference="0" causality="input" variability="continuous" description="input">
      <Real start="0" unit="{input_unit}"/></ScalarVariable>
    <ScalarVariable name="y" valueReference="1" causality="output" variability="continuous" initial="calculated"
      description="lagged output"><Real unit="K"/></ScalarVariable>
    <ScalarVariable name="k" valueReference="2" causality="parameter" variability="tunable" initial="exact"
      description="gain"><Real start="1"/></ScalarVariable>
    <ScalarVariable name="T" valueReference="3" causality="parameter" variability="fixed" initial="exact"
      description="time constant"><Real start="1" unit="s"/></ScalarVariable>
    <ScalarVariable name="fail_time" valueReference="4" causality="parameter" variability="fixed" initial="exact"
      description="doStep fails beyond this time"><Real start="1e300" unit="s"/></ScalarVariable>
    <ScalarVariable name="x0" valueReference="5" causality="parameter" variability="fixed" initial="exact"
      description="initial output"><Real start="0" unit="K"/></ScalarVariable>
    <ScalarVariable name="discard" valueReference="6" causality="parameter" variability="fixed" initial="exact"
      description="1: the injected failure returns fmi2Discard instead of fmi2Error"><Real start="0"/></ScalarVariable>
  </ModelVariables>
  <ModelStructure>
    <Outputs><Unknown index="2" dependencies=""/></Outputs>
    <InitialUnknowns><Unknown index="2" dependencies="6"/></InitialUnknowns>
  </ModelStructure>
</fmiModelDescription>
"""


def build_lag_fmu(out_dir: Path, input_unit: str = "K", file_name: str = "Lag.fmu") -> Path:
    """Compile the Lag FMU into out_dir/file_name (skips the test when no C compiler is found); input_unit is the
    unit the input u declares (the output y is in K)."""
    if not (shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")):
        pytest.skip("no C compiler (gcc/cc) on PATH to build the test FMU")
    work = out_dir / "lag_build"
    source_dir = out_dir / "lag_source"  # not shipped in the FMU: a binary-only FMU, like many third-party ones
    source_dir.mkdir(parents=True, exist_ok=True)
    (source_dir / "lag.c").write_text(C_SOURCE)
    binary = work / "binaries" / fmi_platform() / "Lag.so"
    binary.parent.mkdir(parents=True, exist_ok=True)
    (work / "modelDescription.xml").write_text(MODEL_DESCRIPTION.replace("{input_unit}", input_unit))
    compile_library([CUnit("lag.c", "-O1")], source_dir, binary, include_dirs=[fmi2_header_paths()[0].parent])
    return package_fmu(work, out_dir / file_name)
