/* The master's compiled coupling path: one call steps a run of FMI 2.0 Co-Simulation slaves in Gauss-Seidel order.
 *
 * For each slave of a segment, in order: its connected Real inputs are computed from the signal table
 * (gain * source + offset, the same double operations as the Python path, no contraction into fused multiply-adds),
 * set with fmi2SetReal, the slave is stepped with fmi2DoStep, and its Real outputs are read with fmi2GetReal into the
 * signal table. A slave stepped earlier in the segment passes its new outputs to the later ones (Gauss-Seidel).
 * The first failing call stops the segment: the caller learns which slave, which call and the status, and handles
 * it as the Python path would (discard, termination, error).
 *
 * ck_loop is the same FMI call sequence for many macro steps with no master at all: the floor that the benchmark
 * measures the master's overhead against.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stddef.h>
#include <time.h>

typedef int (*ck_set_real)(void *c, const unsigned int *vr, size_t n, const double *value);
typedef int (*ck_get_real)(void *c, const unsigned int *vr, size_t n, double *value);
typedef int (*ck_do_step)(void *c, double t, double h, int no_set_prior_state);
typedef int (*ck_set_derivatives)(void *c, const unsigned int *vr, size_t n, const int *order, const double *value);

typedef struct {
    void *component;
    ck_set_real set_real;
    ck_get_real get_real;
    ck_do_step do_step;
    int n_in;               /* connected Real inputs */
    const unsigned int *in_vr;
    const int *in_src;      /* signal id of each input's source */
    const double *in_gain;
    const double *in_offset;
    double *in_value;       /* the values last set (the caller's "written") */
    int n_out_vr;           /* distinct output value references read */
    const unsigned int *out_vr;
    double *out_buffer;     /* n_out_vr values */
    int n_out;              /* signals stored from the buffer */
    const int *out_pick;    /* buffer index of each stored signal */
    const int *out_signal;  /* signal id of each stored signal */
    double step_s;          /* wall time in fmi2DoStep */
    double io_s;            /* wall time in fmi2SetReal / fmi2GetReal */
    /* first-order extrapolation of the inputs */
    int index;              /* the slave's position in the Gauss-Seidel order */
    const int *in_src_slave;/* position of each input's source slave (before index: stepped in this macro step) */
    ck_set_derivatives set_derivatives; /* fmi2SetRealInputDerivatives, or NULL: inputs set at mid-step */
    const int *in_order;    /* n_in ones */
    double *in_derivative;  /* n_in */
} ck_slave;

enum { CK_OK = 0, CK_SET = 1, CK_STEP = 2, CK_GET = 3, CK_DERIVATIVES = 4 };
#define CK_WARNING 1 /* fmi2Warning: the highest status that is not a failure */
#define TIME_EVERY 16 /* ck_run times one macro step in this many */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The inputs of s on the line through its sources (Coupling.write_extrapolated): a source already stepped in this
 * macro step is interpolated between vt (its value at t) and v (at t + h), the others extrapolated with slope.
 * With input derivatives the inputs are their values at t and the derivatives go to in_derivative; otherwise the
 * inputs are the line's values at mid-step. Same operations, same order as the Python path. */
static void extrapolated_inputs(ck_slave *s, const double *v, const double *vt, const double *slope, double h) {
    for (int k = 0; k < s->n_in; k++) {
        int src = s->in_src[k];
        double d = s->in_src_slave[k] < s->index ? (v[src] - vt[src]) / h : slope[src];
        if (s->set_derivatives) {
            s->in_value[k] = s->in_gain[k] * vt[src] + s->in_offset[k];
            s->in_derivative[k] = s->in_gain[k] * d;
        } else {
            s->in_value[k] = s->in_gain[k] * (vt[src] + 0.5 * h * d) + s->in_offset[k];
        }
    }
}

/* Step slaves[0..n) from t by h on the signal table v: inputs held (slope NULL) or extrapolated (vt: the values at
 * t, slope: per signal). Returns CK_OK, or the failed call (CK_SET, CK_DERIVATIVES, CK_STEP, CK_GET) with *failed =
 * the slave's index and *status = the FMI status. With weight > 0 the wall time of the FMI calls, times weight, is
 * added to each slave's step_s and io_s (a timed step standing for weight steps). */
int ck_step(ck_slave *slaves, int n, double *v, const double *vt, const double *slope, double t, double h,
            double weight, int *failed, int *status) {
    int timed = weight > 0.0;
    for (int i = 0; i < n; i++) {
        ck_slave *s = &slaves[i];
        double t0 = timed ? now_s() : 0.0, t1 = 0.0, t2 = 0.0;
        int rc;
        if (s->n_in > 0) {
            if (slope) {
                extrapolated_inputs(s, v, vt, slope, h);
            } else {
                for (int k = 0; k < s->n_in; k++) s->in_value[k] = s->in_gain[k] * v[s->in_src[k]] + s->in_offset[k];
            }
            rc = s->set_real(s->component, s->in_vr, (size_t)s->n_in, s->in_value);
            if (rc > CK_WARNING) { *failed = i; *status = rc; return CK_SET; }
            if (slope && s->set_derivatives) {
                rc = s->set_derivatives(s->component, s->in_vr, (size_t)s->n_in, s->in_order, s->in_derivative);
                if (rc > CK_WARNING) { *failed = i; *status = rc; return CK_DERIVATIVES; }
            }
        }
        if (timed) t1 = now_s();
        rc = s->do_step(s->component, t, h, 1);
        if (timed) t2 = now_s();
        if (rc > CK_WARNING) { *failed = i; *status = rc; return CK_STEP; }
        if (s->n_out > 0) {
            rc = s->get_real(s->component, s->out_vr, (size_t)s->n_out_vr, s->out_buffer);
            if (rc > CK_WARNING) { *failed = i; *status = rc; return CK_GET; }
            for (int k = 0; k < s->n_out; k++) v[s->out_signal[k]] = s->out_buffer[s->out_pick[k]];
        }
        if (timed) {
            double t3 = now_s();
            s->step_s += weight * (t2 - t1);
            s->io_s += weight * ((t1 - t0) + (t3 - t2));
        }
    }
    return CK_OK;
}

/* The feedthrough update after a step (Coupling.update for slaves that are not in a loop): each slave in
 * update[0..n_update) whose inputs, recomputed from v, differ from the values last set gets them set and its
 * outputs re-read. Returns CK_OK or the failed call, as ck_step. */
static int ck_update(ck_slave *slaves, const int *update, int n_update, double *v, double weight, int *failed,
                     int *status) {
    int timed = weight > 0.0;
    for (int u = 0; u < n_update; u++) {
        ck_slave *s = &slaves[update[u]];
        int changed = 0;
        for (int k = 0; k < s->n_in; k++) {
            double value = s->in_gain[k] * v[s->in_src[k]] + s->in_offset[k];
            if (value != s->in_value[k]) changed = 1;
            s->in_value[k] = value;
        }
        if (!changed) continue;
        double t0 = timed ? now_s() : 0.0;
        int rc = s->set_real(s->component, s->in_vr, (size_t)s->n_in, s->in_value);
        if (rc > CK_WARNING) { *failed = update[u]; *status = rc; return CK_SET; }
        if (s->n_out > 0) {
            rc = s->get_real(s->component, s->out_vr, (size_t)s->n_out_vr, s->out_buffer);
            if (rc > CK_WARNING) { *failed = update[u]; *status = rc; return CK_GET; }
            for (int k = 0; k < s->n_out; k++) v[s->out_signal[k]] = s->out_buffer[s->out_pick[k]];
        }
        if (timed) s->io_s += weight * (now_s() - t0);
    }
    return CK_OK;
}

/* Many macro steps of a system whose slaves are all in this one segment, with no event, sample instant or target
 * in between: macro step j goes from tick n0 + j * macro to the next, a tick being num / den s after t0 (the times
 * computed as TimeGrid.time computes them: exact integers, one correctly rounded division, valid while the
 * products stay below 2**53, which the caller checks). After each step the feedthrough update; then, when the end
 * tick is a multiple of rec_every (0: never), the signals rec[0..n_rec) are appended to rec_out. *done = the number
 * of steps completed (a failure: in step *done, in its slave step or its update, *in_update saying which). */
int ck_run(ck_slave *slaves, int n, const int *update, int n_update, double *v, double t0, long long num,
           long long den, long long n0, long long macro, long k, const int *rec, int n_rec, long long rec_every,
           double *rec_out, long *done, int *in_update, int *failed, int *status) {
    double *row = rec_out;
    *in_update = 0;
    for (long j = 0; j < k; j++) {
        long long na = n0 + j * macro, nb = na + macro;
        double t = t0 + (double)(na * num) / (double)den;
        double h = (t0 + (double)(nb * num) / (double)den) - t;
        /* reading the clock costs about as much as a small FMU's step: one step in TIME_EVERY is timed */
        double weight = j % TIME_EVERY ? 0.0 : (double)(k - j < TIME_EVERY ? k - j : TIME_EVERY);
        int rc = ck_step(slaves, n, v, NULL, NULL, t, h, weight, failed, status);
        if (rc == CK_OK && n_update > 0) {
            rc = ck_update(slaves, update, n_update, v, weight, failed, status);
            if (rc != CK_OK) *in_update = 1;
        }
        if (rc != CK_OK) { *done = j; return rc; }
        if (rec_every > 0 && nb % rec_every == 0) {
            for (int r = 0; r < n_rec; r++) row[r] = v[rec[r]];
            row += n_rec;
        }
    }
    *done = k;
    return CK_OK;
}

/* One call's arguments in one struct, for the master's single macro steps around Python blocks: a ctypes call
 * that passes one pointer costs a third of one converting ten arguments (about 0.4 against 1.1 us), and the master
 * only changes t and h between calls. */
typedef struct {
    ck_slave *slaves;
    int n;
    double *v;
    double t;
    double h;
    const int *update;  /* the feedthrough update's slaves, as ck_run's */
    int n_update;
    int failed;
    int status;
} ck_call;

/* ck_step of every slave of c from c->t by c->h, inputs held, timed (the single-step path times every step). */
int ck_step_held(ck_call *c) {
    return ck_step(c->slaves, c->n, c->v, NULL, NULL, c->t, c->h, 1.0, &c->failed, &c->status);
}

/* The feedthrough update after a single macro step (ck_update on c->update), timed; c->failed is the index of the
 * failed slave in c->slaves. */
int ck_feedthrough(ck_call *c) {
    return ck_update(c->slaves, c->update, c->n_update, c->v, 1.0, &c->failed, &c->status);
}

/* The same FMI calls as `steps` calls of ck_step from t0 by h, untimed, in one loop (no master): the floor. */
int ck_loop(ck_slave *slaves, int n, double *v, double t0, double h, long steps, int *failed, int *status) {
    for (long j = 0; j < steps; j++) {
        int rc = ck_step(slaves, n, v, NULL, NULL, t0 + (double)j * h, h, 0.0, failed, status);
        if (rc != CK_OK) return rc;
    }
    return CK_OK;
}
