/* Calls into the CasADi-generated model (model.c) and the Newton solvers built on them:
 * the damped Newton for the initialisation system and for the algebraic variables z (Model Exchange, input
 * changes in Co-Simulation), the Newton iteration matrix of the integrator, and directional derivatives. */
#include <math.h>
#include <string.h>

#include "model.h"
#include "o2_runtime.h"

#define O2_NEWTON_MAXITER 50

int o2_all_finite(const double *a, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

void o2_inputs_at(const O2Instance *m, double t, double *u_out) {
    for (int i = 0; i < MDL_NU; i++) u_out[i] = m->u0[i] + m->du[i] * (t - m->s.t_comm);
}

typedef int (*casadi_fn)(const casadi_real **arg, casadi_real **res, casadi_int *iw, casadi_real *w, int mem);

static int call(O2Instance *m, casadi_fn fn, int n_in, const double *const *in, int n_out, double *const *out) {
    for (int i = 0; i < n_in; i++) m->arg[i] = in[i];
    for (int i = 0; i < n_out; i++) m->res_ptr[i] = out[i];
    return fn(m->arg, m->res_ptr, m->iw, m->w, 0) == 0 ? 0 : -1;
}

/* NULL for empty vectors, as the contract says */
#define V(ptr, len) ((len) > 0 ? (ptr) : (const double *)0)

int o2_eval_dae(O2Instance *m, double t, const double *x, const double *z, const double *u, double *xdot,
                double *res) {
    const double *in[5] = {&t, V(x, MDL_NX), V(z, MDL_NZ), V(u, MDL_NU), V(m->p, MDL_NP)};
    double *out[2] = {MDL_NX ? xdot : 0, MDL_NZ ? res : 0};
    m->s.n_f++;
    return call(m, mdl_dae, 5, in, 2, out);
}

int o2_eval_jac(O2Instance *m, double t, const double *x, const double *z, const double *u, double *jval) {
    const double *in[5] = {&t, V(x, MDL_NX), V(z, MDL_NZ), V(u, MDL_NU), V(m->p, MDL_NP)};
    double *out[1] = {jval};
    return call(m, mdl_dae_jac, 5, in, 1, out);
}

int o2_eval_jac_u(O2Instance *m, double t, const double *x, const double *z, const double *u, double *juval) {
    const double *in[5] = {&t, V(x, MDL_NX), V(z, MDL_NZ), V(u, MDL_NU), V(m->p, MDL_NP)};
    double *out[1] = {juval};
    return call(m, mdl_dae_jac_u, 5, in, 1, out);
}

int o2_eval_vars(O2Instance *m, double *v) {
    const double *in[5] = {&m->s.t, V(m->x, MDL_NX), V(m->z, MDL_NZ), V(m->u, MDL_NU), V(m->p, MDL_NP)};
    double *out[1] = {v};
    return call(m, mdl_vars, 5, in, 1, out);
}

int o2_eval_vars_fwd(O2Instance *m, const double *dx, const double *dz, const double *du, double *dv) {
    const double *in[8] = {&m->s.t,      V(m->x, MDL_NX), V(m->z, MDL_NZ), V(m->u, MDL_NU),
                           V(m->p, MDL_NP), V(dx, MDL_NX), V(dz, MDL_NZ),    V(du, MDL_NU)};
    double *out[1] = {dv};
    return call(m, mdl_vars_fwd, 8, in, 1, out);
}

int o2_eval_init_guess(O2Instance *m, double *x0, double *z0) {
    const double *in[3] = {&m->s.t, V(m->u, MDL_NU), V(m->p, MDL_NP)};
    double *out[2] = {MDL_NX ? x0 : 0, MDL_NZ ? z0 : 0};
    return call(m, mdl_init_guess, 3, in, 2, out);
}

/* init_res / init_jac: xs (m->xs) are the start values, xs_on (m->tmp2, 1.0 or 0.0) marks the states whose value
 * was set before initialisation and replaces their fixed-start row. */
static int eval_init_res(O2Instance *m, const double *y, double *r) {
    const double *in[7] = {&m->s.t,         V(y, MDL_NX),     V(y + MDL_NX, MDL_NZ), V(m->u, MDL_NU),
                           V(m->p, MDL_NP), V(m->xs, MDL_NX), V(m->tmp2, MDL_NX)};
    double *out[1] = {r};
    return call(m, mdl_init_res, 7, in, 1, out);
}

static int eval_init_jac(O2Instance *m, const double *y, double *jr) {
    const double *in[7] = {&m->s.t,         V(y, MDL_NX),     V(y + MDL_NX, MDL_NZ), V(m->u, MDL_NU),
                           V(m->p, MDL_NP), V(m->xs, MDL_NX), V(m->tmp2, MDL_NX)};
    double *out[1] = {jr};
    return call(m, mdl_init_jac, 7, in, 1, out);
}

static double norm2(const double *a, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

/* True when every component of a Newton step is below the initialisation's convergence threshold. */
static int newton_step_small(const double *y, const double *dy, int n) {
    for (int i = 0; i < n; i++) {
        double nominal = i < MDL_NX ? mdl_x_nominal[i] : 1e-6;
        if (fabs(dy[i]) > 1e-10 * (fabs(y[i]) + nominal)) return 0;
    }
    return 1;
}

int o2_solve_initialisation(O2Instance *m) {
    int n = m->n;
    double *y = m->x; /* [x; z] */
    double *x0 = m->tmp, *r = m->f, *trial = m->y_pred, *rt = m->psi, *dy = m->dy;
    if (o2_eval_init_guess(m, x0, x0 + MDL_NX) != 0 || !o2_all_finite(x0, n)) {
        o2_log(m, fmi2Error, "logError", "initialisation failed at t=%g: the start values are not finite", m->s.t);
        return -1;
    }
    for (int i = 0; i < MDL_NX; i++) {
        if (m->x_set[i]) {
            x0[i] = m->x[i];
            if (!mdl_x_start_fixed[i])
                o2_log(m, fmi2Warning, "logStatusWarning",
                       "the value set for state '%s' is only a guess for the initialisation (its start is not fixed)",
                       mdl_vr_name[mdl_x_vr[i]]);
        }
        m->xs[i] = x0[i];
        m->tmp2[i] = m->x_set[i] ? 1.0 : 0.0;
    }
    memcpy(y, x0, (size_t)n * sizeof(double));
    if (n == 0) return 0;
    for (int it = 0; it < O2_NEWTON_MAXITER; it++) {
        if (eval_init_res(m, y, r) != 0 || !o2_all_finite(r, n)) {
            o2_log(m, fmi2Error, "logError", "initialisation failed at t=%g: the residual is not finite (iteration %d)",
                   m->s.t, it);
            return -1;
        }
        double rnorm = norm2(r, n);
        if (eval_init_jac(m, y, m->ij_val) != 0 || o2_splu_factor(&m->lu_init, m->ij_val) != 0) {
            o2_log(m, fmi2Error, "logError",
                   "initialisation failed at t=%g: the initialisation Jacobian is singular (iteration %d, |res|=%g); "
                   "check the start values and initial equations",
                   m->s.t, it, rnorm);
            return -1;
        }
        for (int i = 0; i < n; i++) dy[i] = -r[i];
        o2_splu_solve(&m->lu_init, dy);
        /* A Newton step below the convergence threshold means the residual is at round-off level: the line search
           below could not decrease it further, so accept the point instead of reporting a stall. */
        if (newton_step_small(y, dy, n)) {
            for (int i = 0; i < n; i++) y[i] += dy[i];
            for (int i = 0; i < MDL_NZ; i++) m->zmax[i] = fabs(m->z[i]);
            return 0;
        }
        double alpha = 1.0;
        for (;;) {
            for (int i = 0; i < n; i++) trial[i] = y[i] + alpha * dy[i];
            if (eval_init_res(m, trial, rt) == 0 && o2_all_finite(rt, n) && norm2(rt, n) <= (1.0 - 1e-4 * alpha) * rnorm)
                break;
            if (rnorm == 0.0) break;
            alpha *= 0.5;
            if (alpha < 1e-8) {
                o2_log(m, fmi2Error, "logError",
                       "initialisation failed at t=%g: the damped Newton iteration stalled (iteration %d, |res|=%g)",
                       m->s.t, it, rnorm);
                return -1;
            }
        }
        int small = alpha == 1.0 && newton_step_small(y, dy, n);
        memcpy(y, trial, (size_t)n * sizeof(double));
        if (small) {
            for (int i = 0; i < MDL_NZ; i++) m->zmax[i] = fabs(m->z[i]);
            return 0;
        }
    }
    o2_log(m, fmi2Error, "logError", "initialisation failed at t=%g: Newton did not converge in %d iterations", m->s.t,
           O2_NEWTON_MAXITER);
    return -1;
}

/* The z-solve matrix [I, 0; Jzx, Jzz] from a Jacobian, in the pattern of the iteration matrix. */
static int factor_zsolve(O2Instance *m, const double *jval) {
    memset(m->a_val, 0, (size_t)m->nnz_a * sizeof(double));
    for (int c = 0; c < m->n; c++)
        for (int e = m->j_colptr[c]; e < m->j_colptr[c + 1]; e++)
            if (m->j_row[e] >= MDL_NX) m->a_val[m->a_from_j[e]] = jval[e];
    for (int i = 0; i < MDL_NX; i++) m->a_val[m->a_diag[i]] = 1.0;
    m->lu_holds = 2;
    m->s.n_lu++;
    return o2_splu_factor(&m->lu_iter, m->a_val);
}

/* I - c J on the x rows and J on the z rows, in the pattern of the iteration matrix (a_val, CCS order). */
static void iteration_values(O2Instance *m, double c) {
    memset(m->a_val, 0, (size_t)m->nnz_a * sizeof(double));
    for (int col = 0; col < m->n; col++)
        for (int e = m->j_colptr[col]; e < m->j_colptr[col + 1]; e++)
            m->a_val[m->a_from_j[e]] = m->j_row[e] < MDL_NX ? -c * m->J[e] : m->J[e];
    for (int i = 0; i < MDL_NX; i++) m->a_val[m->a_diag[i]] += 1.0;
}

/* Factor the iteration matrix for c. Its values go straight into the LU's slots (j_slot, diag_slot: composed once
 * at instantiation); only a pivot too small for the sparse LU makes it assemble the matrix for the dense one. */
int o2_factor_iteration(O2Instance *m, double c) {
    m->s.n_lu++;
    double *val = o2_splu_values(&m->lu_iter);
    int ok = 0;
    if (val) {
        for (int e = 0; e < m->nnz_j; e++) val[m->j_slot[e]] = m->j_row[e] < MDL_NX ? -c * m->J[e] : m->J[e];
        for (int i = 0; i < MDL_NX; i++) val[m->diag_slot[i]] += 1.0;
        ok = o2_splu_factor_values(&m->lu_iter) == 0;
    }
    if (!ok) {
        iteration_values(m, c);
        ok = o2_splu_factor_dense(&m->lu_iter, m->a_val) == 0;
    }
    m->lu_holds = ok ? 1 : 0;
    if (ok) m->s.lu_c = c;
    return ok ? 0 : -1;
}

int o2_solve_z(O2Instance *m, double t, const double *u) {
    if (MDL_NZ == 0) return 0;
    int n = m->n;
    double *z = m->z, *g = m->tmp + MDL_NX, *rhs = m->dy, *zt = m->y_pred, *gt = m->psi + MDL_NX;
    double *xdot = m->tmp, *xdot_t = m->psi;
    int small_prev = 0;
    for (int it = 0; it < O2_NEWTON_MAXITER; it++) {
        if (o2_eval_dae(m, t, m->x, z, u, xdot, g) != 0 || !o2_all_finite(g, MDL_NZ)) {
            o2_log(m, fmi2Error, "logError", "algebraic loop failed at t=%g: the residual is not finite", t);
            return -1;
        }
        double gnorm = norm2(g, MDL_NZ);
        if (gnorm == 0.0) return 0;
        if (o2_eval_jac(m, t, m->x, z, u, m->jtmp) != 0 || factor_zsolve(m, m->jtmp) != 0) {
            o2_log(m, fmi2Error, "logError", "algebraic loop failed at t=%g: its Jacobian is singular (|res|=%g)", t,
                   gnorm);
            return -1;
        }
        for (int i = 0; i < MDL_NX; i++) rhs[i] = 0.0;
        for (int i = 0; i < MDL_NZ; i++) rhs[MDL_NX + i] = -g[i];
        o2_splu_solve(&m->lu_iter, rhs);
        const double *dz = rhs + MDL_NX;
        double alpha = 1.0;
        for (;;) {
            for (int i = 0; i < MDL_NZ; i++) zt[i] = z[i] + alpha * dz[i];
            if (o2_eval_dae(m, t, m->x, zt, u, xdot_t, gt) == 0 && o2_all_finite(gt, MDL_NZ) &&
                norm2(gt, MDL_NZ) <= (1.0 - 1e-4 * alpha) * gnorm)
                break;
            alpha *= 0.5;
            if (alpha < 1e-8) break; /* no decrease: judge by the step size below */
        }
        if (alpha < 1e-8) alpha = 0.0;
        int tiny = 1, small = 1;
        for (int i = 0; i < MDL_NZ; i++) {
            double step = fabs(alpha * dz[i]), ref = fabs(z[i]) + 1e-3 * m->zmax[i];
            if (step > 1e-10 * ref) tiny = 0;
            if (step > 1e-7 * ref) small = 0;
            if (alpha > 0.0) z[i] = zt[i];
        }
        if ((tiny && alpha == 1.0) || (small && small_prev) || (alpha == 0.0 && small)) return 0;
        if (alpha == 0.0) {
            o2_log(m, fmi2Error, "logError", "algebraic loop failed at t=%g: the damped Newton iteration stalled (|res|=%g)",
                   t, gnorm);
            return -1;
        }
        small_prev = small;
    }
    (void)n;
    o2_log(m, fmi2Error, "logError", "algebraic loop failed at t=%g: Newton did not converge in %d iterations", t,
           O2_NEWTON_MAXITER);
    return -1;
}

int o2_directional_derivative(O2Instance *m, const double *dx, const double *du, double *dv) {
    double *dz = m->dy + MDL_NX;
    if (MDL_NZ > 0) {
        double *rhs = m->dy;
        if (o2_eval_jac(m, m->s.t, m->x, m->z, m->u, m->jtmp) != 0 ||
            (MDL_NU > 0 && o2_eval_jac_u(m, m->s.t, m->x, m->z, m->u, m->jutmp) != 0)) {
            o2_log(m, fmi2Error, "logError", "directional derivative failed at t=%g: Jacobian evaluation failed",
                   m->s.t);
            return -1;
        }
        memset(rhs, 0, (size_t)m->n * sizeof(double));
        for (int c = 0; c < MDL_NX; c++)
            if (dx[c] != 0.0)
                for (int e = m->j_colptr[c]; e < m->j_colptr[c + 1]; e++)
                    if (m->j_row[e] >= MDL_NX) rhs[m->j_row[e]] -= m->jtmp[e] * dx[c];
        for (int c = 0; c < MDL_NU; c++)
            if (du[c] != 0.0)
                for (int e = m->ju_colptr[c]; e < m->ju_colptr[c + 1]; e++)
                    if (m->ju_row[e] >= MDL_NX) rhs[m->ju_row[e]] -= m->jutmp[e] * du[c];
        if (factor_zsolve(m, m->jtmp) != 0) {
            o2_log(m, fmi2Error, "logError", "directional derivative failed at t=%g: the algebraic loop is singular",
                   m->s.t);
            return -1;
        }
        o2_splu_solve(&m->lu_iter, rhs);
    }
    if (o2_eval_vars_fwd(m, dx, dz, du, dv) != 0) {
        o2_log(m, fmi2Error, "logError", "directional derivative failed at t=%g", m->s.t);
        return -1;
    }
    return 0;
}
