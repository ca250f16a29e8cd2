/* A linear time-invariant FMI 2.0 FMU (Model Exchange + Co-Simulation in one binary), written by hand for the
 * orchestrator's tests so that they do not depend on the project's exporter:
 *
 *     der(x) = A x + B u(t),   y = C x + D u(t)
 *
 * with u(t) = u + du * (t - t_step) when the master sets first-order input derivatives. Co-Simulation integrates
 * with classical RK4 on sub-steps of at most h_int. NX, NU, NY are compile-time sizes (-DNX=2 ...).
 * Value references: x 0..NX-1, der(x) NX..2NX-1, u, y, then parameters A, B, C, D (row-major), fail_time,
 * fail_status, h_int, max_h. max_h > 0 makes fmi2DoStep discard (fmi2Discard) steps longer than max_h. fail_time >= 0 makes fmi2DoStep return fail_status (2 Discard, 3 Error) for a step that
 * would pass it (a failing FMU for the tests). With -DBOUNCE=e (Model Exchange only) x[0] is an event indicator
 * and the velocity x[1] is reversed and scaled by e when x[0] reaches 0 (a bouncing ball: a state event).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"
#include "lti_start.h" /* generated: static const double START_X[NX + 1], START_P[] */

#define VR_X 0
#define VR_DX (VR_X + NX)
#define VR_U (VR_DX + NX)
#define VR_Y (VR_U + NU)
#define VR_A (VR_Y + NY)
#define VR_B (VR_A + NX * NX)
#define VR_C (VR_B + NX * NU)
#define VR_D (VR_C + NY * NX)
#define VR_FAIL_TIME (VR_D + NY * NU)
#define VR_FAIL_STATUS (VR_FAIL_TIME + 1)
#define VR_H_INT (VR_FAIL_STATUS + 1)
#define VR_MAX_H (VR_H_INT + 1)
#define NVR (VR_MAX_H + 1)
#define NP (NVR - VR_A)

typedef struct {
    double time;
    double t_step; /* start of the current step (input derivatives are relative to it) */
    double x[NX + 1];
    double u[NU + 1];
    double du[NU + 1];
    double p[NP];
} State;

typedef struct {
    State s;
    fmi2CallbackFunctions cb;
    char name[128];
    int is_cs;
} Instance;

#define P(inst, vr) ((inst)->s.p[(vr)-VR_A])

static void logmsg(Instance *inst, fmi2Status status, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (inst->cb.logger) inst->cb.logger(inst->cb.componentEnvironment, inst->name, status, "lti", "%s", buf);
}

static void input_at(const Instance *inst, double t, double *u) {
    for (int k = 0; k < NU; k++) u[k] = inst->s.u[k] + inst->s.du[k] * (t - inst->s.t_step);
}

static void rhs(const Instance *inst, double t, const double *x, double *dx) {
    double u[NU + 1];
    input_at(inst, t, u);
    for (int i = 0; i < NX; i++) {
        double acc = 0.0;
        for (int j = 0; j < NX; j++) acc += inst->s.p[VR_A - VR_A + i * NX + j] * x[j];
        for (int k = 0; k < NU; k++) acc += inst->s.p[VR_B - VR_A + i * NU + k] * u[k];
        dx[i] = acc;
    }
}

static double output(const Instance *inst, int i) {
    double acc = 0.0;
    for (int j = 0; j < NX; j++) acc += inst->s.p[VR_C - VR_A + i * NX + j] * inst->s.x[j];
    for (int k = 0; k < NU; k++) acc += inst->s.p[VR_D - VR_A + i * NU + k] * inst->s.u[k];
    return acc;
}

/* ---------------------------------------------------------------- common */
const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }
fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on, size_t n, const fmi2String cat[]) { return fmi2OK; }

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                              const fmi2CallbackFunctions *cb, fmi2Boolean visible, fmi2Boolean logging) {
    Instance *inst = (Instance *)calloc(1, sizeof(Instance));
    if (!inst) return NULL;
    inst->cb = *cb;
    strncpy(inst->name, name ? name : "lti", sizeof inst->name - 1);
    inst->is_cs = type == fmi2CoSimulation;
    for (int i = 0; i < NX; i++) inst->s.x[i] = START_X[i];
    for (int i = 0; i < NP; i++) inst->s.p[i] = START_P[i];
    return inst;
}

void fmi2FreeInstance(fmi2Component c) { free(c); }
fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean tolDef, fmi2Real tol, fmi2Real t0, fmi2Boolean stopDef,
                               fmi2Real stop) {
    Instance *inst = (Instance *)c;
    inst->s.time = t0;
    inst->s.t_step = t0;
    return fmi2OK;
}
fmi2Status fmi2EnterInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Terminate(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Reset(fmi2Component c) { return fmi2Error; }

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Real value[]) {
    Instance *inst = (Instance *)c;
    double dx[NX + 1];
    int have_dx = 0;
    for (size_t k = 0; k < nvr; k++) {
        unsigned r = vr[k];
        if (r < VR_DX) value[k] = inst->s.x[r - VR_X];
        else if (r < VR_U) {
            if (!have_dx) { rhs(inst, inst->s.time, inst->s.x, dx); have_dx = 1; }
            value[k] = dx[r - VR_DX];
        } else if (r < VR_Y) value[k] = inst->s.u[r - VR_U];
        else if (r < VR_A) value[k] = output(inst, r - VR_Y);
        else if (r < NVR) value[k] = inst->s.p[r - VR_A];
        else { logmsg(inst, fmi2Error, "fmi2GetReal: unknown value reference %u", r); return fmi2Error; }
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Real value[]) {
    Instance *inst = (Instance *)c;
    for (size_t k = 0; k < nvr; k++) {
        unsigned r = vr[k];
        if (r < VR_DX) inst->s.x[r - VR_X] = value[k];
        else if (r < VR_U) { logmsg(inst, fmi2Error, "cannot set a derivative"); return fmi2Error; }
        else if (r < VR_Y) inst->s.u[r - VR_U] = value[k];
        else if (r < VR_A) { logmsg(inst, fmi2Error, "cannot set output %u", r); return fmi2Error; }
        else if (r < NVR) inst->s.p[r - VR_A] = value[k];
        else { logmsg(inst, fmi2Error, "fmi2SetReal: unknown value reference %u", r); return fmi2Error; }
    }
    return fmi2OK;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2String v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Integer v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Boolean v[]) { return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2String v[]) { return n ? fmi2Error : fmi2OK; }

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *state) {
    Instance *inst = (Instance *)c;
    if (!*state) *state = malloc(sizeof(State));
    if (!*state) return fmi2Error;
    memcpy(*state, &inst->s, sizeof(State));
    return fmi2OK;
}
fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate state) {
    Instance *inst = (Instance *)c;
    if (!state) return fmi2Error;
    memcpy(&inst->s, state, sizeof(State));
    return fmi2OK;
}
fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *state) {
    free(*state);
    *state = NULL;
    return fmi2OK;
}
fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s, size_t *size) { *size = sizeof(State); return fmi2OK; }
fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s, fmi2Byte b[], size_t size) {
    if (size < sizeof(State)) return fmi2Error;
    memcpy(b, s, sizeof(State));
    return fmi2OK;
}
fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte b[], size_t size, fmi2FMUstate *s) {
    if (size < sizeof(State)) return fmi2Error;
    if (!*s) *s = malloc(sizeof(State));
    memcpy(*s, b, sizeof(State));
    return fmi2OK;
}

/* d(unknown)/d(known) for the linear model: rows der(x) and y, columns x and u. */
static double coefficient(const Instance *inst, unsigned unknown, unsigned known) {
    int is_x = known < VR_DX, is_u = known >= VR_U && known < VR_Y;
    if (unknown >= VR_DX && unknown < VR_U) {
        int i = unknown - VR_DX;
        if (is_x) return inst->s.p[VR_A - VR_A + i * NX + (known - VR_X)];
        if (is_u) return inst->s.p[VR_B - VR_A + i * NU + (known - VR_U)];
    } else if (unknown >= VR_Y && unknown < VR_A) {
        int i = unknown - VR_Y;
        if (is_x) return inst->s.p[VR_C - VR_A + i * NX + (known - VR_X)];
        if (is_u) return inst->s.p[VR_D - VR_A + i * NU + (known - VR_U)];
    }
    return 0.0;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vu[], size_t nu,
                                        const fmi2ValueReference vk[], size_t nk, const fmi2Real dvk[],
                                        fmi2Real dvu[]) {
    Instance *inst = (Instance *)c;
    for (size_t i = 0; i < nu; i++) {
        double acc = 0.0;
        for (size_t j = 0; j < nk; j++) acc += coefficient(inst, vu[i], vk[j]) * dvk[j];
        dvu[i] = acc;
    }
    return fmi2OK;
}

/* ---------------------------------------------------------- model exchange */
fmi2Status fmi2EnterEventMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *e) {
    e->newDiscreteStatesNeeded = fmi2False;
    e->terminateSimulation = fmi2False;
    e->nominalsOfContinuousStatesChanged = fmi2False;
    e->valuesOfContinuousStatesChanged = fmi2False;
#ifdef BOUNCE
    /* -DBOUNCE: a bouncing ball in Model Exchange; x[0] is the height (the event indicator), x[1] the velocity */
    {
        Instance *inst = (Instance *)c;
        if (inst->s.x[0] <= 0.0 && inst->s.x[1] < 0.0) {
            inst->s.x[0] = 0.0;
            inst->s.x[1] = -BOUNCE * inst->s.x[1];
            e->valuesOfContinuousStatesChanged = fmi2True;
        }
    }
#endif
    e->nextEventTimeDefined = fmi2False;
    e->nextEventTime = 0.0;
    return fmi2OK;
}
fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean noSet, fmi2Boolean *enterEvent, fmi2Boolean *terminate) {
    *enterEvent = fmi2False;
    *terminate = fmi2False;
    return fmi2OK;
}
fmi2Status fmi2SetTime(fmi2Component c, fmi2Real t) { ((Instance *)c)->s.time = t; return fmi2OK; }
fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    memcpy(((Instance *)c)->s.x, x, nx * sizeof(double));
    return fmi2OK;
}
fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real dx[], size_t nx) {
    Instance *inst = (Instance *)c;
    rhs(inst, inst->s.time, inst->s.x, dx);
    return fmi2OK;
}
fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real z[], size_t n) {
#ifdef BOUNCE
    if (n > 0) z[0] = ((Instance *)c)->s.x[0];
#endif
    return fmi2OK;
}
fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    memcpy(x, ((Instance *)c)->s.x, nx * sizeof(double));
    return fmi2OK;
}
fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real xn[], size_t nx) {
    for (size_t i = 0; i < nx; i++) xn[i] = 1.0;
    return fmi2OK;
}

/* ------------------------------------------------------------ co-simulation */
fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    Instance *inst = (Instance *)c;
    for (size_t k = 0; k < n; k++) {
        if (order[k] != 1 || vr[k] < VR_U || vr[k] >= VR_Y) {
            logmsg(inst, fmi2Error, "input derivative of order %d for value reference %u not supported", order[k], vr[k]);
            return fmi2Error;
        }
        inst->s.du[vr[k] - VR_U] = value[k];
    }
    return fmi2OK;
}
fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                        const fmi2Integer order[], fmi2Real value[]) { return fmi2Error; }

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean noSetPrior) {
    Instance *inst = (Instance *)c;
    double fail_time = P(inst, VR_FAIL_TIME);
    if (fail_time >= 0.0 && t + h > fail_time) {
        int status = (int)P(inst, VR_FAIL_STATUS);
        logmsg(inst, (fmi2Status)status, "injected failure in the step from t = %g", t);
        return (fmi2Status)status;
    }
    double max_h = P(inst, VR_MAX_H);
    if (max_h > 0.0 && h > max_h * (1.0 + 1e-12)) {
        logmsg(inst, fmi2Discard, "step %g larger than max_h = %g", h, max_h);
        return fmi2Discard;
    }
    if (fabs(t - inst->s.time) > 1e-9 * (1.0 + fabs(t))) {
        logmsg(inst, fmi2Error, "doStep at t = %g but the FMU is at t = %g", t, inst->s.time);
        return fmi2Error;
    }
    inst->s.t_step = t;
    int n = (int)ceil(h / P(inst, VR_H_INT) - 1e-9);
    if (n < 1) n = 1;
    double dt = h / n, k1[NX + 1], k2[NX + 1], k3[NX + 1], k4[NX + 1], xt[NX + 1];
    double *x = inst->s.x;
    for (int s = 0; s < n; s++) {
        double ts = t + s * dt;
        rhs(inst, ts, x, k1);
        for (int i = 0; i < NX; i++) xt[i] = x[i] + 0.5 * dt * k1[i];
        rhs(inst, ts + 0.5 * dt, xt, k2);
        for (int i = 0; i < NX; i++) xt[i] = x[i] + 0.5 * dt * k2[i];
        rhs(inst, ts + 0.5 * dt, xt, k3);
        for (int i = 0; i < NX; i++) xt[i] = x[i] + dt * k3[i];
        rhs(inst, ts + dt, xt, k4);
        for (int i = 0; i < NX; i++) x[i] += dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
    for (int k = 0; k < NU; k++) {
        inst->s.u[k] += inst->s.du[k] * h; /* inputs move along their derivative to the end of the step */
        inst->s.du[k] = 0.0;
    }
    inst->s.time = t + h;
    inst->s.t_step = t + h;
    return fmi2OK;
}
fmi2Status fmi2CancelStep(fmi2Component c) { return fmi2Error; }
fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v) { return fmi2Discard; }
fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *v) {
    if (s == fmi2LastSuccessfulTime) { *v = ((Instance *)c)->s.time; return fmi2OK; }
    return fmi2Discard;
}
fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v) { return fmi2Discard; }
fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v) { return fmi2Discard; }
fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v) { return fmi2Discard; }
