/* Variable-order (1-5), variable-step BDF integrator for Co-Simulation, in the backward-difference form with
 * the numerical differentiation formulas (NDF) of Shampine & Reichelt (1997, "The MATLAB ODE Suite"):
 *   - history: the array D of backward differences of y = [x; z], rescaled when the step size changes;
 *   - corrector: modified (simplified) Newton with the iteration matrix [I - c Jxx, -c Jxz; Jzx, Jzz],
 *     c = h / alpha_k; the Jacobian is reused across steps and re-evaluated only when Newton fails to converge;
 *     the sparse LU is redone only when c changes;
 *   - steps are cut to land on the communication point; that rescales D but is not counted as a step-size
 *     change of the controller (n_equal_steps goes on), so short communication steps do not freeze h;
 *   - error control: local error estimate err_k * (y_new - y_pred) in the weighted RMS norm over the states x,
 *     weights rtol * |x| + atol, atol = rtol * nominal; order and step-size selection from the estimates of
 *     orders k-1, k, k+1 after k+1 steps of equal size;
 *   - an input change at a communication point restarts at order 1 only when its jump in the derivatives would
 *     fail the next error test by far (a valve switching); otherwise the history continues, re-anchored at the
 *     communication point with the jump's first-order part in its slope (input_jump_kind, continue_history);
 *   - index-1 semi-explicit DAE: the algebraic rows 0 = g(x, z) are solved in every Newton iteration; z takes part
 *     in the Newton convergence test but not in the error estimate.
 * No memory is allocated here: all work arrays belong to the instance.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "o2_runtime.h"

#define NEWTON_MAXITER 4
#define NEWTON_CRDOWN 0.3
#ifndef NEWTON_TOL
#define NEWTON_TOL 0.03 /* Newton's remaining error, as a fraction of the error test's bound */
#endif
#define MIN_FACTOR 0.2
#define MAX_FACTOR 10.0
#ifndef MIN_GROWTH
#define MIN_GROWTH 2.0 /* a step size increase below this is skipped (CVODE: 1.5): it would cost a refactor */
#endif
#define MAX_STEPS_PER_CALL 10000000L /* step attempts */
#ifndef LU_C_CHANGE
#define LU_C_CHANGE 0.5 /* refactor the iteration matrix when c changed by more than this (relative; CVODE: 0.3) */
#endif
#ifndef JUMP_RESTART_ERROR
#define JUMP_RESTART_ERROR 10.0 /* an input jump whose error on the next step, uncorrected, exceeds this multiple of
                                   the tolerance restarts the integrator; a smaller one continues its history */
#endif
#ifndef JAC_MAX_AGE
#define JAC_MAX_AGE 20 /* a Jacobian at least this many steps old is refreshed when Newton's rate estimate is */
#endif
#ifndef JAC_RATE_REFRESH
#define JAC_RATE_REFRESH 0.2 /* above this: a fresh J and factor cost about five Newton iterations and save more */
#endif
#ifndef H0_ERROR_FRACTION
#define H0_ERROR_FRACTION 0.005 /* initial step: local error about this fraction of the tolerance */
#endif

static const double KAPPA[O2_BDF_MAX_ORDER + 2] = {0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0, 0.0};

typedef struct {
    double gamma[O2_BDF_MAX_ORDER + 2], alpha[O2_BDF_MAX_ORDER + 2], err_const[O2_BDF_MAX_ORDER + 2];
} coeffs;

static void bdf_coeffs(coeffs *k) {
    k->gamma[0] = 0.0;
    for (int i = 1; i < O2_BDF_MAX_ORDER + 2; i++) k->gamma[i] = k->gamma[i - 1] + 1.0 / i;
    for (int i = 0; i < O2_BDF_MAX_ORDER + 2; i++) {
        k->alpha[i] = (1.0 - KAPPA[i]) * k->gamma[i];
        k->err_const[i] = KAPPA[i] * k->gamma[i] + 1.0 / (i + 1);
    }
}

/* R(order, factor): the matrix that rescales backward differences to a new step size (Shampine & Reichelt). */
static void compute_r(int order, double factor, double r[O2_BDF_MAX_ORDER + 1][O2_BDF_MAX_ORDER + 1]) {
    for (int j = 0; j <= order; j++) r[0][j] = 1.0;
    for (int i = 1; i <= order; i++) {
        r[i][0] = 0.0;
        for (int j = 1; j <= order; j++) r[i][j] = r[i - 1][j] * ((i - 1) - factor * j) / i;
    }
}

static void change_d(O2Instance *m, int order, double factor) {
    double r[O2_BDF_MAX_ORDER + 1][O2_BDF_MAX_ORDER + 1], u[O2_BDF_MAX_ORDER + 1][O2_BDF_MAX_ORDER + 1];
    double ru[O2_BDF_MAX_ORDER + 1][O2_BDF_MAX_ORDER + 1];
    int n = m->n;
    compute_r(order, factor, r);
    compute_r(order, 1.0, u);
    for (int i = 0; i <= order; i++)
        for (int j = 0; j <= order; j++) {
            double s = 0.0;
            for (int k = 0; k <= order; k++) s += r[i][k] * u[k][j];
            ru[i][j] = s;
        }
    /* D[j] <- sum_k RU[k][j] D[k] */
    for (int j = 0; j <= order; j++) {
        double *dst = m->dtmp + (size_t)j * n;
        memset(dst, 0, (size_t)n * sizeof(double));
        for (int k = 0; k <= order; k++) {
            double c = ru[k][j];
            if (c == 0.0) continue;
            const double *src = m->D + (size_t)k * n;
            for (int i = 0; i < n; i++) dst[i] += c * src[i];
        }
    }
    memcpy(m->D, m->dtmp, (size_t)(order + 1) * n * sizeof(double));
}

/* Inverse weights 1 / w (so norms multiply instead of divide): x: w = atol + rtol |y|, atol = rtol * nominal;
 * z: w = rtol (|z| + max(max |z| seen, 1e-8)). z has no nominal; the floor keeps z that stay near zero (a flow
 * through a closed valve) from dominating the Newton test. */
static void error_scale(const O2Instance *m, const double *y, double *inv_w) {
    double rtol = m->s.rtol;
    for (int i = 0; i < MDL_NX; i++) inv_w[i] = 1.0 / (rtol * (mdl_x_nominal[i] + fabs(y[i])));
    for (int i = 0; i < MDL_NZ; i++) {
        double ref = m->zmax[i] > 1e-8 ? m->zmax[i] : 1e-8;
        inv_w[MDL_NX + i] = 1.0 / (rtol * (ref + fabs(y[MDL_NX + i])));
    }
}

/* Weighted RMS norm of factor * v with inverse weights inv_w (four partial sums, so that the loop vectorises). */
static double rms(const double *v, const double *inv_w, int n, double factor) {
    if (n == 0) return 0.0;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            double e = v[i + j] * inv_w[i + j];
            s[j] += e * e;
        }
    for (; i < n; i++) {
        double e = v[i] * inv_w[i];
        s[0] += e * e;
    }
    return fabs(factor) * sqrt(((s[0] + s[1]) + (s[2] + s[3])) / n);
}

/* [xdot; g] at (t, y); not checked for NaN/Inf here (Newton checks the norm of its correction). */
static int eval_f(O2Instance *m, double t, const double *y, double *f) {
    o2_inputs_at(m, t, m->u_now);
    return o2_eval_dae(m, t, y, y + MDL_NX, m->u_now, f, f + MDL_NX);
}

/* Initial step size for order 1 from a consistent point (Hairer, Norsett & Wanner, Solving ODEs I, sec. II.4):
 * h with a local error of about H0_ERROR_FRACTION of the tolerance, from an estimate of y'' by one explicit Euler
 * probe. Needs f = f(t, y); uses y_pred, tmp2 and scale as scratch. */
static double initial_step(O2Instance *m, double t, double t_end, const double *y, const double *f) {
    double *scale = m->scale, *y1 = m->y_pred, *f1 = m->tmp2;
    error_scale(m, y, scale);
    double d0 = rms(y, scale, MDL_NX, 1.0), d1 = rms(f, scale, MDL_NX, 1.0);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    if (h0 > t_end - t) h0 = t_end - t;
    for (int i = 0; i < m->n; i++) y1[i] = i < MDL_NX ? y[i] + h0 * f[i] : y[i];
    double d2 = 0.0;
    if (eval_f(m, t + h0, y1, f1) == 0) {
        for (int i = 0; i < MDL_NX; i++) f1[i] -= f[i];
        d2 = rms(f1, scale, MDL_NX, 1.0) / h0;
        if (!isfinite(d2)) d2 = INFINITY; /* the probe blew up: start small */
    }
    double dmax = d1 > d2 ? d1 : d2;
    double h1 = dmax <= 1e-15 ? (h0 * 1e-3 > 1e-6 ? h0 * 1e-3 : 1e-6) : sqrt(H0_ERROR_FRACTION / dmax);
    double h = 100.0 * h0 < h1 ? 100.0 * h0 : h1;
    return h > 0.0 ? h : 1e-6;
}

/* Start, or restart after an input change, at order 1 from a consistent point. The step size is estimated anew
 * for the new inputs (a valve that opened makes the solution fast), but never above what the controller had. */
static int restart(O2Instance *m, double t_end) {
    int n = m->n;
    double t = m->s.t;
    o2_inputs_at(m, t, m->u_now);
    if (MDL_NZ > 0 && !m->s.z_consistent) {
        if (o2_solve_z(m, t, m->u_now) != 0) return -1;
        m->s.z_consistent = 1;
    }
    double *y = m->x, *f = m->f;
    if (eval_f(m, t, y, f) != 0 || !o2_all_finite(f, n)) {
        o2_log(m, fmi2Error, "logError", "integration failed at t=%.17g: the derivatives are not finite", t);
        return -1;
    }
    double h = initial_step(m, t, t_end, y, f);
    if (m->s.started && m->s.h_want < h) h = m->s.h_want;
    m->s.h_want = h;
    m->s.h_abs = h;
    m->s.jac_valid = 0; /* the inputs changed: the Jacobian (e.g. of a valve that opened) is evaluated anew */
    memset(m->D, 0, (size_t)O2_BDF_HIST * n * sizeof(double));
    memcpy(m->D, y, (size_t)n * sizeof(double));
    m->s.t_int = t;
    for (int i = 0; i < MDL_NX; i++) m->D[n + i] = m->s.h_abs * f[i];
    m->s.order = 1;
    m->s.n_equal_steps = 0;
    m->s.started = 1;
    m->s.inputs_changed = 0;
    m->s.n_restarts++;
    return 0;
}

/* y(t) for t_int - h <= t <= t_int from the backward differences (the NDF interpolating polynomial, as in
 * ode15s' ntrp15s): y = D0 + sum_j D_j prod_{i<j} (t - t_int + i h) / ((i + 1) h). */
static void interpolate(const O2Instance *m, double t, double *y) {
    int n = m->n;
    double h = m->s.h_abs, p = 1.0;
    memcpy(y, m->D, (size_t)n * sizeof(double));
    for (int j = 1; j <= m->s.order; j++) {
        p *= (t - m->s.t_int + (j - 1) * h) / (j * h);
        const double *dj = m->D + (size_t)j * n;
        for (int i = 0; i < n; i++) y[i] += p * dj[i];
    }
}

/* The inputs the history was computed with, at time t (uh + duh (t - t_hist_comm)). */
static void history_inputs_at(const O2Instance *m, double t, double *u_out) {
    for (int i = 0; i < MDL_NU; i++) u_out[i] = m->uh[i] + m->duh[i] * (t - m->s.t_hist_comm);
}

/* d = f(t, x, u_new(t)) - f(t, x, u_hist(t)) into out (n); -1 when an evaluation fails. Uses tmp2 as scratch. */
static int input_jump(O2Instance *m, double t, const double *x, double *out) {
    double *f_old = m->tmp2;
    history_inputs_at(m, t, m->u_now);
    if (o2_eval_dae(m, t, x, x + MDL_NX, m->u_now, f_old, f_old + MDL_NX) != 0) return -1;
    if (eval_f(m, t, x, out) != 0) return -1;
    for (int i = 0; i < MDL_NX; i++) out[i] -= f_old[i];
    return o2_all_finite(out, MDL_NX) ? 0 : -1;
}

/* What an input change at the communication point t does to the history. A jump df in the derivatives (the new
 * inputs against those the history was computed with, at t and, when a slope changed, at t + h) moves the
 * corrector's solution from the predictor by d = (I - c J)^-1 c df, c = h / alpha_k (the first Newton correction:
 * the factor in use, for an earlier c, stands in for I - c J and damps the stiff components as the corrector
 * will; without one, d = c df bounds it from above); err_k |d| is the error the next step's test would see if
 * the history were continued unchanged. Above JUMP_RESTART_ERROR times the tolerance the integrator restarts: a
 * PSA valve that opens or closes gives 1e3 to 1e5; the concentrator's continuous inputs, changed at every 0.05 s
 * macro step, give 1e-4 to a few hundred (the compressor's flow against the bed pressure). Below it the history
 * continues with the jump's first-order part added to its slope (continue_history), and the error control deals
 * with the rest. An input that only feeds outputs (df = 0) leaves the history as it is. Returns JUMP_RESTART (also
 * when an evaluation failed), JUMP_CONTINUE (d left in dy), or JUMP_NONE. */
enum { JUMP_NONE, JUMP_CONTINUE, JUMP_RESTART };
static int input_jump_kind(O2Instance *m, const coeffs *k) {
    if (MDL_NZ > 0 || (m->s.inputs_changed & O2_CHANGED_PARAM))
        return JUMP_RESTART; /* z must be re-solved; a parameter always restarts */
    int n = m->n, order = m->s.order;
    double t = m->s.t, h = m->s.h_abs, c = h / k->alpha[order];
    double *df = m->dy, *df_end = m->d;
    if (input_jump(m, t, m->x, df) != 0) return JUMP_RESTART;
    int slope_changed = 0;
    for (int i = 0; i < MDL_NU; i++) slope_changed |= m->du[i] != m->duh[i];
    if (slope_changed) { /* the larger jump of the two ends of the next step (linear in time to first order) */
        if (input_jump(m, t + h, m->x, df_end) != 0) return JUMP_RESTART;
        for (int i = 0; i < MDL_NX; i++)
            if (fabs(df_end[i]) > fabs(df[i])) df[i] = df_end[i];
    }
    int moved = 0;
    for (int i = 0; i < MDL_NX; i++) moved |= df[i] != 0.0;
    if (!moved) return JUMP_NONE;
    for (int i = 0; i < n; i++) df[i] *= c;
    if (m->s.lu_valid && (m->lu_holds == 1 || o2_factor_iteration(m, m->s.lu_c) == 0))
        o2_splu_solve(&m->lu_iter, df);
    error_scale(m, m->x, m->scale);
    double err = rms(df, m->scale, MDL_NX, k->err_const[order]);
    int kind = err <= JUMP_RESTART_ERROR ? JUMP_CONTINUE : JUMP_RESTART;
    o2_log(m, fmi2OK, "logSolver", "input change at t=%g: the jump's error on the next step would be %g times the "
           "tolerance (order %d, h=%g): %s", t, err, order, h, kind == JUMP_CONTINUE ? "continue" : "restart");
    return kind;
}

/* Continue the history after a small input change. When the integrator has stepped past the communication point
 * t (with the old inputs), its interpolating polynomial P is re-anchored at t with the same step size and order,
 * so the new inputs act from t on: the backward differences of P at t, t - h, ..., t - k h replace D[0..k] (exact:
 * P has degree k). Then the jump's first-order part goes into the slope: D[1] += alpha_k d, d = (I - c J)^-1 c df
 * (input_jump_kind), i.e. h df for the slow components and the shift of the quasi-steady state for the stiff ones,
 * so the predictor follows the new inputs and only a second-order remainder is left to the error control (without
 * it, each continued jump left an error of up to the test's bound: measured in docs/fmu-runtime.md). Order, step
 * size, Jacobian and factor are kept. With reanchor 0 (the changed inputs do not reach the derivatives) the history
 * goes on from where it is. */
static void continue_history(O2Instance *m, const coeffs *k, int reanchor) {
    int n = m->n, order = m->s.order;
    double t = m->s.t, h = m->s.h_abs;
    if (reanchor && m->s.t_int != t) {
        double *a = m->dtmp; /* a_j = P(t - j h), then backward differences in place */
        for (int j = 0; j <= order; j++) interpolate(m, t - j * h, a + (size_t)j * n);
        for (int l = 1; l <= order; l++)
            for (int j = order; j >= l; j--) {
                double *aj = a + (size_t)j * n;
                const double *aj1 = a + (size_t)(j - 1) * n;
                for (int i = 0; i < n; i++) aj[i] = aj1[i] - aj[i];
            }
        memcpy(m->D, a, (size_t)(order + 1) * n * sizeof(double));
        m->s.t_int = t;
    }
    if (reanchor) /* dy holds d = (I - c J)^-1 c df */
        for (int i = 0; i < MDL_NX; i++) m->D[n + i] += k->alpha[order] * m->dy[i];
    m->s.inputs_changed = 0;
    m->s.n_continued++;
}

/* Modified Newton for the corrector; returns the iteration count, or -1 when it does not converge.
 * As in CVODE: the convergence rate estimate starts at 1 for a new matrix and decreases by at most NEWTON_CRDOWN
 * per iteration (rate = max(NEWTON_CRDOWN * rate, |dy_k| / |dy_k-1|)); the estimate carries over to the next
 * step, so a good predictor converges in one iteration (one right-hand side and one solve). Converged when
 * |dy| * min(1, rate) is below tol, in units of the error tolerance. */
static int newton(O2Instance *m, double t_new, double c, double tol) {
    int n = m->n;
    double *y = m->tmp, *d = m->d, *f = m->f, *dy = m->dy;
    const double *y_pred = m->y_pred, *psi = m->psi, *scale = m->scale;
    memcpy(y, y_pred, (size_t)n * sizeof(double));
    memset(d, 0, (size_t)n * sizeof(double));
    double dy_norm_old = -1.0;
    /* The factor may be for an earlier c (LU reuse): for an ODE, scaling the correction by 2 / (1 + c / lu_c)
     * makes up for most of the difference on the stiff components (as CVODE does). */
    double correction = MDL_NZ == 0 && m->s.lu_c != c ? 2.0 / (1.0 + c / m->s.lu_c) : 1.0;
    double rate = m->s.newton_rate;
    for (int k = 0; k < NEWTON_MAXITER; k++) {
        if (eval_f(m, t_new, y, f) != 0) return -1;
        for (int i = 0; i < MDL_NX; i++) dy[i] = c * f[i] - psi[i] - d[i];
        for (int i = MDL_NX; i < n; i++) dy[i] = -f[i];
        o2_splu_solve(&m->lu_iter, dy);
        if (correction != 1.0)
            for (int i = 0; i < n; i++) dy[i] *= correction;
        double dy_norm = rms(dy, scale, n, 1.0);
        if (!isfinite(dy_norm)) return -1;
        if (dy_norm_old > 0.0) {
            double ratio = dy_norm / dy_norm_old;
            if (ratio >= 1.0 || pow(ratio, NEWTON_MAXITER - k) / (1.0 - ratio) * dy_norm > tol) return -1;
            rate = NEWTON_CRDOWN * rate > ratio ? NEWTON_CRDOWN * rate : ratio;
        }
        for (int i = 0; i < n; i++) {
            y[i] += dy[i];
            d[i] += dy[i];
        }
        if (dy_norm * (rate < 1.0 ? rate : 1.0) <= tol) {
            m->s.newton_rate = rate;
            return k + 1;
        }
        dy_norm_old = dy_norm;
    }
    return -1;
}

/* The Jacobian and the factored iteration matrix for c: J is kept until a Newton iteration fails with it; the
 * factor is kept while c stays within LU_C_CHANGE of the c it was made for (Newton then converges a little
 * slower). Returns 0, or -1 when J is not finite or the matrix is singular. */
static int prepare_matrix(O2Instance *m, double t_new, double c) {
    if (!m->s.jac_valid) {
        const double *y_pred = m->y_pred;
        o2_inputs_at(m, t_new, m->u_now);
        if (o2_eval_jac(m, t_new, y_pred, y_pred + MDL_NX, m->u_now, m->J) != 0 || !o2_all_finite(m->J, m->nnz_j))
            return -1;
        m->s.n_jac++;
        m->s.jac_valid = 1;
        m->s.jac_current = 1;
        m->s.jac_age = 0;
        m->s.lu_valid = 0;
    }
    if (!m->s.lu_valid || fabs(c / m->s.lu_c - 1.0) > LU_C_CHANGE) {
        if (o2_factor_iteration(m, c) != 0) return -1;
        m->s.lu_valid = 1;
        m->s.newton_rate = 1.0; /* unknown for the new matrix */
    } else if (m->lu_holds != 1) { /* after a state restore or a z-solve: the same factor again */
        if (o2_factor_iteration(m, m->s.lu_c) != 0) return -1;
    }
    return 0;
}

/* The corrector with the matrix refreshed as needed: a failure with an old Jacobian or an old factor is retried
 * once with a fresh Jacobian factored for this c. Returns the Newton iteration count, or -1. */
static int corrector(O2Instance *m, double t_new, double c, double tol) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int n_iter = prepare_matrix(m, t_new, c) == 0 ? newton(m, t_new, c, tol) : -1;
        if (n_iter >= 0 || (m->s.jac_current && m->s.lu_valid && m->s.lu_c == c)) return n_iter;
        m->s.jac_valid = 0;
    }
    return -1;
}

/* The predictor y_pred = sum D[0..order] and psi = sum gamma_j / alpha_k D[j] for the next step. */
static void predict(O2Instance *m, const coeffs *k, int order) {
    int n = m->n;
    double *y_pred = m->y_pred, *psi = m->psi;
    memcpy(y_pred, m->D, (size_t)n * sizeof(double));
    memset(psi, 0, (size_t)n * sizeof(double));
    for (int j = 1; j <= order; j++) {
        const double *dj = m->D + (size_t)j * n;
        double gj = k->gamma[j] / k->alpha[order];
        for (int i = 0; i < n; i++) {
            y_pred[i] += dj[i];
            psi[i] += gj * dj[i];
        }
    }
}

/* An accepted step: the history D moves to t_new (y_new = y_pred + d), and after order + 1 equal steps the order
 * and step size for the next steps are chosen from the error estimates of orders k-1, k and k+1. */
static void accept(O2Instance *m, const coeffs *k, int order, double t_new, double err, double safety) {
    int n = m->n;
    m->s.n_steps++;
    m->s.n_equal_steps++;
    m->s.jac_current = 0;
    m->s.t_int = t_new;
    if (++m->s.jac_age >= JAC_MAX_AGE && m->s.newton_rate > JAC_RATE_REFRESH) m->s.jac_valid = 0;
    for (int i = 0; i < MDL_NZ; i++)
        if (fabs(m->tmp[MDL_NX + i]) > m->zmax[i]) m->zmax[i] = fabs(m->tmp[MDL_NX + i]);
    double *d = m->d;
    double *d1 = m->D + (size_t)(order + 1) * n, *d2 = m->D + (size_t)(order + 2) * n;
    for (int i = 0; i < n; i++) {
        d2[i] = d[i] - d1[i];
        d1[i] = d[i];
    }
    for (int j = order; j >= 0; j--) {
        double *dj = m->D + (size_t)j * n, *dj1 = m->D + (size_t)(j + 1) * n;
        for (int i = 0; i < n; i++) dj[i] += dj1[i];
    }
    if (m->s.n_equal_steps < order + 1) return;
    double err_m = order > 1 ? rms(m->D + (size_t)order * n, m->scale, MDL_NX, k->err_const[order - 1]) : INFINITY;
    double err_p = order < O2_BDF_MAX_ORDER ? rms(m->D + (size_t)(order + 2) * n, m->scale, MDL_NX,
                                                  k->err_const[order + 1])
                                            : INFINITY;
    double norms[3] = {err_m, err, err_p}, best = -1.0;
    int delta = 0;
    for (int j = 0; j < 3; j++) {
        double fj = norms[j] == 0.0 ? INFINITY : pow(norms[j], -1.0 / (order + j));
        if (isinf(norms[j])) fj = 0.0;
        if (fj > best) {
            best = fj;
            delta = j - 1;
        }
    }
    double factor = safety * best;
    if (factor > MAX_FACTOR) factor = MAX_FACTOR;
    if (delta == 0 && factor > 1.0 && factor < MIN_GROWTH) factor = 1.0; /* not worth a new matrix */
    m->s.order = order + delta;
    m->s.n_equal_steps = 0;
    m->s.h_want = m->s.h_abs * factor;
}

/* One step from t_int, retried with smaller steps until accepted; it ends exactly on t_stop when it would pass
 * it. Returns 0, or -1 (message logged) when the step size falls below the minimum. */
static int step(O2Instance *m, const coeffs *k, double t_stop, double newton_tol, long *attempts) {
    double t = m->s.t_int, rtol = m->s.rtol;
    for (;;) {
        if (++*attempts > MAX_STEPS_PER_CALL) {
            o2_log(m, fmi2Discard, "logStatusDiscard",
                   "integration failed at t=%.17g: more than %ld steps in one doStep", t, MAX_STEPS_PER_CALL);
            return -1;
        }
        int order = m->s.order;
        double h = m->s.h_want;
        if (h > MAX_FACTOR * m->s.h_abs) h = MAX_FACTOR * m->s.h_abs;
        double remaining = t_stop - t;
        int last = h >= remaining || remaining - h < 0.05 * h;
        if (last) h = remaining;
        if (h < 10.0 * (nextafter(t, INFINITY) - t)) {
            o2_log(m, fmi2Discard, "logStatusDiscard",
                   "integration failed at t=%.17g: the step size %g fell below the minimum (rtol=%g): the model is "
                   "too stiff or not smooth there",
                   t, h, rtol);
            return -1;
        }
        if (h != m->s.h_abs) { /* controller, growth cap or stop point: rescale the history */
            change_d(m, order, h / m->s.h_abs);
            m->s.h_abs = h;
        }
        double t_new = last ? t_stop : t + h;
        predict(m, k, order);
        error_scale(m, m->y_pred, m->scale);
        double c = h / k->alpha[order];
        /* Newton's error counts like a local error of err_const * d: as in CVODE, it must stay below a fraction
         * NEWTON_TOL of what the error test allows */
        int n_iter = corrector(m, t_new, c, newton_tol / k->err_const[order]);
        m->s.n_equal_steps = n_iter < 0 ? 0 : m->s.n_equal_steps;
        if (n_iter < 0) {
            m->s.n_newton_fail++;
            m->s.n_rejected++;
            m->s.h_want = 0.5 * m->s.h_abs;
            continue;
        }
        double safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + n_iter);
        error_scale(m, m->tmp, m->scale);
        double err = rms(m->d, m->scale, MDL_NX, k->err_const[order]);
        if (err > 1.0) {
            double factor = safety * pow(err, -1.0 / (order + 1));
            m->s.h_want = m->s.h_abs * (factor < MIN_FACTOR ? MIN_FACTOR : factor);
            m->s.n_rejected++;
            m->s.n_equal_steps = 0;
            continue;
        }
        accept(m, k, order, t_new, err, safety);
        return 0;
    }
}

int o2_bdf_do_step(O2Instance *m, double t_end) {
    int n = m->n;
    if (n == 0) return 0;
    coeffs k;
    bdf_coeffs(&k);
    if (m->s.started && m->s.inputs_changed) {
        int jump = input_jump_kind(m, &k);
        if (jump != JUMP_RESTART) continue_history(m, &k, jump == JUMP_CONTINUE);
    }
    if (!m->s.started || m->s.inputs_changed)
        if (restart(m, t_end) != 0) return -1;
    memcpy(m->uh, m->u0, (size_t)MDL_NU * sizeof(double)); /* the inputs of the steps that follow */
    memcpy(m->duh, m->du, (size_t)MDL_NU * sizeof(double));
    m->s.t_hist_comm = m->s.t_comm;
    double rtol = m->s.rtol;
    double newton_tol = 10.0 * DBL_EPSILON / rtol > NEWTON_TOL ? 10.0 * DBL_EPSILON / rtol : NEWTON_TOL;
    /* Steps run past the communication point, whose values are interpolated (no step is cut short for it),
     * except in a DAE, where z must solve g = 0 exactly there. (Not even the stop time limits them, so that the
     * results do not depend on whether the importer announced one.) */
    double t_stop = MDL_NZ > 0 ? t_end : INFINITY;
    long attempts = 0;
    while (m->s.t_int < t_end)
        if (step(m, &k, t_stop, newton_tol, &attempts) != 0) {
            m->s.started = 0; /* the next doStep restarts from x at the communication point */
            return -1;
        }
    if (m->s.t_int == t_end)
        memcpy(m->x, m->D, (size_t)n * sizeof(double));
    else
        interpolate(m, t_end, m->x);
    m->s.z_consistent = 1;
    return 0;
}
