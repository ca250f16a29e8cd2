/* FMI 2.0 API of the O2 Twin FMU runtime: Model Exchange and Co-Simulation in one binary.
 * Every entry point checks its arguments and the instance's mode and answers a bad call with fmi2Error and a
 * log message instead of crashing. Memory is allocated only in fmi2Instantiate and fmi2GetFMUstate. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "o2_runtime.h"

#define O2_MSG_MAX 1024

/* ---------------------------------------------------------------- logging and helpers */

void o2_log(O2Instance *m, fmi2Status status, const char *category, const char *fmt, ...) {
    if (!m || !m->cb.logger) return;
    if (status < fmi2Warning && !m->logging_on) return;
    char msg[O2_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    m->cb.logger(m->cb.componentEnvironment, m->instance_name ? m->instance_name : "", status, category, msg);
}

void o2_invalidate(O2Instance *m) {
    m->xdot_valid = 0;
    m->v_valid = 0;
}

static const char *mode_name(int mode) {
    static const char *names[] = {"instantiated",     "initialization mode", "event mode", "continuous-time mode",
                                  "step complete",    "terminated",          "error"};
    return (mode >= 0 && mode <= O2_ERROR) ? names[mode] : "unknown";
}

#define M ((O2Instance *)c)
#define ALLOW(fn, mask)                                                                                         \
    do {                                                                                                        \
        if (!c) return fmi2Error;                                                                               \
        if (!((mask) & (1 << M->s.mode))) {                                                                     \
            o2_log(M, fmi2Error, "logError", "%s: not allowed in %s (t=%g)", fn, mode_name(M->s.mode), M->s.t); \
            return fmi2Error;                                                                                   \
        }                                                                                                       \
    } while (0)
#define B(mode) (1 << (mode))
#define ANY_SET (B(O2_INSTANTIATED) | B(O2_INIT_MODE) | B(O2_EVENT_MODE) | B(O2_CONT_TIME_MODE) | B(O2_STEP_COMPLETE))
#define AFTER_INIT_START (B(O2_INIT_MODE) | B(O2_EVENT_MODE) | B(O2_CONT_TIME_MODE) | B(O2_STEP_COMPLETE) | B(O2_TERMINATED) | B(O2_ERROR))
#define ME_RUN (B(O2_EVENT_MODE) | B(O2_CONT_TIME_MODE))

static fmi2Status need_type(O2Instance *m, fmi2Type type, const char *fn) {
    if (m->type != type) {
        o2_log(m, fmi2Error, "logError", "%s: only for %s instances", fn,
               type == fmi2ModelExchange ? "Model Exchange" : "Co-Simulation");
        return fmi2Error;
    }
    return fmi2OK;
}

static fmi2Status fail(O2Instance *m) {
    m->s.mode = O2_ERROR;
    return fmi2Error;
}

/* Initialisation solved, z consistent, caches computed: what any getter needs. */
static int ensure_init(O2Instance *m) {
    if (m->s.init_solved) return 0;
    if (o2_solve_initialisation(m) != 0) return -1;
    m->s.init_solved = 1;
    m->s.z_consistent = 1;
    m->s.started = 0;
    o2_invalidate(m);
    return 0;
}

static int ensure_z(O2Instance *m) {
    if (ensure_init(m) != 0) return -1;
    if (MDL_NZ > 0 && !m->s.z_consistent) {
        if (o2_solve_z(m, m->s.t, m->u) != 0) return -1;
        m->s.z_consistent = 1;
        o2_invalidate(m);
    }
    return 0;
}

static int ensure_xdot(O2Instance *m) {
    if (ensure_z(m) != 0) return -1;
    if (!m->xdot_valid) {
        if (o2_eval_dae(m, m->s.t, m->x, m->z, m->u, m->xdot, m->res) != 0 || !o2_all_finite(m->xdot, MDL_NX)) {
            o2_log(m, fmi2Error, "logError", "the derivatives are not finite at t=%g", m->s.t);
            return -1;
        }
        m->xdot_valid = 1;
    }
    return 0;
}

static int ensure_vars(O2Instance *m) {
    if (ensure_z(m) != 0) return -1;
    if (!m->v_valid) {
        if (o2_eval_vars(m, m->v) != 0) {
            o2_log(m, fmi2Error, "logError", "evaluating the variables failed at t=%g", m->s.t);
            return -1;
        }
        m->v_valid = 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- instantiation
 * All of an instance's memory is one block from the environment's allocateMemory, so that fmi2FreeInstance is one
 * freeMemory and no half-built instance is ever left to clean up. Its size is found by building the instance once
 * in measuring mode (every array allocated on its own, then all released), then the same deterministic set-up runs
 * again inside the block. Only the LU analysis' scratch memory is allocated and released on the way. */

typedef struct {
    const fmi2CallbackFunctions *cb;
    unsigned char *block; /* placing: arrays are carved from here */
    size_t used, size;
    void *chain;          /* measuring: the allocations made so far, linked through a header */
    int failed;
} o2_arena;

#define ARENA_ALIGN 16

static void *cb_calloc(const fmi2CallbackFunctions *cb, size_t nobj, size_t size) {
    return cb->allocateMemory ? cb->allocateMemory(nobj, size) : calloc(nobj, size);
}

static void cb_free(const fmi2CallbackFunctions *cb, void *p) {
    if (cb->freeMemory)
        cb->freeMemory(p);
    else
        free(p);
}

static void *arena_alloc(void *ctx, size_t nobj, size_t size) {
    o2_arena *a = ctx;
    if (nobj == 0) nobj = 1;
    if (a->failed || (size > 0 && nobj > ((size_t)-1 - ARENA_ALIGN) / size)) {
        a->failed = 1;
        return NULL;
    }
    size_t bytes = (nobj * size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (a->block) {
        if (bytes > a->size - a->used) {
            a->failed = 1;
            return NULL;
        }
        void *p = a->block + a->used; /* the block comes zeroed from allocateMemory */
        a->used += bytes;
        return p;
    }
    void **p = cb_calloc(a->cb, 1, ARENA_ALIGN + bytes);
    if (!p) {
        a->failed = 1;
        return NULL;
    }
    *p = a->chain;
    a->chain = p;
    a->used += bytes;
    return (unsigned char *)p + ARENA_ALIGN;
}

static void arena_release_chain(o2_arena *a) {
    while (a->chain) {
        void **p = a->chain;
        a->chain = *p;
        cb_free(a->cb, p);
    }
}

static void reset_values(O2Instance *m) {
    memset(&m->s, 0, sizeof(m->s));
    memset(m->sd, 0, (size_t)m->n_sd * sizeof(double));
    memset(m->x_set, 0, (MDL_NX + 1) * sizeof(int));
    for (int i = 0; i < MDL_NP; i++) m->p[i] = mdl_p_start[i];
    for (int i = 0; i < MDL_NU; i++) m->u[i] = m->u0[i] = mdl_u_start[i];
    m->s.mode = O2_INSTANTIATED;
    m->s.rtol = MDL_REL_TOL;
    m->lu_holds = 0;
    o2_invalidate(m);
}

/* CasADi's generated sparsity is [nrow, ncol, colind[ncol+1], row[nnz]], or [nrow, ncol, 1] for a dense matrix
 * (colind[0] of a CCS pattern is always 0). Dense patterns are expanded into CCS arrays. */
static int ccs_pattern(o2_arena *a, const casadi_int *sp, int ncol, const int **colptr, const int **row) {
    if (sp[2] == 0) {
        *colptr = sp + 2;
        *row = sp + 2 + ncol + 1;
        return 0;
    }
    int nrow = sp[0];
    int *buf = arena_alloc(a, (size_t)ncol + 1 + (size_t)nrow * (size_t)ncol, sizeof(int));
    if (!buf) return -1;
    for (int c = 0; c <= ncol; c++) buf[c] = c * nrow;
    for (int c = 0; c < ncol; c++)
        for (int r = 0; r < nrow; r++) buf[ncol + 1 + c * nrow + r] = r;
    *colptr = buf;
    *row = buf + ncol + 1;
    return 0;
}

/* The pattern of the Newton iteration matrix: J plus the diagonal of the x rows. */
static int setup_iteration_pattern(O2Instance *m, o2_arena *a) {
    int n = m->n;
    m->a_colptr = arena_alloc(a, (size_t)n + 1, sizeof(int));
    m->a_row = arena_alloc(a, (size_t)m->nnz_j + n, sizeof(int));
    m->a_from_j = arena_alloc(a, (size_t)m->nnz_j, sizeof(int));
    m->a_diag = arena_alloc(a, (size_t)MDL_NX, sizeof(int));
    if (a->failed) return -1;
    int q = 0;
    for (int col = 0; col < n; col++) {
        m->a_colptr[col] = q;
        int diag_done = col >= MDL_NX;
        for (int e = m->j_colptr[col]; e < m->j_colptr[col + 1]; e++) {
            int r = m->j_row[e];
            if (!diag_done && r >= col) {
                if (r > col) m->a_row[q++] = col;
                m->a_diag[col] = q - (r > col ? 1 : 0);
                diag_done = 1;
            }
            m->a_from_j[e] = q;
            m->a_row[q++] = r;
        }
        if (!diag_done) {
            m->a_diag[col] = q;
            m->a_row[q++] = col;
        }
    }
    m->a_colptr[n] = q;
    m->nnz_a = q;
    return 0;
}

static int setup_patterns(O2Instance *m, o2_arena *a) {
    int n = m->n;
    if (ccs_pattern(a, mdl_dae_jac_sparsity_out(0), n, &m->j_colptr, &m->j_row) != 0 ||
        ccs_pattern(a, mdl_dae_jac_u_sparsity_out(0), MDL_NU, &m->ju_colptr, &m->ju_row) != 0 ||
        ccs_pattern(a, mdl_init_jac_sparsity_out(0), n, &m->ij_colptr, &m->ij_row) != 0)
        return -1;
    m->nnz_j = m->j_colptr[n];
    m->nnz_ju = m->ju_colptr[MDL_NU];
    m->nnz_ij = m->ij_colptr[n];
    if (setup_iteration_pattern(m, a) != 0) return -1;
    m->a_val = arena_alloc(a, (size_t)m->nnz_a, sizeof(double));
    m->ij_val = arena_alloc(a, (size_t)m->nnz_ij, sizeof(double));
    if (a->failed) return -1;
    o2_splu_memory mem = {arena_alloc, a, m->cb.allocateMemory ? m->cb.allocateMemory : calloc,
                          m->cb.freeMemory ? m->cb.freeMemory : free};
    if (o2_splu_analyse(&m->lu_iter, n, m->a_colptr, m->a_row, &mem) != 0) return -1;
    if (o2_splu_analyse(&m->lu_init, n, m->ij_colptr, m->ij_row, &mem) != 0) return -1;
    m->j_slot = arena_alloc(a, (size_t)m->nnz_j, sizeof(int));
    m->diag_slot = arena_alloc(a, (size_t)MDL_NX, sizeof(int));
    if (a->failed) return -1;
    if (m->lu_iter.in_slot) { /* the iteration matrix's values go straight into the LU's slots */
        for (int e = 0; e < m->nnz_j; e++) m->j_slot[e] = m->lu_iter.in_slot[m->a_from_j[e]];
        for (int i = 0; i < MDL_NX; i++) m->diag_slot[i] = m->lu_iter.in_slot[m->a_diag[i]];
    }
    return 0;
}

/* CasADi work memory, sized for the largest generated function */
static int setup_work(O2Instance *m, o2_arena *a) {
    casadi_int sz_arg = 0, sz_res = 0, sz_iw = 0, sz_w = 0, ar, r, i, w;
    int (*work[])(casadi_int *, casadi_int *, casadi_int *, casadi_int *) = {
        mdl_dae_work, mdl_dae_jac_work, mdl_dae_jac_u_work, mdl_vars_work,
        mdl_vars_fwd_work, mdl_init_guess_work, mdl_init_res_work, mdl_init_jac_work};
    for (size_t k = 0; k < sizeof(work) / sizeof(work[0]); k++) {
        work[k](&ar, &r, &i, &w);
        if (ar > sz_arg) sz_arg = ar;
        if (r > sz_res) sz_res = r;
        if (i > sz_iw) sz_iw = i;
        if (w > sz_w) sz_w = w;
    }
    if (sz_arg < 8) sz_arg = 8;
    if (sz_res < 2) sz_res = 2;
    m->arg = arena_alloc(a, (size_t)sz_arg, sizeof(double *));
    m->res_ptr = arena_alloc(a, (size_t)sz_res, sizeof(double *));
    m->iw = arena_alloc(a, (size_t)sz_iw, sizeof(int));
    m->w = arena_alloc(a, (size_t)sz_w, sizeof(double));
    return a->failed ? -1 : 0;
}

/* The persistent doubles (the state's arrays: x z | u | p | du | u0 | xs | D | J | zmax | uh | duh) and the scratch
 * arrays */
static int setup_arrays(O2Instance *m, o2_arena *a) {
    int n = m->n;
    m->n_sd = n + 5 * MDL_NU + MDL_NP + MDL_NX + O2_BDF_HIST * n + m->nnz_j + MDL_NZ;
    m->sd = arena_alloc(a, (size_t)m->n_sd, sizeof(double));
    m->x_set = arena_alloc(a, (size_t)MDL_NX + 1, sizeof(int));
    m->xdot = arena_alloc(a, (size_t)MDL_NX, sizeof(double));
    m->res = arena_alloc(a, (size_t)MDL_NZ, sizeof(double));
    m->v = arena_alloc(a, (size_t)MDL_NV, sizeof(double));
    double **scratch_n[] = {&m->y_pred, &m->psi, &m->d, &m->f, &m->scale, &m->dy, &m->tmp, &m->tmp2};
    for (size_t k = 0; k < sizeof(scratch_n) / sizeof(scratch_n[0]); k++)
        *scratch_n[k] = arena_alloc(a, (size_t)n, sizeof(double));
    m->dtmp = arena_alloc(a, (size_t)O2_BDF_HIST * n, sizeof(double));
    m->jtmp = arena_alloc(a, (size_t)m->nnz_j, sizeof(double));
    m->jutmp = arena_alloc(a, (size_t)m->nnz_ju, sizeof(double));
    m->u_now = arena_alloc(a, (size_t)MDL_NU, sizeof(double));
    m->dv = arena_alloc(a, (size_t)MDL_NV, sizeof(double));
    m->dxz = arena_alloc(a, (size_t)n + MDL_NU, sizeof(double));
    if (a->failed) return -1;
    double *q = m->sd;
    double **views[] = {&m->x, &m->u, &m->p, &m->du, &m->u0, &m->xs, &m->D, &m->J, &m->zmax, &m->uh, &m->duh};
    int sizes[] = {n, MDL_NU, MDL_NP, MDL_NU, MDL_NU, MDL_NX, O2_BDF_HIST * n, m->nnz_j, MDL_NZ, MDL_NU, MDL_NU};
    for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++) {
        *views[k] = q;
        q += sizes[k];
    }
    m->z = m->x + MDL_NX;
    return 0;
}

/* The instance, built in the arena; NULL when memory runs out or the model is too large for the LU. */
static O2Instance *build_instance(o2_arena *a, fmi2String name, fmi2Type type, int logging_on) {
    O2Instance *m = arena_alloc(a, 1, sizeof(O2Instance));
    char *name_copy = arena_alloc(a, strlen(name) + 1, 1);
    if (!m || !name_copy) return NULL;
    m->cb = *a->cb;
    m->type = type;
    m->logging_on = logging_on;
    m->instance_name = strcpy(name_copy, name);
    m->n = MDL_NX + MDL_NZ;
    if (setup_patterns(m, a) != 0 || setup_work(m, a) != 0 || setup_arrays(m, a) != 0) return NULL;
    reset_values(m);
    return m;
}

static void free_instance(O2Instance *m) {
    fmi2CallbackFunctions cb = m->cb; /* m lives in the block it frees */
    cb_free(&cb, m->block);
}

static int check_instantiate_args(O2Instance *probe, fmi2String instanceName, fmi2Type fmuType, fmi2String guid) {
    if (!instanceName || !instanceName[0]) {
        o2_log(probe, fmi2Error, "logError", "fmi2Instantiate: instanceName must be a non-empty string");
        return -1;
    }
    if (fmuType != fmi2ModelExchange && fmuType != fmi2CoSimulation) {
        o2_log(probe, fmi2Error, "logError", "fmi2Instantiate: unknown fmuType %d", (int)fmuType);
        return -1;
    }
    if (!guid || strcmp(guid, MODEL_GUID) != 0) {
        o2_log(probe, fmi2Error, "logError", "fmi2Instantiate: GUID '%s' does not match this binary's '%s'",
               guid ? guid : "(null)", MODEL_GUID);
        return -1;
    }
    return 0;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn) {
    (void)fmuResourceLocation;
    (void)visible;
    if (!functions) return NULL;
    O2Instance probe;
    memset(&probe, 0, sizeof(probe));
    probe.cb = *functions;
    probe.instance_name = (char *)(instanceName ? instanceName : "");
    if (check_instantiate_args(&probe, instanceName, fmuType, fmuGUID) != 0) return NULL;
    o2_arena measure = {functions, NULL, 0, 0, NULL, 0};
    int ok = build_instance(&measure, instanceName, fmuType, loggingOn ? 1 : 0) != NULL && !measure.failed;
    arena_release_chain(&measure);
    o2_arena place = {functions, NULL, 0, measure.used, NULL, 0};
    place.block = ok ? cb_calloc(functions, 1, measure.used) : NULL;
    O2Instance *m = place.block ? build_instance(&place, instanceName, fmuType, loggingOn ? 1 : 0) : NULL;
    if (!m || place.failed) {
        if (place.block) cb_free(functions, place.block);
        o2_log(&probe, fmi2Error, "logError", "fmi2Instantiate: out of memory (or the model is too large for the LU)");
        return NULL;
    }
    m->block = place.block;
    o2_log(m, fmi2OK, "logEvents",
           "instantiated %s (%s): nx=%d nz=%d nu=%d np=%d, nnz(J)=%d, LU fill %d, %lu bytes in one block",
           instanceName, fmuType == fmi2ModelExchange ? "ME" : "CS", MDL_NX, MDL_NZ, MDL_NU, MDL_NP, m->nnz_j,
           m->lu_iter.nnz_fill, (unsigned long)measure.used);
    return m;
}

void fmi2FreeInstance(fmi2Component c) {
    if (c) free_instance(M);
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    if (!c) return fmi2Error;
    if (nCategories > 0 && !categories) {
        o2_log(M, fmi2Error, "logError", "fmi2SetDebugLogging: categories is NULL");
        return fmi2Error;
    }
    M->logging_on = loggingOn ? 1 : 0;
    return fmi2OK;
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    ALLOW("fmi2SetupExperiment", B(O2_INSTANTIATED));
    if (toleranceDefined) {
        if (!(tolerance > 0.0) || tolerance >= 1.0) {
            o2_log(M, fmi2Error, "logError", "fmi2SetupExperiment: tolerance %g must be in (0, 1)", tolerance);
            return fmi2Error;
        }
        M->s.rtol = tolerance;
    }
    if (!isfinite(startTime)) {
        o2_log(M, fmi2Error, "logError", "fmi2SetupExperiment: startTime is not finite");
        return fmi2Error;
    }
    M->s.t = M->s.start_time = startTime;
    M->s.stop_time_defined = stopTimeDefined ? 1 : 0;
    M->s.stop_time = stopTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    ALLOW("fmi2EnterInitializationMode", B(O2_INSTANTIATED));
    M->s.mode = O2_INIT_MODE;
    M->s.init_solved = 0;
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    ALLOW("fmi2ExitInitializationMode", B(O2_INIT_MODE));
    if (ensure_init(M) != 0) return fail(M);
    for (int i = 0; i < MDL_NU; i++) M->u0[i] = M->u[i];
    M->s.started = 0;
    M->s.t_comm = M->s.t;
    M->s.last_successful_time = M->s.t;
    M->s.mode = M->type == fmi2ModelExchange ? O2_EVENT_MODE : O2_STEP_COMPLETE;
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component c) {
    ALLOW("fmi2Terminate", B(O2_EVENT_MODE) | B(O2_CONT_TIME_MODE) | B(O2_STEP_COMPLETE) | B(O2_INIT_MODE));
    o2_log(M, fmi2OK, "logStatistics",
           "t=%g: %ld steps, %ld rejected (%ld Newton failures), %ld f, %ld Jacobians, %ld LU (%ld sparse, %ld "
           "dense), %ld restarts, %ld input changes continued",
           M->s.t, M->s.n_steps, M->s.n_rejected, M->s.n_newton_fail, M->s.n_f, M->s.n_jac, M->s.n_lu,
           M->lu_iter.n_sparse, M->lu_iter.n_dense, M->s.n_restarts, M->s.n_continued);
    M->s.mode = O2_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c) {
    if (!c) return fmi2Error;
    reset_values(M);
    return fmi2OK;
}

/* ---------------------------------------------------------------- variable access */

static int check_vrs(O2Instance *m, const char *fn, const fmi2ValueReference vr[], size_t nvr, const void *values) {
    if (nvr == 0) return 0;
    if (!vr || !values) {
        o2_log(m, fmi2Error, "logError", "%s: NULL vr or value array", fn);
        return -1;
    }
    for (size_t i = 0; i < nvr; i++)
        if (vr[i] >= (fmi2ValueReference)MDL_NV) {
            o2_log(m, fmi2Error, "logError", "%s: unknown value reference %u (this FMU has 0..%d)", fn, vr[i],
                   MDL_NV - 1);
            return -1;
        }
    return 0;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Real value[]) {
    ALLOW("fmi2GetReal", AFTER_INIT_START);
    if (check_vrs(M, "fmi2GetReal", vr, nvr, value) != 0) return fmi2Error;
    if (nvr == 0) return fmi2OK;
    int need_vars = 0, need_xdot = 0;
    for (size_t i = 0; i < nvr; i++) {
        int kind = mdl_vr_kind[vr[i]];
        if (kind == MDL_KIND_CALC) need_vars = 1;
        if (kind == MDL_KIND_DERIV) need_xdot = 1;
    }
    if (M->s.mode == O2_ERROR) need_vars = need_xdot = 0; /* only what is stored */
    if (ensure_init(M) != 0) return fail(M);
    if (need_xdot && ensure_xdot(M) != 0) return fail(M);
    if (need_vars && ensure_vars(M) != 0) return fail(M);
    for (size_t i = 0; i < nvr; i++) {
        int idx = mdl_vr_index[vr[i]];
        switch (mdl_vr_kind[vr[i]]) {
        case MDL_KIND_PARAM: value[i] = M->p[idx]; break;
        case MDL_KIND_INPUT: value[i] = M->u[idx]; break;
        case MDL_KIND_STATE: value[i] = M->x[idx]; break;
        case MDL_KIND_DERIV: value[i] = M->xdot_valid ? M->xdot[idx] : NAN; break;
        default: value[i] = M->v_valid ? M->v[vr[i]] : NAN; break;
        }
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Real value[]) {
    ALLOW("fmi2SetReal", ANY_SET);
    if (check_vrs(M, "fmi2SetReal", vr, nvr, value) != 0) return fmi2Error;
    int before_init = M->s.mode == O2_INSTANTIATED || M->s.mode == O2_INIT_MODE;
    for (size_t i = 0; i < nvr; i++) {
        int kind = mdl_vr_kind[vr[i]], idx = mdl_vr_index[vr[i]];
        const char *name = mdl_vr_name[vr[i]];
        if (!isfinite(value[i])) {
            o2_log(M, fmi2Error, "logError", "fmi2SetReal: value of '%s' is not finite", name);
            return fmi2Error;
        }
        if (kind == MDL_KIND_PARAM) {
            if (!before_init) {
                /* tunable parameters: between communication steps (CS) or in event mode (ME); the change acts
                 * like an input step (restart, z re-solved); start values and initial equations are not redone */
                int tunable_now = mdl_p_tunable[idx] && (M->s.mode == O2_STEP_COMPLETE || M->s.mode == O2_EVENT_MODE);
                if (!tunable_now) {
                    o2_log(M, fmi2Error, "logError",
                           mdl_p_tunable[idx]
                               ? "fmi2SetReal: tunable parameter '%s' can be set after initialisation only between "
                                 "communication steps (CS) or in event mode (ME) (t=%g)"
                               : "fmi2SetReal: parameter '%s' is fixed: it can only be set before initialisation "
                                 "ends (t=%g)",
                           name, M->s.t);
                    return fmi2Error;
                }
                if (M->p[idx] != value[i]) {
                    M->s.inputs_changed |= O2_CHANGED_PARAM;
                    M->s.z_consistent = MDL_NZ == 0;
                }
            } else {
                M->s.init_solved = 0;
            }
            M->p[idx] = value[i];
        } else if (kind == MDL_KIND_INPUT) {
            double old = M->u[idx];
            if (old != value[i]) {
                M->u[idx] = value[i];
                M->s.z_consistent = MDL_NZ == 0;
                if (before_init) M->s.init_solved = 0;
                /* a change beyond rounding: the next doStep restarts the integrator or continues its history,
                 * as the size of the jump demands (o2_bdf.c); a value that continues an input ramp, u0 + du*h,
                 * up to rounding is no change */
                if (fabs(value[i] - old) > 1e-12 * (fabs(old) + fabs(value[i])))
                    M->s.inputs_changed |= O2_CHANGED_INPUT;
            }
        } else if (kind == MDL_KIND_STATE && before_init) {
            M->x[idx] = value[i];
            M->x_set[idx] = 1;
            M->s.init_solved = 0;
        } else {
            o2_log(M, fmi2Error, "logError", "fmi2SetReal: '%s' (value reference %u) cannot be set in %s", name, vr[i],
                   mode_name(M->s.mode));
            return fmi2Error;
        }
    }
    if (nvr > 0) {
        for (int i = 0; i < MDL_NU; i++) M->u0[i] = M->u[i];
        M->s.t_comm = M->s.t;
        o2_invalidate(M);
    }
    return fmi2OK;
}

static fmi2Status no_such_type(O2Instance *m, const char *fn, const fmi2ValueReference vr[], size_t nvr,
                               const void *values) {
    if (nvr == 0) return fmi2OK;
    if (!vr || !values) {
        o2_log(m, fmi2Error, "logError", "%s: NULL vr or value array", fn);
        return fmi2Error;
    }
    o2_log(m, fmi2Error, "logError", "%s: value reference %u is not of this type (all variables are Real)", fn, vr[0]);
    return fmi2Error;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Integer value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2GetInteger", vr, nvr, value);
}
fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Boolean value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2GetBoolean", vr, nvr, value);
}
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2String value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2GetString", vr, nvr, value);
}
fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Integer value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2SetInteger", vr, nvr, value);
}
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Boolean value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2SetBoolean", vr, nvr, value);
}
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2String value[]) {
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2SetString", vr, nvr, value);
}

/* ---------------------------------------------------------------- directional derivatives */

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[], size_t nUnknown,
                                        const fmi2ValueReference vKnown_ref[], size_t nKnown,
                                        const fmi2Real dvKnown[], fmi2Real dvUnknown[]) {
    ALLOW("fmi2GetDirectionalDerivative",
          B(O2_INIT_MODE) | B(O2_EVENT_MODE) | B(O2_CONT_TIME_MODE) | B(O2_STEP_COMPLETE) | B(O2_TERMINATED));
    if (check_vrs(M, "fmi2GetDirectionalDerivative", vUnknown_ref, nUnknown, dvUnknown) != 0 ||
        check_vrs(M, "fmi2GetDirectionalDerivative", vKnown_ref, nKnown, dvKnown) != 0)
        return fmi2Error;
    double *dx = M->dxz, *du = M->dxz + M->n;
    memset(M->dxz, 0, ((size_t)M->n + MDL_NU) * sizeof(double));
    for (size_t i = 0; i < nKnown; i++) {
        int kind = mdl_vr_kind[vKnown_ref[i]], idx = mdl_vr_index[vKnown_ref[i]];
        if (kind == MDL_KIND_STATE)
            dx[idx] += dvKnown[i];
        else if (kind == MDL_KIND_INPUT)
            du[idx] += dvKnown[i];
        else {
            o2_log(M, fmi2Error, "logError",
                   "fmi2GetDirectionalDerivative: known '%s' must be a state or an input", mdl_vr_name[vKnown_ref[i]]);
            return fmi2Error;
        }
    }
    if (ensure_z(M) != 0) return fail(M);
    if (o2_directional_derivative(M, dx, du, M->dv) != 0) return fmi2Error;
    for (size_t i = 0; i < nUnknown; i++) dvUnknown[i] = M->dv[vUnknown_ref[i]];
    return fmi2OK;
}

/* ---------------------------------------------------------------- Model Exchange */

fmi2Status fmi2EnterEventMode(fmi2Component c) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2EnterEventMode") != fmi2OK) return fmi2Error;
    ALLOW("fmi2EnterEventMode", ME_RUN);

    M->s.mode = O2_EVENT_MODE;
    return fmi2OK;
}

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *eventInfo) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2NewDiscreteStates") != fmi2OK) return fmi2Error;
    ALLOW("fmi2NewDiscreteStates", B(O2_EVENT_MODE));

    if (!eventInfo) {
        o2_log(M, fmi2Error, "logError", "fmi2NewDiscreteStates: eventInfo is NULL");
        return fmi2Error;
    }
    eventInfo->newDiscreteStatesNeeded = fmi2False;
    eventInfo->terminateSimulation = fmi2False;
    eventInfo->nominalsOfContinuousStatesChanged = fmi2False;
    eventInfo->valuesOfContinuousStatesChanged = fmi2False;
    eventInfo->nextEventTimeDefined = fmi2False;
    eventInfo->nextEventTime = 0.0;
    return fmi2OK;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2EnterContinuousTimeMode") != fmi2OK) return fmi2Error;
    ALLOW("fmi2EnterContinuousTimeMode", B(O2_EVENT_MODE));

    M->s.mode = O2_CONT_TIME_MODE;
    return fmi2OK;
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode, fmi2Boolean *terminateSimulation) {
    (void)noSetFMUStatePriorToCurrentPoint;
    if (!c || need_type(M, fmi2ModelExchange, "fmi2CompletedIntegratorStep") != fmi2OK) return fmi2Error;
    ALLOW("fmi2CompletedIntegratorStep", B(O2_CONT_TIME_MODE));

    if (!enterEventMode || !terminateSimulation) {
        o2_log(M, fmi2Error, "logError", "fmi2CompletedIntegratorStep: NULL output argument");
        return fmi2Error;
    }
    *enterEventMode = fmi2False;
    *terminateSimulation = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2SetTime") != fmi2OK) return fmi2Error;
    ALLOW("fmi2SetTime", ME_RUN);

    if (!isfinite(time)) {
        o2_log(M, fmi2Error, "logError", "fmi2SetTime: time is not finite");
        return fmi2Error;
    }
    if (time != M->s.t) {
        M->s.t = time;
        M->s.z_consistent = MDL_NZ == 0;
        o2_invalidate(M);
    }
    return fmi2OK;
}

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2SetContinuousStates") != fmi2OK) return fmi2Error;
    ALLOW("fmi2SetContinuousStates", ME_RUN);

    if (nx != (size_t)MDL_NX || (nx > 0 && !x)) {
        o2_log(M, fmi2Error, "logError", "fmi2SetContinuousStates: expected %d states, got %zu%s", MDL_NX, nx,
               x ? "" : " (NULL)");
        return fmi2Error;
    }
    if (!o2_all_finite(x, MDL_NX)) {
        o2_log(M, fmi2Error, "logError", "fmi2SetContinuousStates: non-finite state at t=%g", M->s.t);
        return fmi2Error;
    }
    memcpy(M->x, x, nx * sizeof(double));
    M->s.z_consistent = MDL_NZ == 0;
    o2_invalidate(M);
    return fmi2OK;
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx) {
    if (!c || need_type(M, fmi2ModelExchange, "fmi2GetDerivatives") != fmi2OK) return fmi2Error;
    ALLOW("fmi2GetDerivatives", ME_RUN | B(O2_INIT_MODE) | B(O2_TERMINATED));

    if (nx != (size_t)MDL_NX || (nx > 0 && !derivatives)) {
        o2_log(M, fmi2Error, "logError", "fmi2GetDerivatives: expected %d states, got %zu", MDL_NX, nx);
        return fmi2Error;
    }
    if (ensure_xdot(M) != 0) return fail(M);
    memcpy(derivatives, M->xdot, nx * sizeof(double));
    return fmi2OK;
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni) {
    ALLOW("fmi2GetEventIndicators", ME_RUN | B(O2_INIT_MODE) | B(O2_TERMINATED));
    (void)eventIndicators;
    if (ni != 0) {
        o2_log(M, fmi2Error, "logError", "fmi2GetEventIndicators: this FMU has no event indicators (asked for %zu)",
               ni);
        return fmi2Error;
    }
    return fmi2OK;
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    ALLOW("fmi2GetContinuousStates", AFTER_INIT_START);
    if (nx != (size_t)MDL_NX || (nx > 0 && !x)) {
        o2_log(M, fmi2Error, "logError", "fmi2GetContinuousStates: expected %d states, got %zu", MDL_NX, nx);
        return fmi2Error;
    }
    if (ensure_init(M) != 0) return fail(M);
    memcpy(x, M->x, nx * sizeof(double));
    return fmi2OK;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx) {
    if (!c) return fmi2Error;
    if (nx != (size_t)MDL_NX || (nx > 0 && !x_nominal)) {
        o2_log(M, fmi2Error, "logError", "fmi2GetNominalsOfContinuousStates: expected %d states, got %zu", MDL_NX, nx);
        return fmi2Error;
    }
    for (int i = 0; i < MDL_NX; i++) x_nominal[i] = mdl_x_nominal[i];
    return fmi2OK;
}

/* ---------------------------------------------------------------- Co-Simulation */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    if (!c || need_type(M, fmi2CoSimulation, "fmi2SetRealInputDerivatives") != fmi2OK) return fmi2Error;
    ALLOW("fmi2SetRealInputDerivatives", B(O2_INSTANTIATED) | B(O2_INIT_MODE) | B(O2_STEP_COMPLETE));

    if (check_vrs(M, "fmi2SetRealInputDerivatives", vr, nvr, value) != 0) return fmi2Error;
    if (nvr > 0 && !order) {
        o2_log(M, fmi2Error, "logError", "fmi2SetRealInputDerivatives: order is NULL");
        return fmi2Error;
    }
    for (size_t i = 0; i < nvr; i++) {
        if (mdl_vr_kind[vr[i]] != MDL_KIND_INPUT) {
            o2_log(M, fmi2Error, "logError", "fmi2SetRealInputDerivatives: '%s' is not an input", mdl_vr_name[vr[i]]);
            return fmi2Error;
        }
        if (order[i] != 1) {
            o2_log(M, fmi2Error, "logError",
                   "fmi2SetRealInputDerivatives: only first derivatives are supported (order %d for '%s')",
                   (int)order[i], mdl_vr_name[vr[i]]);
            return fmi2Error;
        }
        if (!isfinite(value[i])) {
            o2_log(M, fmi2Error, "logError", "fmi2SetRealInputDerivatives: derivative of '%s' is not finite",
                   mdl_vr_name[vr[i]]);
            return fmi2Error;
        }
        int idx = mdl_vr_index[vr[i]];
        if (M->du[idx] != value[i]) {
            M->du[idx] = value[i];
            M->s.inputs_changed |= O2_CHANGED_INPUT;
        }
    }
    return fmi2OK;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[]) {
    (void)order;
    if (!c) return fmi2Error;
    return no_such_type(M, "fmi2GetRealOutputDerivatives (maxOutputDerivativeOrder is 0)", vr, nvr, value);
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    if (!c || need_type(M, fmi2CoSimulation, "fmi2DoStep") != fmi2OK) return fmi2Error;
    ALLOW("fmi2DoStep", B(O2_STEP_COMPLETE));

    double t = M->s.t;
    if (!isfinite(currentCommunicationPoint) || !isfinite(communicationStepSize) || communicationStepSize < 0.0) {
        o2_log(M, fmi2Error, "logError", "fmi2DoStep: invalid communication point %g or step size %g at t=%g",
               currentCommunicationPoint, communicationStepSize, t);
        return fmi2Error;
    }
    if (fabs(currentCommunicationPoint - t) > 1e-9 * (fabs(t) > 1.0 ? fabs(t) : 1.0)) {
        o2_log(M, fmi2Error, "logError", "fmi2DoStep: communication point %.17g does not match the FMU time %.17g",
               currentCommunicationPoint, t);
        return fmi2Error;
    }
    double t_end = currentCommunicationPoint + communicationStepSize;
    if (M->s.stop_time_defined && t_end > M->s.stop_time * (1.0 + 1e-12) + 1e-12) {
        o2_log(M, fmi2Error, "logError", "fmi2DoStep: step to t=%g goes past the stop time %g", t_end,
               M->s.stop_time);
        return fmi2Error;
    }
    if (communicationStepSize == 0.0) return fmi2OK;
    M->s.t_comm = t;
    for (int i = 0; i < MDL_NU; i++) M->u0[i] = M->u[i];
    o2_invalidate(M);
    if (o2_bdf_do_step(M, t_end) != 0) /* reason logged; the state at t is intact, so the master may retry with a */
        return fmi2Discard;              /* smaller communication step or restore an earlier state */
    for (int i = 0; i < MDL_NU; i++) M->u[i] = M->u0[i] + M->du[i] * (t_end - M->s.t_comm);
    M->s.t = t_end;
    M->s.last_successful_time = t_end;
    o2_log(M, fmi2OK, "logSolver", "doStep to t=%g: %ld steps, %ld rejected, order %d, h=%g", t_end, M->s.n_steps,
           M->s.n_rejected, M->s.order, M->s.h_abs);
    return fmi2OK;
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    if (!c) return fmi2Error;
    o2_log(M, fmi2Error, "logError", "fmi2CancelStep: doStep runs synchronously; there is nothing to cancel");
    return fmi2Error;
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    if (!c || !value) return fmi2Error;
    if (s == fmi2DoStepStatus) {
        *value = M->s.mode == O2_ERROR ? fmi2Error : fmi2OK;
        return fmi2OK;
    }
    o2_log(M, fmi2Error, "logError", "fmi2GetStatus: status kind %d is not available", (int)s);
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    if (!c || !value) return fmi2Error;
    if (s == fmi2LastSuccessfulTime) {
        *value = M->s.last_successful_time;
        return fmi2OK;
    }
    o2_log(M, fmi2Error, "logError", "fmi2GetRealStatus: status kind %d is not available", (int)s);
    return fmi2Discard;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)s;
    (void)value;
    if (!c) return fmi2Error;
    o2_log(M, fmi2Error, "logError", "fmi2GetIntegerStatus: no integer status");
    return fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    if (!c || !value) return fmi2Error;
    if (s == fmi2Terminated) {
        *value = fmi2False;
        return fmi2OK;
    }
    o2_log(M, fmi2Error, "logError", "fmi2GetBooleanStatus: status kind %d is not available", (int)s);
    return fmi2Discard;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)s;
    (void)value;
    if (!c) return fmi2Error;
    o2_log(M, fmi2Error, "logError", "fmi2GetStringStatus: no string status (doStep is synchronous)");
    return fmi2Discard;
}
