/* A hand-written FMI 2.0 Co-Simulation FMU that fails one FMI call on demand, for the master's failure tests
 * (tests/support/faulty_fmu.py builds it). Model: x' = u (stepped exactly, u held), y = x + w: y depends directly on
 * the input w (feedthrough), on u only through the state.
 *
 * Value references: 0 u, 1 w (inputs), 2 y (output), then the parameters 3 fail_call (0 none, 1 fmi2SetReal,
 * 2 fmi2GetReal, 3 fmi2DoStep, 4 fmi2SetRealInputDerivatives), 4 fail_time, 5 fail_skip, 6 fail_status (2 Discard,
 * 3 Error, 4 Fatal). Input derivatives are accepted and ignored (the model holds its inputs over a step).
 * The selected call fails once: the first of its calls made while the FMU's time (the start time, then the end of
 * its last step) has reached fail_time, after fail_skip such calls passed. A failing fmi2GetReal fills its values
 * with NaN (a master that used them would show it); a failing fmi2SetReal stores nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"

enum { U, W, Y, FAIL_CALL, FAIL_TIME, FAIL_SKIP, FAIL_STATUS, NVR };

typedef struct {
    fmi2CallbackFunctions cb;
    char name[64];
    double v[NVR];
    double x, t;
    int seen, failed; /* matching calls so far; whether the failure happened */
} Faulty;

/* Whether this call (1 set, 2 get, 3 step, 4 input derivatives) is the one to fail; logs the failure (a message without the call's name:
 * the master must name it). */
static int fails(Faulty *m, int call) {
    if (m->failed || (int)m->v[FAIL_CALL] != call || m->t + 1e-9 < m->v[FAIL_TIME]) return 0;
    if (m->seen++ < (int)m->v[FAIL_SKIP]) return 0;
    m->failed = 1;
    if (m->cb.logger) {
        m->cb.logger(m->cb.componentEnvironment, m->name, (fmi2Status)m->v[FAIL_STATUS], "faulty",
                     "injected failure at t = %g", m->t);
    }
    return 1;
}

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                              const fmi2CallbackFunctions *cb, fmi2Boolean visible, fmi2Boolean logging) {
    if (type != fmi2CoSimulation) return NULL;
    Faulty *m = (Faulty *)calloc(1, sizeof(Faulty));
    if (!m) return NULL;
    m->cb = *cb;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->v[FAIL_TIME] = INFINITY;
    m->v[FAIL_STATUS] = fmi2Error;
    return m;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Real value[]) {
    Faulty *m = (Faulty *)c;
    if (fails(m, 1)) return (fmi2Status)m->v[FAIL_STATUS];
    for (size_t i = 0; i < n; i++) {
        if (vr[i] >= NVR || vr[i] == Y) return fmi2Error;
        m->v[vr[i]] = value[i];
    }
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real value[]) {
    Faulty *m = (Faulty *)c;
    int failing = fails(m, 2);
    m->v[Y] = m->x + m->v[W];
    for (size_t i = 0; i < n; i++) {
        if (vr[i] >= NVR) return fmi2Error;
        value[i] = failing ? NAN : m->v[vr[i]];
    }
    return failing ? (fmi2Status)m->v[FAIL_STATUS] : fmi2OK;
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean no_set_prior) {
    Faulty *m = (Faulty *)c;
    if (fails(m, 3)) return (fmi2Status)m->v[FAIL_STATUS];
    m->x += h * m->v[U];
    m->t = t + h;
    return fmi2OK;
}

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    Faulty *m = (Faulty *)c;
    return fails(m, 4) ? (fmi2Status)m->v[FAIL_STATUS] : fmi2OK;
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean tol_defined, fmi2Real tol, fmi2Real t0,
                               fmi2Boolean stop_defined, fmi2Real stop) {
    ((Faulty *)c)->t = t0;
    return fmi2OK;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    *value = fmi2False; /* fmi2Terminated: a discarded step is a plain discard */
    return s == fmi2Terminated ? fmi2OK : fmi2Discard;
}

void fmi2FreeInstance(fmi2Component c) { free(c); }
const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }
fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on, size_t n, const fmi2String cat[]) { return fmi2OK; }
fmi2Status fmi2EnterInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Terminate(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Reset(fmi2Component c) { return fmi2Error; }

/* Nothing else is declared in modelDescription.xml: the other calls refuse. */
#define REFUSE(name, ...) fmi2Status name(__VA_ARGS__) { return fmi2Error; }
REFUSE(fmi2GetInteger, fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[])
REFUSE(fmi2SetInteger, fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Integer v[])
REFUSE(fmi2GetBoolean, fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[])
REFUSE(fmi2SetBoolean, fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Boolean v[])
REFUSE(fmi2GetString, fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2String v[])
REFUSE(fmi2SetString, fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2String v[])
REFUSE(fmi2GetFMUstate, fmi2Component c, fmi2FMUstate *s)
REFUSE(fmi2SetFMUstate, fmi2Component c, fmi2FMUstate s)
REFUSE(fmi2FreeFMUstate, fmi2Component c, fmi2FMUstate *s)
REFUSE(fmi2SerializedFMUstateSize, fmi2Component c, fmi2FMUstate s, size_t *n)
REFUSE(fmi2SerializeFMUstate, fmi2Component c, fmi2FMUstate s, fmi2Byte b[], size_t n)
REFUSE(fmi2DeSerializeFMUstate, fmi2Component c, const fmi2Byte b[], size_t n, fmi2FMUstate *s)
REFUSE(fmi2GetDirectionalDerivative, fmi2Component c, const fmi2ValueReference u[], size_t nu,
       const fmi2ValueReference z[], size_t nz, const fmi2Real dz[], fmi2Real dv[])
REFUSE(fmi2GetRealOutputDerivatives, fmi2Component c, const fmi2ValueReference vr[], size_t n,
       const fmi2Integer order[], fmi2Real value[])
REFUSE(fmi2CancelStep, fmi2Component c)
REFUSE(fmi2GetStatus, fmi2Component c, const fmi2StatusKind s, fmi2Status *v)
REFUSE(fmi2GetRealStatus, fmi2Component c, const fmi2StatusKind s, fmi2Real *v)
REFUSE(fmi2GetIntegerStatus, fmi2Component c, const fmi2StatusKind s, fmi2Integer *v)
REFUSE(fmi2GetStringStatus, fmi2Component c, const fmi2StatusKind s, fmi2String *v)
